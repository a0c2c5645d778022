//! Amendments as the API shows them: each located in its element's text
//! (now, or at a time), with its sponsors and objections.

use std::collections::{HashMap, HashSet};

use accord_protocol::DocumentId;
use accord_store::{AmendmentRow, AmendmentStand, DraftRow, ElementRow};
use automerge::ChangeHash;

use super::anchor::{self, Located};
use super::answers::{
    Amendment, AmendmentList, AmendmentObjection, AmendmentQuery, AmendmentState,
};
use crate::AppState;
use crate::auth::Auth;
use crate::clock::{iso, parse_time};
use crate::drafts::access::visible_draft;
use crate::error::ApiError;
use crate::history::initial_heads;

/// A draft with what amendment and comment commands check against.
pub(super) struct Room {
    pub draft: DraftRow,
    participants: HashSet<String>,
    /// Every element, archived ones too.
    elements: Vec<ElementRow>,
    adopted: HashSet<String>,
}

impl Room {
    pub async fn load(app: &AppState, draft: &DraftRow) -> Result<Room, ApiError> {
        let participants = app
            .store
            .draft_entities(&draft.id)
            .await?
            .into_iter()
            .map(|e| e.code)
            .collect();
        let elements = app.store.all_elements(&draft.id).await?;
        let adopted = app
            .store
            .adoptions(&draft.id)
            .await?
            .into_iter()
            .map(|a| a.element_id)
            .collect();
        Ok(Room {
            draft: draft.clone(),
            participants,
            elements,
            adopted,
        })
    }

    pub fn participates(&self, entity: &str) -> bool {
        self.participants.contains(entity)
    }

    pub fn adopted(&self, element_id: &str) -> bool {
        self.adopted.contains(element_id)
    }

    /// A live (not archived) element of the draft, else 404.
    pub fn live_element(&self, id: &str) -> Result<&ElementRow, ApiError> {
        self.elements
            .iter()
            .find(|e| e.id == id && !e.archived)
            .ok_or_else(|| ApiError::not_found("the element"))
    }

    pub fn element(&self, id: &str) -> Option<&ElementRow> {
        self.elements.iter().find(|e| e.id == id)
    }
}

/// Users' names by id.
pub(super) async fn names(app: &AppState) -> Result<HashMap<String, String>, ApiError> {
    Ok(app
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect())
}

/// Locates each `(original, start, end)` in the element document `doc` at
/// `heads` (`None`: now; empty: the document's first state, before any
/// heads were recorded for it). `None` for a passage whose cursors are not
/// the document's.
pub(super) async fn locate_all(
    app: &AppState,
    doc: DocumentId,
    heads: Option<Vec<ChangeHash>>,
    passages: Vec<(String, String, String)>,
) -> Result<Vec<Option<Located>>, ApiError> {
    if passages.is_empty() {
        return Ok(Vec::new());
    }
    let located = app
        .docs
        .inspect(doc, move |d| {
            let heads = heads.map(|h| if h.is_empty() { initial_heads(d) } else { h });
            passages
                .iter()
                .map(|(original, start, end)| {
                    anchor::locate(d, heads.as_deref(), original, start, end)
                })
                .collect::<Vec<_>>()
        })
        .await?
        .ok_or_else(|| ApiError::internal("the element document is missing"))?;
    Ok(located)
}

/// What shows one amendment: its row, stands and where it is.
struct Parts<'a> {
    row: &'a AmendmentRow,
    label: &'a str,
    sponsors: Vec<&'a AmendmentStand>,
    objections: Vec<&'a AmendmentStand>,
    located: Option<Located>,
    names: &'a HashMap<String, String>,
}

fn build(p: Parts<'_>, at: Option<i64>) -> Amendment {
    let row = p.row;
    let decided = row.decided_at.is_some_and(|d| at.is_none_or(|at| d <= at));
    let pending = !decided;
    let state = match (pending, row.state.as_str(), &p.located) {
        (true, _, Some(l)) if !l.intact => AmendmentState::Conflict,
        (true, _, None) => AmendmentState::Conflict,
        (true, _, _) => AmendmentState::Open,
        (false, "accepted", _) => AmendmentState::Accepted,
        (false, "rejected", _) => AmendmentState::Rejected,
        (false, _, _) => AmendmentState::Withdrawn,
    };
    let name = |id: &str| p.names.get(id).cloned();
    Amendment {
        id: row.id,
        element_id: row.element_id.clone(),
        label: p.label.to_owned(),
        entity: row.entity_code.clone(),
        user: row.user_id.clone(),
        user_name: name(&row.user_id),
        state,
        original: match (&p.located, pending) {
            (Some(l), true) => l.current.clone(),
            _ => row.original.clone(),
        },
        anchored_original: row.original.clone(),
        text: row.text.clone(),
        reason: row.reason.clone(),
        from: p.located.as_ref().filter(|_| pending).map(|l| l.from),
        to: p.located.as_ref().filter(|_| pending).map(|l| l.to),
        start_cursor: row.start_cursor.clone(),
        end_cursor: row.end_cursor.clone(),
        sponsors: p.sponsors.iter().map(|s| s.entity_code.clone()).collect(),
        objections: p
            .objections
            .iter()
            .map(|o| AmendmentObjection {
                entity: o.entity_code.clone(),
                reason: o.reason.clone().unwrap_or_default(),
                user_name: name(&o.user_id),
                at: iso(o.at),
            })
            .collect(),
        created_at: iso(row.created_at),
        anchored_at: iso(row.anchored_at),
        decided_at: row.decided_at.filter(|_| decided).map(iso),
        decided_by: row.decided_by.as_deref().filter(|_| decided).and_then(name),
        decision_reason: row.decision_reason.clone().filter(|_| decided),
        applied_change: row.applied_change.clone().filter(|_| decided),
    }
}

