//! First start: the server's actor id and the scenario's draft.

use accord_model::{IndexElement, Scenario, new_element_doc, new_index_doc};
use accord_protocol::DocumentId;
use accord_store::{DocKind, Entity, NewChangeData, NewDocument, NewDraft, NewElement, Store};
use automerge::{ActorId, Automerge};

/// The owner recorded for the server's own actor id.
pub const SERVER_USER: &str = "server";

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

/// The id of this installation's storage, the same across restarts (and
/// shared by instances on one database).
pub async fn storage_id(store: &Store) -> anyhow::Result<String> {
    if let Some(id) = store.get_meta("storage_id").await? {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    store.set_meta("storage_id", &id).await?;
    Ok(id)
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
    import_scenario(store, actor, &scenario).await?;
    Ok(true)
}

/// Creates a draft from a scenario: its entities are added (or renamed) and
/// all take part. Returns the new draft's id.
pub async fn import_scenario(
    store: &Store,
    actor: &ActorId,
    scenario: &Scenario,
) -> anyhow::Result<String> {
    let entities: Vec<Entity> = scenario
        .entities
        .iter()
        .map(|e| Entity {
            code: e.code.clone(),
            name: e.name.clone(),
        })
        .collect();
    store.upsert_entities(&entities).await?;
    let elements: Vec<(String, String)> = scenario
        .elements
        .iter()
        .map(|e| (e.label.clone(), e.text.clone()))
        .collect();
    let draft = build_draft(
        actor,
        &scenario.draft.title,
        &scenario.draft.preamble,
        &elements,
        entities.into_iter().map(|e| e.code).collect(),
    )?;
    store.create_draft(&draft).await?;
    Ok(draft.id)
}

/// A new draft with its index and element documents, made by `actor`.
pub fn build_draft(
    actor: &ActorId,
    title: &str,
    preamble: &str,
    elements: &[(String, String)],
    entity_codes: Vec<String>,
) -> anyhow::Result<NewDraft> {
    let mut new_elements = Vec::new();
    let mut index_entries = Vec::new();
    for (label, text) in elements {
        let (element, entry) = build_element(actor, label, text)?;
        index_entries.push(entry);
        new_elements.push(element);
    }
    let index_id = DocumentId::random();
    let index = new_index_doc(actor, title, preamble, &index_entries)?;
    Ok(NewDraft {
        id: short_id(),
        title: title.to_owned(),
        preamble: preamble.to_owned(),
        index: new_document(index_id, DocKind::Index, &index),
        elements: new_elements,
        entity_codes,
    })
}

/// A new element with its document, and its index entry.
pub fn build_element(
    actor: &ActorId,
    label: &str,
    text: &str,
) -> anyhow::Result<(NewElement, IndexElement)> {
    let id = DocumentId::random();
    let doc = new_element_doc(actor, text)?;
    let element_id = short_id();
    let entry = IndexElement {
        id: element_id.clone(),
        label: label.to_owned(),
        doc: id.url(),
    };
    let element = NewElement {
        id: element_id,
        label: label.to_owned(),
        doc: new_document(id, DocKind::Element, &doc),
    };
    Ok((element, entry))
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

pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// The name of the chair created on first start.
pub const FIRST_CHAIR: &str = "chair";

/// On a database without users, creates a first chair and returns a
/// one-time invite for them, so a fresh installation can be signed into.
pub async fn first_chair(
    store: &Store,
    config: &crate::config::ServeConfig,
) -> anyhow::Result<Option<String>> {
    if !store.users().await?.is_empty() || config.no_first_chair {
        return Ok(None);
    }
    let user = store
        .add_user(&accord_store::NewUser {
            id: short_id(),
            name: FIRST_CHAIR.into(),
            role: accord_store::Role::Chair,
            entity_code: None,
        })
        .await?;
    let token = crate::auth::new_token();
    let expires_at = crate::clock::now_ms() + 14 * 86_400_000;
    store
        .create_invite(
            &user.id,
            &crate::auth::token_hash(&token),
            accord_store::InviteKind::Invite,
            expires_at,
        )
        .await?;
    Ok(Some(token))
}
