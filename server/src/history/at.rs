//! A version resolved (heads, a named version or a time) and the draft read
//! at it, with the consensus annex as it stood then.

use std::collections::HashMap;

use accord_consensus::{ElementFacts, PositionEntry, Silence, Stance, Standing, Status};
use accord_protocol::DocumentId;
use accord_store::DraftRow;
use automerge::{Automerge, ChangeHash, ReadDoc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Auth;
use crate::clock::iso;
use crate::consensus::ElementStatus;
use crate::drafts::EntityView;
use crate::drafts::access::visible_draft;
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

/// Which version to read: a named one, the state at a time, or given heads (one at most; none is the current version).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A named version, by its name (404 `not_found` when the draft has none by that name). Name at most one of `version`, `at` and `heads` (400 `invalid` otherwise); none means the current version.
    pub version: Option<String>,
    /// A UTC time with a `Z`, e.g. 2026-05-01T12:00:00Z (400 `invalid` otherwise): every document as committed by then, the ledger as it stood then.
    #[param(format = DateTime)]
    pub at: Option<String>,
    /// A JSON object: document id → list of hex change hashes, e.g. `{"3xK…": ["9f2c…"]}` (the `heads` of a named version). A document it leaves out is read at its first changes. The ledger is read as of now.
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

pub(super) fn parse_heads_list(json: &str) -> Result<Vec<ChangeHash>, ApiError> {
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

pub(super) fn parse_heads_map(json: &str) -> Result<HashMap<String, Vec<ChangeHash>>, ApiError> {
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
pub(crate) fn initial_heads(doc: &Automerge) -> Vec<ChangeHash> {
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
) -> Result<Annex, ApiError> {
    let then = ConsensusAt::load(store, draft, at).await?;
    let mut out = Vec::new();
    for element in elements {
        let summary = then.summary(element);
        let positions = summary
            .cells
            .iter()
            .map(|c| {
                let e = c.latest.as_ref();
                AnnexPosition {
                    entity: c.entity.clone(),
                    standing: c.standing,
                    position: e.map(|e| e.stance),
                    note: e.and_then(|e| e.note.clone()),
                    wording: e.and_then(|e| e.wording.clone()),
                    by_silence: e.is_some_and(|e| e.by_silence),
                    at: e.map(|e| iso(e.at)),
                }
            })
            .collect();
        out.push(AnnexElement {
            element: element.id.clone(),
            label: element.label.clone(),
            status: ElementStatus::from(&summary.status),
            deadline: match summary.status {
                Status::UnderSilence { deadline } => Some(iso(deadline)),
                _ => None,
            },
            positions,
        });
    }
    Ok(Annex {
        as_of: iso(at),
        entities: then
            .participants
            .iter()
            .map(|(code, name)| EntityView {
                code: code.clone(),
                name: name.clone(),
            })
            .collect(),
        elements: out,
    })
}

/// `GET /api/v1/drafts/{id}/read?version=|at=|heads=`: the whole draft at a
/// version, with the consensus annex as the ledger stood then.
pub async fn read(
    app: &AppState,
    auth: &Auth,
    id: String,
    q: VersionQuery,
) -> Result<DraftAtVersion, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
    let version = resolve(app, &draft, &q).await?;
    let (index, elements) = read_draft(&Reader::Live(app), &draft, &version).await?;
    let annex = annex_at(&app.store, &draft, &elements, version.at).await?;
    Ok(DraftAtVersion {
        draft: draft.id,
        version: VersionPoint::of(&version),
        title: index.title,
        preamble: index.preamble,
        elements: elements
            .iter()
            .map(|e| ElementAtVersion {
                id: e.id.clone(),
                label: e.label.clone(),
                doc_url: e.doc.url(),
                text: e.text.clone(),
                text_hash: accord_model::text_hash(&e.text),
                heads: accord_model::heads_hex(&e.heads),
            })
            .collect(),
        annex,
        server_time: iso(app.consensus.clock.now()),
    })
}

/// The version an answer is for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionPoint {
    /// The named version's name; for `at`, that time (RFC 3339, UTC, with milliseconds); `heads` for given heads; `current` for now.
    pub label: String,
    /// The time the version stands for: when it was named, the `at` asked for, or now (server time). The ledger is read as of then.
    #[schema(format = DateTime)]
    pub at: String,
}

impl VersionPoint {
    pub fn of(version: &Version) -> Self {
        Self {
            label: version.label.clone(),
            at: iso(version.at),
        }
    }
}

/// The draft as it read at a version.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftAtVersion {
    /// The draft's id.
    pub draft: String,
    pub version: VersionPoint,
    pub title: String,
    pub preamble: String,
    /// The elements of that version, in its order (archived ones left out).
    pub elements: Vec<ElementAtVersion>,
    pub annex: Annex,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// An element as it read at the version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ElementAtVersion {
    pub id: String,
    pub label: String,
    /// An automerge-repo document URL.
    #[schema(pattern = "^automerge:")]
    pub doc_url: String,
    pub text: String,
    /// SHA-256 of the text as UTF-8, lowercase hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
    /// The element document's heads the text was read at.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub heads: Vec<String>,
}

/// The consensus annex: statuses and positions as the ledger stood at `as_of`, for the texts of the version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Annex {
    /// The version's time.
    #[schema(format = DateTime)]
    pub as_of: String,
    /// The participating entities.
    pub entities: Vec<EntityView>,
    pub elements: Vec<AnnexElement>,
}

/// An element's consensus state at the version.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnnexElement {
    /// The element's id.
    pub element: String,
    pub label: String,
    pub status: ElementStatus,
    /// The silence deadline while `under_silence`; null otherwise.
    #[schema(format = DateTime, required = true)]
    pub deadline: Option<String>,
    /// One per participating entity.
    pub positions: Vec<AnnexPosition>,
}

/// A participating entity's standing on an element as the ledger stood then, with its latest position (null fields when it had none).
#[derive(Debug, Serialize, ToSchema)]
pub struct AnnexPosition {
    pub entity: String,
    pub standing: Standing,
    #[schema(required = true)]
    pub position: Option<Stance>,
    #[schema(required = true)]
    pub note: Option<String>,
    #[schema(required = true)]
    pub wording: Option<String>,
    pub by_silence: bool,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime, required = true)]
    pub at: Option<String>,
}
