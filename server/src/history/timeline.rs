//! The timeline: revisions, positions and events in one order, and the
//! people in it.

use std::collections::HashMap;

use accord_store::HistoryFilter;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Auth;
use crate::clock::iso;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;

/// Which part of the timeline: filters and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only entries about this element.
    pub element: Option<String>,
    /// Only entries of this entity: revisions by its delegates, its positions, events by its delegates.
    pub entity: Option<String>,
    /// Only entries by this user (their id).
    pub user: Option<String>,
    /// Only entries at or after this UTC time, e.g. 2026-05-01T12:00:00Z (400 `invalid` otherwise); a revision counts by its `start`.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Only entries before this UTC time (exclusive), in the same form as `from`.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// The `next` of the previous page (400 `invalid` when it is not one).
    pub cursor: Option<String>,
    /// Most entries to return, clamped to 1..500 (default 100).
    pub limit: Option<i64>,
}

/// `GET /api/v1/drafts/{id}/history`: revisions, positions and chair actions
/// in one chronological timeline, filtered and paged by cursor.
pub async fn history(
    app: &AppState,
    auth: &Auth,
    id: String,
    q: HistoryQuery,
) -> Result<History, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let filter = HistoryFilter {
        element_id: q.element.clone(),
        entity_code: q.entity.clone(),
        user_id: q.user.clone(),
        from: q
            .from
            .as_deref()
            .map(crate::clock::parse_time)
            .transpose()?,
        to: q.to.as_deref().map(crate::clock::parse_time).transpose()?,
    };
    // Cursor "time.kind.id": kinds are ordered revision (0), position (1),
    // event (2) at the same time.
    let cursor = match &q.cursor {
        Some(c) => {
            let parts: Option<Vec<i64>> = c.split('.').map(|p| p.parse().ok()).collect();
            match parts.unwrap_or_default()[..] {
                [t, k, id] if (0..3).contains(&k) => Some((t, k, id)),
                _ => return Err(ApiError::bad_request("invalid", "not a history cursor")),
            }
        }
        None => None,
    };
    let after = |kind: i64| {
        cursor.map(|(t, k, id)| match kind.cmp(&k) {
            std::cmp::Ordering::Less => (t, i64::MAX),
            std::cmp::Ordering::Equal => (t, id),
            std::cmp::Ordering::Greater => (t, i64::MIN),
        })
    };
    let labels: HashMap<String, String> = app
        .store
        .all_elements(&draft.id)
        .await?
        .into_iter()
        .map(|e| (e.id, e.label))
        .collect();
    let names: HashMap<String, String> = app
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let name = |u: &Option<String>| {
        u.as_ref()
            .map(|u| names.get(u).cloned().unwrap_or_else(|| u.clone()))
    };
    let mut items: Vec<(i64, i64, i64, HistoryItem)> = Vec::new();
    for r in app
        .store
        .revisions(&draft.id, &filter, after(0), limit)
        .await?
    {
        items.push((
            r.start_at,
            0,
            r.id,
            HistoryItem::Revision(HistoryRevision {
                kind: RevisionKind::Revision,
                id: r.id,
                label: labels.get(&r.element_id).cloned(),
                element: r.element_id,
                user: r.user_id,
                user_name: r.user_name,
                entity: r.entity_code,
                start: iso(r.start_at),
                end: iso(r.end_at),
                changes: r.changes,
                inserted: r.inserted,
                deleted: r.deleted,
                before: serde_json::from_str(&r.before_heads).unwrap_or_default(),
                after: r
                    .after_heads
                    .as_deref()
                    .and_then(|h| serde_json::from_str(h).ok()),
                doc: r.doc_id,
            }),
        ));
    }
    for p in app
        .store
        .positions_between(&draft.id, &filter, after(1), limit)
        .await?
    {
        items.push((
            p.at,
            1,
            p.seq,
            HistoryItem::Position(HistoryPosition {
                kind: PositionKind::Position,
                seq: p.seq,
                label: labels.get(&p.element_id).cloned(),
                element: p.element_id,
                entity: p.entity_code,
                position: p.stance,
                note: p.note,
                wording: p.wording,
                user_name: name(&p.user_id),
                user: p.user_id,
                by_silence: p.by_silence,
                text_hash: p.text_hash,
                at: iso(p.at),
            }),
        ));
    }
    for e in app
        .store
        .events_between(&draft.id, &filter, after(2), limit)
        .await?
    {
        items.push((
            e.at,
            2,
            e.seq,
            HistoryItem::Event(HistoryEvent {
                kind: EventKind::Event,
                seq: e.seq,
                label: e.element_id.as_ref().and_then(|id| labels.get(id)).cloned(),
                element: e.element_id,
                user_name: name(&e.user_id),
                user: e.user_id,
                entity: e.entity_code,
                data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
                at: iso(e.at),
                event_type: e.kind,
            }),
        ));
    }
    items.sort_by_key(|(t, k, id, _)| (*t, *k, *id));
    items.truncate(limit as usize);
    let next = if items.len() as i64 == limit {
        items.last().map(|(t, k, id, _)| format!("{t}.{k}.{id}"))
    } else {
        None
    };
    Ok(History {
        draft: draft.id,
        items: items.into_iter().map(|(.., item)| item).collect(),
        next,
        server_time: iso(app.consensus.clock.now()),
    })
}

