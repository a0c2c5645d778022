//! First start: the server's actor id and the scenario's draft.

use accord_model::{IndexElement, Scenario, new_element_doc, new_index_doc};
use accord_protocol::DocumentId;
use accord_store::{DocKind, Entity, NewChangeData, NewDocument, NewDraft, NewElement, Store};
use automerge::{ActorId, Automerge};

/// The reference scenario, built in so `accord serve` works from any folder.
pub const REFERENCE_SCENARIO: &str = include_str!("../../scenarios/hld2013.toml");

/// The actor id the server writes with, the same across restarts.
pub async fn server_actor(store: &Store) -> anyhow::Result<ActorId> {
    if let Some(hex) = store.get_meta("server_actor").await? {
        return Ok(hex.as_str().try_into()?);
    }
    let actor = ActorId::random();
    store
        .set_meta("server_actor", &actor.to_hex_string())
        .await?;
    Ok(actor)
}

/// Loads the scenario when the database holds no draft yet. Everything is
/// written in one transaction, so a crash mid-way leaves nothing half made.
pub async fn load_scenario_once(
    store: &Store,
    actor: &ActorId,
    scenario_text: &str,
) -> anyhow::Result<bool> {
    if !store.drafts().await?.is_empty() {
        return Ok(false);
    }
    let scenario = Scenario::parse(scenario_text)?;
    let entities: Vec<Entity> = scenario
        .entities
        .iter()
        .map(|e| Entity {
            code: e.code.clone(),
            name: e.name.clone(),
        })
        .collect();
    store.upsert_entities(&entities).await?;

    let mut elements = Vec::new();
    let mut index_entries = Vec::new();
    for spec in &scenario.elements {
        let id = DocumentId::random();
        let doc = new_element_doc(actor, &spec.text)?;
        let element_id = short_id();
        index_entries.push(IndexElement {
            id: element_id.clone(),
            label: spec.label.clone(),
            doc: id.url(),
        });
        elements.push(NewElement {
            id: element_id,
            label: spec.label.clone(),
            doc: new_document(id, DocKind::Element, &doc),
        });
    }
    let index_id = DocumentId::random();
    let index = new_index_doc(
        actor,
        &scenario.draft.title,
        &scenario.draft.preamble,
        &index_entries,
    )?;
    store
        .create_draft(&NewDraft {
            id: short_id(),
            title: scenario.draft.title.clone(),
            preamble: scenario.draft.preamble.clone(),
            index: new_document(index_id, DocKind::Index, &index),
            elements,
            entity_codes: entities.into_iter().map(|e| e.code).collect(),
        })
        .await?;
    Ok(true)
}

fn new_document(id: DocumentId, kind: DocKind, doc: &Automerge) -> NewDocument {
    NewDocument {
        id: id.to_string(),
        kind,
        changes: doc
            .get_changes(&[])
            .iter()
            .map(|c| NewChangeData {
                hash: c.hash().0.to_vec(),
                data: c.raw_bytes().to_vec(),
            })
            .collect(),
    }
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
