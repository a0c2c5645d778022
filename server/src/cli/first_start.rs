//! First start: the scenario's draft in an empty database, and a first
//! chair to sign in with.

use accord_model::Scenario;
use accord_store::{Entity, Store};
use automerge::ActorId;

use crate::drafts::build::{build_draft, short_id};

/// The reference scenario, built in so `accord serve` works from any folder.
pub const REFERENCE_SCENARIO: &str = include_str!("../../../scenarios/hld2013.toml");

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
