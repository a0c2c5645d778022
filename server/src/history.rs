//! Revision history (docs/design.md §4): the timeline of revisions,
//! positions and chair actions; reading the draft at any version (heads,
//! named version or time) with the consensus annex as it stood then;
//! comparing two versions; attributing the text to its authors.
//!
//! A version is every document's heads. "The draft at time T" uses the
//! heads stored with each commit (`doc_heads`); the texts come from the
//! document actors (`Docs::inspect`), reading at those heads.

use std::collections::HashMap;
use std::sync::Arc;

use accord_consensus::{ElementFacts, PositionEntry, Silence, Status};
use accord_model::authorship::{self, CharOp, Piece};
use accord_protocol::DocumentId;
use accord_store::{DraftRow, HistoryFilter};
use automerge::{ActorId, Automerge, ChangeHash, ObjId, ReadDoc};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{Params, PathParams, visible_draft};
use crate::auth::Auth;
use crate::clock::iso;
use crate::error::ApiError;

/// A resolved version: its label, its time, every document's heads.
#[derive(Debug, Clone)]
pub struct Version {
    pub label: String,
    /// Server time the version stands for (unix ms): the ledger is read as
    /// of then.
    pub at: i64,
    /// Document id → heads; a document missing here did not exist yet (or,
    /// for "now", is read at its current heads).
    pub heads: Option<HashMap<String, Vec<ChangeHash>>>,
}

/// Where documents are read: the live actors, or documents loaded from
/// storage (the CLI, without a server).
pub enum Reader<'a> {
    Live(&'a AppState),
    Stored(&'a HashMap<DocumentId, Automerge>),
}

impl Reader<'_> {
    pub async fn inspect<T: Send + 'static>(
        &self,
        id: DocumentId,
        f: impl FnOnce(&Automerge) -> T + Send + 'static,
    ) -> Result<Option<T>, ApiError> {
        match self {
            Reader::Live(app) => Ok(app.docs.inspect(id, f).await?),
            Reader::Stored(docs) => Ok(docs.get(&id).map(f)),
        }
    }
}

/// Who stands behind an actor: user id, name, entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub user: Option<String>,
    pub name: String,
    pub entity: Option<String>,
}

impl Author {
    fn json(&self) -> Value {
        json!({ "user": self.user, "user_name": self.name, "entity": self.entity })
    }
}

/// Maps actors to their owners (`actors`) and users to names and entities.
pub struct Authors {
    owners: HashMap<ActorId, String>,
    users: HashMap<String, (String, Option<String>)>,
}

