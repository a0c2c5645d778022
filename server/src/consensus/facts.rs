//! The facts of a draft the rules are asked about: texts (live or stored),
//! participants, the ledger, silences and adoptions.

use std::collections::HashMap;

use accord_consensus::{ElementFacts, ElementSummary, PositionEntry, Progress, Silence, Stance};
use accord_protocol::DocumentId;
use accord_store::{DraftRow, ElementRow, SilenceRow};

use crate::AppState;
pub use crate::documents::ElementText;
use crate::error::ApiError;

/// Everything the rules need about a draft.
pub struct DraftFacts {
    pub draft: DraftRow,
    pub participants: Vec<(String, String)>,
    pub elements: Vec<ElementRow>,
    pub texts: HashMap<String, ElementText>,
    pub ledger: Vec<PositionEntry>,
    pub silences: HashMap<String, SilenceRow>,
    /// The most recent silence that ended, per element (fired, broken or
    /// cancelled), for the chair's board.
    pub ended_silences: HashMap<String, SilenceRow>,
    /// Users' entities, to say who broke a silence.
    pub user_entities: HashMap<String, String>,
    pub adoptions: HashMap<String, accord_store::AdoptionRow>,
    pub user_names: HashMap<String, String>,
}

impl DraftFacts {
    pub(crate) fn participant_codes(&self) -> Vec<String> {
        self.participants.iter().map(|(c, _)| c.clone()).collect()
    }

    pub(crate) fn silence(&self, element_id: &str) -> Option<Silence> {
        self.silences.get(element_id).map(silence_rule)
    }

    pub(crate) fn summary(&self, element: &ElementRow) -> ElementSummary {
        let text = self.texts.get(&element.id);
        let silence = self.silence(&element.id);
        let facts = ElementFacts {
            element_id: &element.id,
            text: text.map_or("", |t| t.text.as_str()),
            text_hash: text.map_or("", |t| t.text_hash.as_str()),
            adopted: self.adoptions.contains_key(&element.id),
            silence: silence.as_ref(),
            ledger: &self.ledger,
        };
        accord_consensus::summarize(&facts, &self.participant_codes())
    }

    pub(crate) fn summaries(&self) -> Vec<ElementSummary> {
        self.elements.iter().map(|e| self.summary(e)).collect()
    }

    pub(crate) fn progress(&self, summaries: &[ElementSummary]) -> Progress {
        accord_consensus::progress(summaries, self.draft.adopted_at.is_some())
    }

    pub(crate) fn element(&self, element_id: &str) -> Result<&ElementRow, ApiError> {
        self.elements
            .iter()
            .find(|e| e.id == element_id)
            .ok_or_else(|| ApiError::not_found("the element"))
    }

    /// The user's name (the id of a user no longer known).
    pub(crate) fn name_of(&self, id: &str) -> String {
        self.user_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    /// [`Self::name_of`] the user, if any.
    pub(crate) fn user_name(&self, id: &Option<String>) -> Option<String> {
        id.as_deref().map(|id| self.name_of(id))
    }
}

/// A stored silence as the rules see it.
pub(super) fn silence_rule(s: &SilenceRow) -> Silence {
    Silence {
        id: s.id,
        deadline: s.deadline,
        started_at: s.started_at,
        locked_text_hash: s.locked_text_hash.clone(),
        // Written by the server only; unreadable counts as none confirmed,
        // the safe side (stale objections then stand at the deadline).
        confirmed_stale: serde_json::from_str(&s.confirmed_stale).unwrap_or_default(),
    }
}

/// A ledger row as the rules see it (`None` for a stance the rules do not
/// know, which the store's constraint rules out).
pub fn ledger_entry(p: accord_store::PositionRow) -> Option<PositionEntry> {
    Some(PositionEntry {
        seq: p.seq,
        element_id: p.element_id,
        entity: p.entity_code,
        stance: Stance::parse(&p.stance)?,
        note: p.note,
        wording: p.wording,
        text_hash: p.text_hash,
        user_id: p.user_id,
        by_silence: p.by_silence,
        at: p.at,
    })
}

/// Reads a draft's facts; texts come from the committed documents.
pub async fn gather(app: &AppState, draft: DraftRow) -> Result<DraftFacts, ApiError> {
    let elements = app.store.elements(&draft.id).await?;
    let texts = live_texts(app, &elements).await?;
    let facts = gather_with(&app.store, draft, elements, texts).await?;
    for entry in &facts.ledger {
        app.consensus.note_hash(&entry.element_id, &entry.text_hash);
    }
    Ok(facts)
}

/// The elements' texts from the documents in memory (committed state).
pub(super) async fn live_texts(
    app: &AppState,
    elements: &[ElementRow],
) -> Result<HashMap<String, ElementText>, ApiError> {
    let mut texts = HashMap::new();
    for element in elements {
        let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
        texts.insert(element.id.clone(), ElementText::live(&app.docs, doc).await?);
    }
    Ok(texts)
}

/// The elements' texts read from storage (for the CLI, without a server).
pub async fn stored_texts(
    store: &accord_store::Store,
    elements: &[ElementRow],
) -> anyhow::Result<HashMap<String, ElementText>> {
    let mut texts = HashMap::new();
    for element in elements {
        let id: DocumentId = element.doc_id.parse()?;
        texts.insert(element.id.clone(), ElementText::stored(store, id).await?);
    }
    Ok(texts)
}

/// The draft's participating entities (code, name) and its ledger, up to
/// time `until` (inclusive) when given.
pub async fn participants_and_ledger(
    store: &accord_store::Store,
    draft_id: &str,
    until: Option<i64>,
) -> Result<(Vec<(String, String)>, Vec<PositionEntry>), accord_store::Error> {
    let participants = store
        .draft_entities(draft_id)
        .await?
        .into_iter()
        .map(|e| (e.code, e.name))
        .collect();
    let ledger = store
        .positions(draft_id)
        .await?
        .into_iter()
        .filter(|p| until.is_none_or(|until| p.at <= until))
        .filter_map(ledger_entry)
        .collect();
    Ok((participants, ledger))
}

/// A draft's facts around the given texts.
pub async fn gather_with(
    store: &accord_store::Store,
    draft: DraftRow,
    elements: Vec<ElementRow>,
    texts: HashMap<String, ElementText>,
) -> Result<DraftFacts, accord_store::Error> {
    let (participants, ledger) = participants_and_ledger(store, &draft.id, None).await?;
    let mut silences = HashMap::new();
    let mut ended_silences: HashMap<String, SilenceRow> = HashMap::new();
    // Newest first: the first ended one per element is the latest.
    for silence in store.silences(&draft.id).await? {
        if silence.state == "active" {
            silences.insert(silence.element_id.clone(), silence);
        } else {
            ended_silences
                .entry(silence.element_id.clone())
                .or_insert(silence);
        }
    }
    let adoptions = store
        .adoptions(&draft.id)
        .await?
        .into_iter()
        .map(|a| (a.element_id.clone(), a))
        .collect();
    let users = store.users().await?;
    let user_entities = users
        .iter()
        .filter_map(|u| Some((u.id.clone(), u.entity_code.clone()?)))
        .collect();
    let user_names = users.into_iter().map(|u| (u.id, u.name)).collect();
    Ok(DraftFacts {
        draft,
        participants,
        elements,
        texts,
        ledger,
        silences,
        ended_silences,
        adoptions,
        user_names,
        user_entities,
    })
}
