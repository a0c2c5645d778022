//! Who an actor is: the user and entity that own it.

use std::collections::HashMap;

use automerge::ActorId;

use crate::AppState;
use crate::error::ApiError;

/// Who stands behind an actor: user id, name, entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub user: Option<String>,
    pub name: String,
    pub entity: Option<String>,
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
            Some(user) if user == crate::documents::owners::SERVER_USER => Author {
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