impl Authors {
    pub async fn load(app: &AppState) -> Result<Self, ApiError> {
        let owners = app
            .store
            .actor_owners()
            .await?
            .into_iter()
            .map(|(actor, user)| (ActorId::from(actor), user))
            .collect();
        let users = app
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, (u.name, u.entity_code)))
            .collect();
        Ok(Self { owners, users })
    }

    pub fn of(&self, actor: &ActorId) -> Author {
        match self.owners.get(actor) {
            Some(user) if user == crate::bootstrap::SERVER_USER => Author {
                user: None,
                name: "Accord".into(),
                entity: None,
            },
            Some(user) => {
                let (name, entity) = self
                    .users
                    .get(user)
                    .cloned()
                    .unwrap_or_else(|| (user.clone(), None));
                Author {
                    user: Some(user.clone()),
                    name,
                    entity,
                }
            }
            None => Author {
                user: None,
                name: "Accord".into(),
                entity: None,
            },
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A named version.
    pub version: Option<String>,
    /// RFC 3339 UTC: everything committed by then.
    pub at: Option<String>,
    /// JSON object: document id → hex heads.
    pub heads: Option<String>,
}

/// Resolves `version`, `at` or `heads` (one at most; none = now).
pub async fn resolve(
    app: &AppState,
    draft: &DraftRow,
    q: &VersionQuery,
) -> Result<Version, ApiError> {
    resolve_in(&app.store, app.consensus.clock.now(), draft, q).await
}

/// [`resolve`] against a store, with `now` for the current version.
pub async fn resolve_in(
    store: &accord_store::Store,
    now: i64,
    draft: &DraftRow,
    q: &VersionQuery,
) -> Result<Version, ApiError> {
    let given = [q.version.is_some(), q.at.is_some(), q.heads.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given > 1 {
        return Err(ApiError::bad_request(
            "invalid",
            "name one of version, at or heads",
        ));
    }
    if let Some(name) = &q.version {
        let row = store
            .versions(&draft.id)
            .await?
            .into_iter()
            .find(|v| &v.name == name)
            .ok_or_else(|| ApiError::not_found("that named version"))?;
        return Ok(Version {
            label: row.name.clone(),
            at: row.created_at,
            heads: Some(parse_heads_map(&row.heads)?),
        });
    }
    if let Some(at) = &q.at {
        let at = crate::clock::parse_time(at)?;
        let mut heads = HashMap::new();
        for (doc, json) in store.draft_heads_at(&draft.id, at).await? {
            heads.insert(doc, parse_heads_list(&json)?);
        }
        return Ok(Version {
            label: iso(at),
            at,
            heads: Some(heads),
        });
    }
    if let Some(json) = &q.heads {
        return Ok(Version {
            label: "heads".into(),
            at: now,
            heads: Some(parse_heads_map(json)?),
        });
    }
    Ok(Version {
        label: "current".into(),
        at: now,
        heads: None,
    })
}

fn parse_heads_list(json: &str) -> Result<Vec<ChangeHash>, ApiError> {
    let hex: Vec<String> = serde_json::from_str(json)
        .map_err(|_| ApiError::bad_request("invalid", "heads are a list of hex change hashes"))?;
    hex.iter()
        .map(|h| {
            h.parse().map_err(|_| {
                ApiError::bad_request("invalid", format!("{h:?} is not a change hash"))
            })
        })
        .collect()
}

fn parse_heads_map(json: &str) -> Result<HashMap<String, Vec<ChangeHash>>, ApiError> {
    let map: HashMap<String, Value> = serde_json::from_str(json).map_err(|_| {
        ApiError::bad_request("invalid", "heads are an object: document id → hex heads")
    })?;
    map.into_iter()
        .map(|(doc, heads)| Ok((doc, parse_heads_list(&heads.to_string())?)))
        .collect()
}

/// An element as it read at a version.
#[derive(Debug, Clone)]
pub struct ElementAt {
    pub id: String,
    pub label: String,
    pub doc: DocumentId,
    pub text: String,
    pub heads: Vec<ChangeHash>,
}

/// Reads the draft at a version: the index (title, preamble, elements in
/// order) and each element's text.
pub async fn read_draft(
    reader: &Reader<'_>,
    draft: &DraftRow,
    version: &Version,
) -> Result<(accord_model::IndexState, Vec<ElementAt>), ApiError> {
    let index_id: DocumentId = draft.index_doc.parse().map_err(ApiError::internal)?;
    let index_heads = version
        .heads
        .as_ref()
        .map(|h| h.get(&draft.index_doc).cloned());
    let index = reader
        .inspect(index_id, move |doc: &Automerge| {
            let heads = match index_heads {
                None => return accord_model::read_index(doc).map_err(|e| e.to_string()),
                Some(Some(heads)) => heads,
                Some(None) => initial_heads(doc),
            };
            let at = doc.fork_at(&heads).map_err(|e| e.to_string())?;
            accord_model::read_index(&at).map_err(|e| e.to_string())
        })
        .await?
        .ok_or_else(|| ApiError::internal("the index document is missing"))?
        .map_err(|e| ApiError::bad_request("invalid", format!("cannot read that version: {e}")))?;
    let mut elements = Vec::new();
    for entry in &index.elements {
        let doc = DocumentId::from_url(&entry.doc).map_err(ApiError::internal)?;
        let wanted = version
            .heads
            .as_ref()
            .map(|h| h.get(&doc.to_string()).cloned());
        let read = reader
            .inspect(doc, move |d: &Automerge| {
                let text = accord_model::text_obj(d).map_err(|e| e.to_string())?;
                let heads = match wanted {
                    None => d.get_heads(),
                    Some(Some(heads)) => heads,
                    Some(None) => initial_heads(d),
                };
                let value = d.text_at(&text, &heads).map_err(|e| e.to_string())?;
                Ok::<_, String>((value, heads))
            })
            .await?
            .ok_or_else(|| ApiError::internal("an element document is missing"))?
            .map_err(|e| {
                ApiError::bad_request("invalid", format!("cannot read that version: {e}"))
            })?;
        elements.push(ElementAt {
            id: entry.id.clone(),
            label: entry.label.clone(),
            doc,
            text: read.0,
            heads: read.1,
        });
    }
    Ok((index, elements))
}

/// The heads of a document's first changes (those without dependencies):
/// its state at a version that predates any heads recorded for it.
fn initial_heads(doc: &Automerge) -> Vec<ChangeHash> {
    doc.get_changes(&[])
        .iter()
        .filter(|c| c.deps().is_empty())
        .map(|c| c.hash())
        .collect()
}

/// A draft's consensus facts as they stood at a time: participants, the
/// ledger up to then, silences and adoptions.
pub struct ConsensusAt {
    pub at: i64,
    pub participants: Vec<(String, String)>,
    pub ledger: Vec<PositionEntry>,
    silences: Vec<accord_store::SilenceRow>,
    adoptions: Vec<accord_store::AdoptionRow>,
}

impl ConsensusAt {
    pub async fn load(
        store: &accord_store::Store,
        draft: &DraftRow,
        at: i64,
    ) -> Result<Self, ApiError> {
        let (participants, ledger) =
            crate::consensus::participants_and_ledger(store, &draft.id, Some(at)).await?;
        Ok(Self {
            at,
            participants,
            ledger,
            silences: store.silences(&draft.id).await?,
            adoptions: store.adoptions(&draft.id).await?,
        })
    }

    /// The element's status and matrix row then, for its text then.
    pub fn summary(&self, element: &ElementAt) -> accord_consensus::ElementSummary {
        let at = self.at;
        let hash = accord_model::text_hash(&element.text);
        let silence = self
            .silences
            .iter()
            .find(|s| {
                s.element_id == element.id
                    && s.started_at <= at
                    && s.ended_at.is_none_or(|end| end > at)
            })
            .map(|s| Silence {
                id: s.id,
                deadline: s.deadline,
                started_at: s.started_at,
                locked_text_hash: s.locked_text_hash.clone(),
                // Only the status is read here, not what firing would do.
                confirmed_stale: Vec::new(),
            });
        let adopted = self.adoptions.iter().any(|a| {
            a.element_id == element.id && a.adopted_at <= at && a.reopened_at.is_none_or(|r| r > at)
        });
        let facts = ElementFacts {
            element_id: &element.id,
            text: &element.text,
            text_hash: &hash,
            adopted,
            silence: silence.as_ref(),
            ledger: &self.ledger,
        };
        let codes: Vec<String> = self.participants.iter().map(|(c, _)| c.clone()).collect();
        accord_consensus::summarize(&facts, &codes)
    }
}

/// The consensus annex as the ledger stood at `at`, for these texts.
pub async fn annex_at(
    store: &accord_store::Store,
    draft: &DraftRow,
    elements: &[ElementAt],
    at: i64,
) -> Result<Value, ApiError> {
    let then = ConsensusAt::load(store, draft, at).await?;
    let mut out = Vec::new();
    for element in elements {
        let summary = then.summary(element);
        let positions: Vec<Value> = summary
            .cells
            .iter()
            .map(|c| {
                let e = c.latest.as_ref();
                json!({
                    "entity": c.entity,
                    "standing": match c.standing {
                        accord_consensus::Standing::Current => "current",
                        accord_consensus::Standing::Stale => "stale",
                        accord_consensus::Standing::NoResponse => "no_response",
                    },
                    "position": e.map(|e| e.stance.as_str()),
                    "note": e.and_then(|e| e.note.clone()),
                    "wording": e.and_then(|e| e.wording.clone()),
                    "by_silence": e.is_some_and(|e| e.by_silence),
                    "at": e.map(|e| iso(e.at)),
                })
            })
            .collect();
        out.push(json!({
            "element": element.id,
            "label": element.label,
            "status": summary.status.as_str(),
            "deadline": match summary.status { Status::UnderSilence { deadline } => Some(iso(deadline)), _ => None },
            "positions": positions,
        }));
    }
    Ok(json!({
        "as_of": iso(at),
        "entities": then.participants.iter().map(|(c, n)| json!({ "code": c, "name": n })).collect::<Vec<_>>(),
        "elements": out,
    }))
}

/// `GET /api/v1/drafts/{id}/read?version=|at=|heads=`: the whole draft at a
/// version, with the consensus annex as the ledger stood then.
pub async fn read(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<VersionQuery>,
) -> Result<Json<Value>, ApiError> {
    let draft = visible_draft(&app, &auth.user, &id).await?;
    let version = resolve(&app, &draft, &q).await?;
    let (index, elements) = read_draft(&Reader::Live(&app), &draft, &version).await?;
    let annex = annex_at(&app.store, &draft, &elements, version.at).await?;
    Ok(Json(json!({
        "draft": draft.id,
        "version": { "label": version.label, "at": iso(version.at) },
        "title": index.title,
        "preamble": index.preamble,
        "elements": elements.iter().map(|e| json!({
            "id": e.id,
            "label": e.label,
            "doc_url": e.doc.url(),
            "text": e.text,
            "text_hash": accord_model::text_hash(&e.text),
            "heads": accord_model::heads_hex(&e.heads),
        })).collect::<Vec<_>>(),
        "annex": annex,
        "server_time": iso(app.consensus.clock.now()),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// The older side: "now", a version name ("name:Rev.1" or just the
    /// name), or a time ("at:2026-05-01T12:00:00Z").
    pub from: String,
    /// The newer side, the same way ("now" when absent).
    pub to: Option<String>,
    /// "char" (default): exactly the characters typed and removed; "word":
    /// widened to whole words ([`authorship::words`]).
    pub granularity: Option<String>,
}

fn side(spec: &str) -> VersionQuery {
    if spec == "now" || spec.is_empty() {
        VersionQuery::default()
    } else if let Some(at) = spec.strip_prefix("at:") {
        VersionQuery {
            at: Some(at.into()),
            ..Default::default()
        }
    } else if let Some(heads) = spec.strip_prefix("heads:") {
        VersionQuery {
            heads: Some(heads.into()),
            ..Default::default()
        }
    } else {
        VersionQuery {
            version: Some(spec.strip_prefix("name:").unwrap_or(spec).into()),
            ..Default::default()
        }
    }
}

/// `GET /api/v1/drafts/{id}/compare?from=…&to=…`: per element, the
/// insertions and deletions between two versions, each with its author.
pub async fn compare(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<CompareQuery>,
) -> Result<Json<Value>, ApiError> {
    let draft = visible_draft(&app, &auth.user, &id).await?;
    let by_word = match q.granularity.as_deref() {
        None | Some("char") => false,
        Some("word") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid",
                format!("granularity is \"char\" or \"word\", not {other:?}"),
            ));
        }
    };
    let from = resolve(&app, &draft, &side(&q.from)).await?;
    let to = resolve(&app, &draft, &side(q.to.as_deref().unwrap_or("now"))).await?;
    let (_, old) = read_draft(&Reader::Live(&app), &draft, &from).await?;
    let (_, new) = read_draft(&Reader::Live(&app), &draft, &to).await?;
    let authors = Arc::new(Authors::load(&app).await?);
    let mut out = Vec::new();
    // Elements in the newer version's order, then any that only the older had.
    let mut order: Vec<(String, String, DocumentId)> = new
        .iter()
        .map(|e| (e.id.clone(), e.label.clone(), e.doc))
        .collect();
    for e in &old {
        if !order.iter().any(|(id, ..)| *id == e.id) {
            order.push((e.id.clone(), e.label.clone(), e.doc));
        }
    }
    for (element_id, label, doc) in order {
        let old_heads = old
            .iter()
            .find(|e| e.id == element_id)
            .map(|e| e.heads.clone());
        let new_heads = new
            .iter()
            .find(|e| e.id == element_id)
            .map(|e| e.heads.clone());
        let authors = authors.clone();
        let deleting = deleting_hashes(&app, doc).await?;
        let pieces = app
            .docs
            .inspect(doc, move |d: &Automerge| {
                compare_doc(d, old_heads, new_heads, &deleting, &authors, by_word)
            })
            .await?
            .ok_or_else(|| ApiError::internal("an element document is missing"))?
            .map_err(ApiError::internal)?;
        let changed = pieces.iter().any(|p| p["op"] != "equal");
        out.push(json!({
            "id": element_id,
            "label": label,
            "in_from": old.iter().any(|e| e.id == element_id),
            "in_to": new.iter().any(|e| e.id == element_id),
            "changed": changed,
            "diff": pieces,
        }));
    }
    Ok(Json(json!({
        "draft": draft.id,
        "from": { "label": from.label, "at": iso(from.at) },
        "to": { "label": to.label, "at": iso(to.at) },
        "elements": out,
        "server_time": iso(app.consensus.clock.now()),
    })))
}

/// The changes of a document that may remove characters.
async fn deleting_hashes(app: &AppState, doc: DocumentId) -> Result<Vec<ChangeHash>, ApiError> {
    Ok(app
        .store
        .deleting_changes(&doc.to_string())
        .await?
        .into_iter()
        .filter_map(|h| ChangeHash::try_from(h.as_slice()).ok())
        .collect())
}

/// Decodes only the given changes (those that delete).
fn changes_by_hash(d: &Automerge, hashes: &[ChangeHash]) -> Vec<automerge::Change> {
    hashes
        .iter()
        .filter_map(|h| d.get_change_by_hash(h))
        .collect()
}

fn compare_doc(
    d: &Automerge,
    old_heads: Option<Vec<ChangeHash>>,
    new_heads: Option<Vec<ChangeHash>>,
    deleting: &[ChangeHash],
    authors: &Authors,
    by_word: bool,
) -> Result<Vec<Value>, String> {
    let text = accord_model::text_obj(d).map_err(|e| e.to_string())?;
    let chars = |heads: &Option<Vec<ChangeHash>>| -> Result<Vec<CharOp>, String> {
        match heads {
            Some(h) => authorship::char_ops(d, &text, Some(h)).map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    };
    let old = chars(&old_heads)?;
    let new = chars(&new_heads)?;
    // Who removed what: the delete operations of the changes that delete
    // (a character gone between the versions was removed by one of them).
    let deleted = authorship::deletions(&changes_by_hash(d, deleting));
    let pieces = authorship::compare(
        &old,
        &new,
        |i| deleted.get(&old[i].op).map(|del| authors.of(&del.by)),
        |i| Some(authors.of(&new[i].op.1)),
    );
    let pieces = if by_word {
        authorship::words(pieces)
    } else {
        pieces
    };
    Ok(pieces
        .into_iter()
        .map(|p| match p {
            Piece::Equal(text) => json!({ "op": "equal", "text": text }),
            Piece::Insert(text, who) => {
                let mut v = json!({ "op": "insert", "text": text });
                merge_author(&mut v, who.as_ref());
                v
            }
            Piece::Delete(text, who) => {
                let mut v = json!({ "op": "delete", "text": text });
                merge_author(&mut v, who.as_ref());
                v
            }
        })
        .collect())
}

fn merge_author(v: &mut Value, who: Option<&Author>) {
    let author = who
        .map(Author::json)
        .unwrap_or_else(|| json!({ "user": null, "user_name": null, "entity": null }));
    if let (Some(map), Value::Object(extra)) = (v.as_object_mut(), author) {
        map.extend(extra);
    }
}

/// `GET /api/v1/drafts/{id}/elements/{eid}/attribution?version=|at=|heads=`:
/// the element's text in spans, each with the user and entity who wrote it,
/// and the deletions each author made (up to that version).
pub async fn attribution(
    State(app): State<AppState>,
    auth: Auth,
    PathParams((id, element_id)): PathParams<(String, String)>,
    Params(q): Params<VersionQuery>,
) -> Result<Json<Value>, ApiError> {
    let draft = visible_draft(&app, &auth.user, &id).await?;
    let element = app
        .store
        .all_elements(&draft.id)
        .await?
        .into_iter()
        .find(|e| e.id == element_id)
        .ok_or_else(|| ApiError::not_found("the element"))?;
    let version = resolve(&app, &draft, &q).await?;
    let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
    let wanted = version
        .heads
        .as_ref()
        .map(|h| h.get(&element.doc_id).cloned());
    let authors = Arc::new(Authors::load(&app).await?);
    let result = app
        .docs
        .inspect(doc, move |d: &Automerge| attribute_doc(d, wanted, &authors))
        .await?
        .ok_or_else(|| ApiError::internal("the element document is missing"))?
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "draft": draft.id,
        "element": element.id,
        "label": element.label,
        "version": { "label": version.label, "at": iso(version.at) },
        "text": result.0,
        "spans": result.1,
        "deletions": result.2,
        "server_time": iso(app.consensus.clock.now()),
    })))
}