/// `GET /api/v1/drafts/{id}/history/people`: everyone who appears in the
/// draft's history (for the timeline's filter by user).
pub async fn people(app: &AppState, auth: &Auth, id: String) -> Result<HistoryPeople, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
    let people = app
        .store
        .history_people(&draft.id)
        .await?
        .into_iter()
        .map(|(user, name, entity)| {
            let name = name.unwrap_or_else(|| match user.as_str() {
                "server" => "Accord".to_owned(),
                _ => user.clone(),
            });
            HistoryPerson { user, name, entity }
        })
        .collect();
    Ok(HistoryPeople {
        draft: draft.id,
        people,
        server_time: iso(app.consensus.clock.now()),
    })
}

/// A page of the draft's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub draft: String,
    pub items: Vec<HistoryItem>,
    /// The `cursor` for the next page; null when this page holds fewer than `limit` entries (a full page may be followed by an empty one).
    #[schema(required = true)]
    pub next: Option<String>,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// A timeline entry, by `kind`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "kind", mapping(
    ("revision" = "#/components/schemas/HistoryRevision"),
    ("position" = "#/components/schemas/HistoryPosition"),
    ("event" = "#/components/schemas/HistoryEvent"),
)))]
pub enum HistoryItem {
    Revision(HistoryRevision),
    Position(HistoryPosition),
    Event(HistoryEvent),
}

// The `kind` of a [`HistoryRevision`].
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevisionKind {
    Revision,
}

// The `kind` of a [`HistoryPosition`].
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PositionKind {
    Position,
}

// The `kind` of a [`HistoryEvent`].
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Event,
}

/// One user's run of edits on one element: no pause of 30 seconds or more between that user's changes, and no named version of the draft in between (naming a version closes every open run).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryRevision {
    #[schema(inline)]
    pub kind: RevisionKind,
    /// The revision's id (increasing).
    pub id: i64,
    pub element: String,
    /// The element's label now.
    #[schema(required = true)]
    pub label: Option<String>,
    /// The author's user id.
    pub user: String,
    /// The author's name; null if the user is unknown.
    #[schema(required = true)]
    pub user_name: Option<String>,
    /// The author's entity, if any.
    #[schema(required = true)]
    pub entity: Option<String>,
    /// When its first changes were committed (RFC 3339, UTC, with milliseconds).
    #[schema(format = DateTime)]
    pub start: String,
    /// When its last changes were committed.
    #[schema(format = DateTime)]
    pub end: String,
    /// How many of the author's changes it holds.
    #[schema(minimum = 1)]
    pub changes: i64,
    /// Characters inserted.
    #[schema(minimum = 0)]
    pub inserted: i64,
    /// Characters deleted.
    #[schema(minimum = 0)]
    pub deleted: i64,
    /// The element document's heads before the revision (empty if none were recorded before it): with `after`, for `heads:` in compareVersions.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub before: Vec<String>,
    /// The document's heads after its latest changes that gave them; null if none did.
    #[schema(pattern = "^[0-9a-f]{64}$", required = true)]
    pub after: Option<Vec<String>>,
    /// The element's document id.
    pub doc: String,
}

