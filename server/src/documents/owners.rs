//! Who owns each Automerge actor id, and the server's own: its actor id and
//! the storage id it announces, the same across restarts.

use std::collections::HashMap;
use std::sync::Arc;

use accord_store::Store;
use automerge::ActorId;

/// The owner recorded for the server's own actor id.
pub const SERVER_USER: &str = "server";

/// Which user owns each Automerge actor id: the first who delivered a change
/// from it. Loaded from storage at start; a new claim is made when a
/// change is checked and stored with the change.
pub struct ActorOwners(std::sync::Mutex<HashMap<ActorId, Arc<str>>>);

impl ActorOwners {
    pub fn new(owners: impl IntoIterator<Item = (ActorId, String)>) -> Self {
        Self(std::sync::Mutex::new(
            owners.into_iter().map(|(a, u)| (a, u.into())).collect(),
        ))
    }

    /// Claims `actor` for `user` if nobody owns it; true if `user` owns it.
    pub fn may_use(&self, actor: &ActorId, user: &str) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(actor) {
            Some(owner) => &**owner == user,
            None => {
                map.insert(actor.clone(), user.into());
                true
            }
        }
    }
}

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