type Attributed = (String, Vec<Value>, Vec<Value>);

fn attribute_doc(
    d: &Automerge,
    wanted: Option<Option<Vec<ChangeHash>>>,
    authors: &Authors,
) -> Result<Attributed, String> {
    let text: ObjId = accord_model::text_obj(d).map_err(|e| e.to_string())?;
    let heads = match wanted {
        None => d.get_heads(),
        Some(Some(h)) => h,
        Some(None) => initial_heads(d),
    };
    let chars = authorship::char_ops(d, &text, Some(&heads)).map_err(|e| e.to_string())?;
    let spans = authorship::runs(chars.iter().map(|c| (c.ch.clone(), authors.of(&c.op.1))));
    let full: String = chars.iter().map(|c| c.ch.as_str()).collect();
    // Deletions by the changes up to the version, in document order per
    // author (the document itself when the version is now: forking replays
    // every change).
    let mut now = d.get_heads();
    now.sort();
    let mut at = heads.clone();
    at.sort();
    let changes: Vec<automerge::Change> = if at == now {
        d.get_changes(&[])
    } else {
        d.fork_at(&heads)
            .map_err(|e| e.to_string())?
            .get_changes(&[])
    };
    let values = authorship::insertions(&changes);
    let deleted = authorship::deletions(&changes);
    let mut by_author: Vec<(Author, Vec<(u64, String)>)> = Vec::new();
    let mut entries: Vec<(&authorship::OpRef, &authorship::Deletion)> = deleted.iter().collect();
    entries.sort_by(|a, b| (a.0.0, a.0.1.to_bytes()).cmp(&(b.0.0, b.0.1.to_bytes())));
    for (op, del) in entries {
        let Some(ch) = values.get(op) else { continue };
        let author = authors.of(&del.by);
        match by_author.iter_mut().find(|(a, _)| *a == author) {
            Some((_, list)) => list.push((op.0, ch.clone())),
            None => by_author.push((author, vec![(op.0, ch.clone())])),
        }
    }
    let deletions = by_author
        .into_iter()
        .map(|(author, chars)| {
            let text: String = chars.iter().map(|(_, c)| c.as_str()).collect();
            let mut v = json!({ "count": chars.len(), "text": text });
            merge_author(&mut v, Some(&author));
            v
        })
        .collect();
    let spans = spans
        .into_iter()
        .map(|(text, author)| {
            let mut v = json!({ "text": text });
            merge_author(&mut v, Some(&author));
            v
        })
        .collect();
    Ok((full, spans, deletions))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub element: Option<String>,
    pub entity: Option<String>,
    pub user: Option<String>,
    /// RFC 3339 UTC, inclusive.
    pub from: Option<String>,
    /// RFC 3339 UTC, exclusive.
    pub to: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/drafts/{id}/history`: revisions, positions and chair actions
/// in one chronological timeline, filtered and paged by cursor.
pub async fn history(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let draft = visible_draft(&app, &auth.user, &id).await?;
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
    let mut items: Vec<(i64, i64, i64, Value)> = Vec::new();
    for r in app
        .store
        .revisions(&draft.id, &filter, after(0), limit)
        .await?
    {
        items.push((r.start_at, 0, r.id, json!({
            "kind": "revision",
            "id": r.id,
            "element": r.element_id,
            "label": labels.get(&r.element_id),
            "user": r.user_id,
            "user_name": r.user_name,
            "entity": r.entity_code,
            "start": iso(r.start_at),
            "end": iso(r.end_at),
            "changes": r.changes,
            "inserted": r.inserted,
            "deleted": r.deleted,
            "before": serde_json::from_str::<Value>(&r.before_heads).unwrap_or(Value::Null),
            "after": r.after_heads.as_deref().and_then(|h| serde_json::from_str::<Value>(h).ok()),
            "doc": r.doc_id,
        })));
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
            json!({
                "kind": "position",
                "seq": p.seq,
                "element": p.element_id,
                "label": labels.get(&p.element_id),
                "entity": p.entity_code,
                "position": p.stance,
                "note": p.note,
                "wording": p.wording,
                "user": p.user_id,
                "user_name": name(&p.user_id),
                "by_silence": p.by_silence,
                "text_hash": p.text_hash,
                "at": iso(p.at),
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
            json!({
                "kind": "event",
                "seq": e.seq,
                "type": e.kind,
                "element": e.element_id,
                "label": e.element_id.as_ref().and_then(|id| labels.get(id)),
                "user": e.user_id,
                "user_name": name(&e.user_id),
                "entity": e.entity_code,
                "data": serde_json::from_str::<Value>(&e.data).unwrap_or(Value::Null),
                "at": iso(e.at),
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
    Ok(Json(json!({
        "draft": draft.id,
        "items": items.into_iter().map(|(.., v)| v).collect::<Vec<_>>(),
        "next": next,
        "server_time": iso(app.consensus.clock.now()),
    })))
}

/// `GET /api/v1/drafts/{id}/history/people`: everyone who appears in the
/// draft's history (for the timeline's filter by user).
pub async fn people(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let draft = visible_draft(&app, &auth.user, &id).await?;
    let people: Vec<Value> = app
        .store
        .history_people(&draft.id)
        .await?
        .into_iter()
        .map(|(user, name, entity)| {
            let name = name.unwrap_or_else(|| match user.as_str() {
                "server" => "Accord".to_owned(),
                _ => user.clone(),
            });
            json!({ "user": user, "name": name, "entity": entity })
        })
        .collect();
    Ok(Json(json!({
        "draft": draft.id,
        "people": people,
        "server_time": iso(app.consensus.clock.now()),
    })))
}

/// An element's text changed (the consensus projector saw it): records a
/// `positions_stale` event if that made current positions stale (see
/// [`record_positions_stale`]); a failure is logged, the projection goes on.
pub(crate) async fn positions_stale(
    app: &AppState,
    draft_id: &str,
    element_id: &str,
    changed: &crate::documents::TextChanged,
    old_hash: Option<&str>,
) {
    let doc = changed.doc.to_string();
    let recorded = record_positions_stale(
        app,
        draft_id,
        element_id,
        &doc,
        old_hash,
        &changed.text_hash,
    );
    if let Err(e) = recorded.await {
        tracing::warn!(element = %element_id, error = e.message, "recording stale positions failed");
    }
}

/// When an element's text changed from `old_hash` to `new_hash` while some
/// entities' latest positions on it were given on the old text, those
/// positions are now stale: records a `positions_stale` event on the
/// element, by the author of its latest edit, with data `{"stale": [entity
/// codes, in the draft's order], "revision": id or null, "text_hash": new,
/// "previous_text_hash": old}`. Nothing when no current position went
/// stale.
///
/// `old_hash` is `None` for the first change the projector sees of a
/// document since the server started: the text before it is then taken to
/// be the one the latest position on the element was given on, unless a
/// `positions_stale` event since that position already told of it.
pub(crate) async fn record_positions_stale(
    app: &AppState,
    draft_id: &str,
    element_id: &str,
    doc_id: &str,
    old_hash: Option<&str>,
    new_hash: &str,
) -> Result<(), ApiError> {
    // Each entity's latest position on the element (the ledger is in seq
    // order), and the latest of all.
    let mut latest: HashMap<String, String> = HashMap::new();
    let mut last: Option<(String, i64)> = None;
    for p in app.store.positions(draft_id).await? {
        if p.element_id == element_id {
            last = Some((p.text_hash.clone(), p.at));
            latest.insert(p.entity_code, p.text_hash);
        }
    }
    let old_hash = match (old_hash, &last) {
        (Some(old), _) => old.to_owned(),
        (None, None) => return Ok(()),
        (None, Some((hash, at))) => {
            let filter = HistoryFilter {
                element_id: Some(element_id.to_owned()),
                ..HistoryFilter::default()
            };
            let told = app
                .store
                .events_between(draft_id, &filter, Some((*at, i64::MIN)), 1000)
                .await?
                .into_iter()
                .any(|e| {
                    e.kind == "positions_stale"
                        && serde_json::from_str::<Value>(&e.data)
                            .is_ok_and(|d| d["previous_text_hash"] == hash.as_str())
                });
            if told {
                return Ok(());
            }
            hash.clone()
        }
    };
    if old_hash == new_hash {
        return Ok(());
    }
    let stale: Vec<String> = app
        .store
        .draft_entities(draft_id)
        .await?
        .into_iter()
        .map(|e| e.code)
        .filter(|code| latest.get(code).is_some_and(|h| *h == old_hash))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let revision = app.store.latest_revision(doc_id).await?;
    let event = accord_store::NewEvent {
        kind: "positions_stale".into(),
        element_id: Some(element_id.to_owned()),
        user_id: revision.as_ref().map(|r| r.user_id.clone()),
        entity_code: revision.as_ref().and_then(|r| r.entity_code.clone()),
        data: json!({
            "stale": stale,
            "revision": revision.as_ref().map(|r| r.id),
            "text_hash": new_hash,
            "previous_text_hash": old_hash,
        })
        .to_string(),
    };
    app.store
        .record_event_at(draft_id, &event, app.consensus.clock.now())
        .await?;
    Ok(())
}