/// A draft's amendments (filtered), each located: now, or at `at` in the
/// text of then (for `at`, those proposed by then, in the state they had).
async fn amendments(
    app: &AppState,
    draft: &DraftRow,
    rows: Vec<AmendmentRow>,
    at: Option<i64>,
) -> Result<Vec<Amendment>, ApiError> {
    let room = Room::load(app, draft).await?;
    let names = names(app).await?;
    let (sponsors, objections) = app.store.amendment_stands(&draft.id).await?;
    let heads_then: Option<HashMap<String, String>> = match at {
        Some(at) => Some(
            app.store
                .draft_heads_at(&draft.id, at)
                .await?
                .into_iter()
                .collect(),
        ),
        None => None,
    };
    let rows: Vec<AmendmentRow> = rows
        .into_iter()
        .filter(|r| at.is_none_or(|at| r.created_at <= at))
        .collect();
    // Locate the pending ones, one document read per element.
    let mut by_element: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let pending = row.decided_at.is_none_or(|d| at.is_some_and(|at| d > at));
        if pending {
            by_element
                .entry(row.element_id.as_str())
                .or_default()
                .push(i);
        }
    }
    let mut located: Vec<Option<Located>> = vec![None; rows.len()];
    for (element_id, indices) in by_element {
        let Some(element) = room.element(element_id) else {
            continue;
        };
        let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
        let heads = match &heads_then {
            None => None,
            // Not edited by then: as it was created.
            Some(then) => Some(match then.get(&element.doc_id) {
                Some(json) => parse_heads_json(json)?,
                None => Vec::new(),
            }),
        };
        let passages = indices
            .iter()
            .map(|&i| {
                let r = &rows[i];
                (
                    r.original.clone(),
                    r.start_cursor.clone(),
                    r.end_cursor.clone(),
                )
            })
            .collect();
        for (i, l) in indices
            .into_iter()
            .zip(locate_all(app, doc, heads, passages).await?)
        {
            located[i] = l;
        }
    }
    let stands = |all: &'_ [AmendmentStand], id: i64| -> Vec<usize> {
        all.iter()
            .enumerate()
            .filter(|(_, s)| s.amendment_id == id && at.is_none_or(|at| s.at <= at))
            .map(|(i, _)| i)
            .collect()
    };
    Ok(rows
        .iter()
        .zip(located)
        .map(|(row, located)| {
            let label = room
                .element(&row.element_id)
                .map_or("", |e| e.label.as_str());
            build(
                Parts {
                    row,
                    label,
                    sponsors: stands(&sponsors, row.id)
                        .into_iter()
                        .map(|i| &sponsors[i])
                        .collect(),
                    objections: stands(&objections, row.id)
                        .into_iter()
                        .map(|i| &objections[i])
                        .collect(),
                    located,
                    names: &names,
                },
                at,
            )
        })
        .collect())
}

fn parse_heads_json(json: &str) -> Result<Vec<ChangeHash>, ApiError> {
    let hex: Vec<String> = serde_json::from_str(json).map_err(ApiError::internal)?;
    hex.iter()
        .map(|h| h.parse().map_err(ApiError::internal))
        .collect()
}

/// One amendment as it is now.
pub(super) async fn one(app: &AppState, draft_id: &str, id: i64) -> Result<Amendment, ApiError> {
    let draft = app
        .store
        .draft(draft_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the draft"))?;
    let row = app
        .store
        .amendment(draft_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("the amendment"))?;
    amendments(app, &draft, vec![row], None)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("the amendment"))
}

/// `GET /api/v1/drafts/{id}/amendments?element=&state=&at=`.
pub async fn list(
    app: &AppState,
    auth: &Auth,
    draft_id: String,
    query: AmendmentQuery,
) -> Result<AmendmentList, ApiError> {
    let draft = visible_draft(app, &auth.user, &draft_id).await?;
    let at = query.at.as_deref().map(parse_time).transpose()?;
    let rows = app
        .store
        .amendments(&draft.id)
        .await?
        .into_iter()
        .filter(|r| query.element.as_ref().is_none_or(|e| *e == r.element_id))
        .collect();
    let all = amendments(app, &draft, rows, at).await?;
    Ok(AmendmentList {
        draft: draft.id,
        at: at.map(iso),
        amendments: all
            .into_iter()
            .filter(|a| query.state.is_none_or(|s| s == a.state))
            .collect(),
        server_time: iso(app.consensus.clock.now()),
    })
}

/// The amendments of a draft pending at `at` (`None`: now), located in
/// the text of then (for the compilation text and the exports), oldest
/// first: their state is `open` or `conflict`.
pub async fn pending_at(
    app: &AppState,
    draft: &DraftRow,
    at: Option<i64>,
) -> Result<Vec<Amendment>, ApiError> {
    let rows = app.store.amendments(&draft.id).await?;
    Ok(amendments(app, draft, rows, at)
        .await?
        .into_iter()
        .filter(|a| matches!(a.state, AmendmentState::Open | AmendmentState::Conflict))
        .collect())
}