/// A position recorded in the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPosition {
    #[schema(inline)]
    pub kind: PositionKind,
    /// Ledger order.
    pub seq: i64,
    pub element: String,
    /// The element's label now.
    #[schema(required = true)]
    pub label: Option<String>,
    pub entity: String,
    // As stored: one of the stances.
    #[schema(value_type = accord_consensus::Stance)]
    pub position: String,
    /// A reservation's note, an objection's reason, or a comment.
    #[schema(required = true)]
    pub note: Option<String>,
    /// An objection's proposed wording.
    #[schema(required = true)]
    pub wording: Option<String>,
    /// Who recorded it; null for support recorded by silence.
    #[schema(required = true)]
    pub user: Option<String>,
    #[schema(required = true)]
    pub user_name: Option<String>,
    /// Support recorded when a silence procedure ended without objection.
    pub by_silence: bool,
    /// The hash of the text the position was given on.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
}

/// A chair action or another event of the draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    #[schema(inline)]
    pub kind: EventKind,
    /// Event order.
    pub seq: i64,
    /// What happened.
    #[serde(rename = "type")]
    #[schema(schema_with = event_type)]
    pub event_type: String,
    /// The element concerned; null for the draft as a whole.
    #[schema(required = true)]
    pub element: Option<String>,
    /// The element's label now; null without an element.
    #[schema(required = true)]
    pub label: Option<String>,
    /// Who did it; null for the server (e.g. a silence procedure ending).
    #[schema(required = true)]
    pub user: Option<String>,
    #[schema(required = true)]
    pub user_name: Option<String>,
    /// The entity of who did it, if any.
    #[schema(required = true)]
    pub entity: Option<String>,
    /// Details by `type`, e.g. `{"silence": 3, "deadline": 1767225600000}` for `silence_started`, `{"version": 2, "name": "Rev.1"}` for `version_named`; for `positions_stale` (an edit changed the element's text while these entities' latest positions were given on the text before it: they no longer count; `user` and `entity` are the edit's author, from the element's latest revision) `{"stale": ["IOM", "ILO"], "revision": 12, "text_hash": "…", "previous_text_hash": "…"}`, the entities in the draft's order; for the `amendment_…` types `{"amendment": 4, "entity": "IOM", …}` with the proposal's `original`, `text` and `reason` where they apply (`entity` is the proposing entity for `amendment_accepted` and `amendment_rejected`, else the acting one); `{"comment": 7, "reply_to": null, "text": "…", "mentions": {"entities": ["IOM"], "users": []}}` for `comment_added`; `{"mode": "amendments", "label": "(a)"}` for `element_mode`.
    #[schema(value_type = Object)]
    pub data: Value,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
}

/// The kinds of event the timeline shows (`HistoryEvent.type`).
pub const EVENT_TYPES: [&str; 28] = [
    "draft_created",
    "draft_updated",
    "element_added",
    "element_renamed",
    "element_moved",
    "element_archived",
    "element_restored",
    "silence_started",
    "silence_broken",
    "silence_fired",
    "silence_cancelled",
    "element_adopted",
    "element_reopened",
    "version_named",
    "draft_adopted",
    "positions_stale",
    "element_mode",
    "amendment_proposed",
    "amendment_sponsored",
    "amendment_unsponsored",
    "amendment_objected",
    "amendment_objection_withdrawn",
    "amendment_reanchored",
    "amendment_withdrawn",
    "amendment_accepted",
    "amendment_rejected",
    "comment_added",
    "comment_resolved",
];

/// `HistoryEvent.type` (a field's `schema_with` loses its doc comment: the
/// description is here).
fn event_type() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("What happened."))
        .enum_values(Some(EVENT_TYPES))
        .build()
}

/// Everyone who appears in a draft's history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryPeople {
    pub draft: String,
    #[schema(inline)]
    pub people: Vec<HistoryPerson>,
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// One person of a draft's history, for one entity.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryPerson {
    /// The user's id (`server` for Accord itself).
    pub user: String,
    pub name: String,
    /// The entity they acted for (null for chairs, reviewers and Accord).
    #[schema(required = true)]
    pub entity: Option<String>,
}
