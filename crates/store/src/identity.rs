//! Users, invites and sessions, and which user owns each Automerge actor.

use crate::{BeginWrite, Error, Result, Store, conflict_if_unique, now_ms};

/// What a user may do in a negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs the negotiation (structure edits, participants).
    Chair,
    /// Negotiates for an entity (always has one).
    Delegate,
    /// Follows and reviews; needs no entity.
    Reviewer,
}

impl Role {
    /// The value stored in `users.role`: `"chair"`, `"delegate"` or `"reviewer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Chair => "chair",
            Role::Delegate => "delegate",
            Role::Reviewer => "reviewer",
        }
    }

    /// The role spelled `s` (as [`Role::as_str`] gives it), `None` if unknown.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "chair" => Some(Role::Chair),
            "delegate" => Some(Role::Delegate),
            "reviewer" => Some(Role::Reviewer),
            _ => None,
        }
    }
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// Stable id (referenced by invites, sessions, changes, events).
    pub id: String,
    /// Unique display and login name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// The entity the user speaks for (always set for delegates).
    pub entity_code: Option<String>,
    /// A disabled user has no live session and cannot redeem invites.
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A user to create, see [`Store::add_user`].
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Stable id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Required for delegates; must name an existing entity.
    pub entity_code: Option<String>,
}

/// What an invite token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteKind {
    /// A user's first invitation.
    Invite,
    /// A link that signs an existing user in on another device.
    Device,
}

impl InviteKind {
    /// The value stored in `invites.kind`: `"invite"` or `"device"`.
    pub fn as_str(self) -> &'static str {
        match self {
            InviteKind::Invite => "invite",
            InviteKind::Device => "device",
        }
    }

    /// The kind spelled `s` (as [`InviteKind::as_str`] gives it), `None` if unknown.
    pub fn parse(s: &str) -> Option<InviteKind> {
        match s {
            "invite" => Some(InviteKind::Invite),
            "device" => Some(InviteKind::Device),
            _ => None,
        }
    }
}

/// The session to open when an invite is redeemed, see [`Store::redeem_invite`].
#[derive(Clone, Debug)]
pub struct NewSession {
    /// Hash of the session token (the token itself is never stored).
    pub token_hash: String,
    /// Initial (sliding) expiry, unix ms.
    pub expires_at: i64,
    /// The session never lives beyond this, however active, unix ms.
    pub max_expires_at: i64,
}

/// The outcome of [`Store::redeem_invite`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// The invite is now used and the session opened for this user.
    Ok(UserRow),
    /// No invite has this token hash.
    Unknown,
    /// The invite was already redeemed.
    Used,
    /// The invite expired (or was revoked by disabling its user, then re-enabling).
    Expired,
    /// The invite's user is disabled.
    Disabled,
}

/// A live session and its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// Hash of the session token.
    pub token_hash: String,
    /// The signed-in user.
    pub user: UserRow,
    /// Unix ms.
    pub created_at: i64,
    /// Last activity, unix ms.
    pub last_seen: i64,
    /// Sliding expiry, unix ms.
    pub expires_at: i64,
    /// Hard expiry, unix ms.
    pub max_expires_at: i64,
}

/// A `users` row as stored, its role still text.
#[derive(sqlx::FromRow)]
struct UserRecord {
    id: String,
    name: String,
    role: String,
    entity_code: Option<String>,
    disabled: bool,
    created_at: i64,
}

impl UserRecord {
    /// The row, [`Error::Database`] if its role is unknown.
    fn into_row(self) -> Result<UserRow> {
        let role = Role::parse(&self.role).ok_or_else(|| {
            Error::Database(sqlx::Error::Decode(
                format!("unknown user role {:?}", self.role).into(),
            ))
        })?;
        Ok(UserRow {
            id: self.id,
            name: self.name,
            role,
            entity_code: self.entity_code,
            disabled: self.disabled,
            created_at: self.created_at,
        })
    }
}

/// A `sessions` row joined with its user's columns (named `user_*`).
#[derive(sqlx::FromRow)]
struct SessionRecord {
    token_hash: String,
    created_at: i64,
    last_seen: i64,
    expires_at: i64,
    max_expires_at: i64,
    user_id: String,
    user_name: String,
    user_role: String,
    user_entity_code: Option<String>,
    user_disabled: bool,
    user_created_at: i64,
}

impl SessionRecord {
    /// The row, [`Error::Database`] if the user's role is unknown.
    fn into_row(self) -> Result<SessionRow> {
        let user = UserRecord {
            id: self.user_id,
            name: self.user_name,
            role: self.user_role,
            entity_code: self.user_entity_code,
            disabled: self.user_disabled,
            created_at: self.user_created_at,
        };
        Ok(SessionRow {
            token_hash: self.token_hash,
            user: user.into_row()?,
            created_at: self.created_at,
            last_seen: self.last_seen,
            expires_at: self.expires_at,
            max_expires_at: self.max_expires_at,
        })
    }
}

impl Store {
    /// Creates a user. [`Error::Conflict`] if the name (or id) is taken;
    /// [`Error::Invalid`] if a delegate has no entity or the entity code does
    /// not exist.
    pub async fn add_user(&self, user: &NewUser) -> Result<UserRow> {
        let now = now_ms();
        if user.role == Role::Delegate && user.entity_code.is_none() {
            return Err(Error::Invalid(format!(
                "delegate {:?} needs an entity",
                user.name
            )));
        }
        let taken = || format!("a user named {:?} exists", user.name);
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let existing: Option<(String, String)> =
                sqlx::query_as("SELECT id, name FROM users WHERE name = $1 OR id = $2")
                    .bind(&user.name)
                    .bind(&user.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((id, name)) = existing {
                return Err(Error::Conflict(if name == user.name {
                    taken()
                } else {
                    format!("a user with id {id:?} exists")
                }));
            }
            if let Some(code) = &user.entity_code {
                let entity: Option<(String,)> =
                    sqlx::query_as("SELECT code FROM entities WHERE code = $1")
                        .bind(code)
                        .fetch_optional(&mut *tx)
                        .await?;
                if entity.is_none() {
                    return Err(Error::Invalid(format!("no entity with code {code:?}")));
                }
            }
            sqlx::query(
                "INSERT INTO users (id, name, role, entity_code, disabled, created_at) \
                 VALUES ($1, $2, $3, $4, FALSE, $5)",
            )
            .bind(&user.id)
            .bind(&user.name)
            .bind(user.role.as_str())
            .bind(&user.entity_code)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_if_unique(e, taken))?;
            tx.commit().await?;
        });
        Ok(UserRow {
            id: user.id.clone(),
            name: user.name.clone(),
            role: user.role,
            entity_code: user.entity_code.clone(),
            disabled: false,
            created_at: now,
        })
    }

    /// Every user, ordered by name.
    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let rows: Vec<UserRecord> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, role, entity_code, disabled, created_at FROM users \
                 ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(UserRecord::into_row).collect()
    }

    /// The user with this id.
    #[cfg(test)]
    pub async fn user(&self, id: &str) -> Result<Option<UserRow>> {
        let row: Option<UserRecord> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, role, entity_code, disabled, created_at FROM users \
                 WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(UserRecord::into_row).transpose()
    }

    /// The user with this name.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>> {
        let row: Option<UserRecord> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, role, entity_code, disabled, created_at FROM users \
                 WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
        });
        row.map(UserRecord::into_row).transpose()
    }

    /// Disables or re-enables the user named `name`. Disabling also revokes
    /// the user's sessions and unused invites (their `expires_at` becomes
    /// now), in the same transaction. Returns false if no such user.
    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let found: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((id,)) = found else {
                return Ok(false);
            };
            sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                .bind(disabled)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            if disabled {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE invites SET expires_at = $1 \
                     WHERE user_id = $2 AND used_at IS NULL AND expires_at > $1",
                )
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Ends a user's unused invites of `kind` (a fresh invite replaces
    /// them); returns how many.
    pub async fn expire_invites(&self, user_id: &str, kind: InviteKind) -> Result<u64> {
        let now = now_ms();
        let done = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE invites SET expires_at = $1 \
                 WHERE user_id = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(user_id)
            .bind(kind.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// Stores an invite (only the token's hash) for a user.
    /// [`Error::NotFound`] if the user does not exist, [`Error::Conflict`]
    /// if the token hash is already stored.
    pub async fn create_invite(
        &self,
        user_id: &str,
        token_hash: &str,
        kind: InviteKind,
        expires_at: i64,
    ) -> Result<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let found: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(Error::NotFound(format!("no user with id {user_id:?}")));
            }
            sqlx::query(
                "INSERT INTO invites (token_hash, user_id, kind, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(kind.as_str())
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_if_unique(e, || "this invite token exists".into()))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Redeems an invite and opens `session` for its user, in one
    /// transaction. The invite is marked used only if it is unused,
    /// unexpired (`expires_at > now`) and its user enabled, by one
    /// conditional UPDATE: of two concurrent redeems only one succeeds. The
    /// session then gets `created_at = last_seen = now`. Otherwise nothing
    /// is written and the reason is returned (checked in the order unknown,
    /// used, disabled, expired).
    pub async fn redeem_invite(
        &self,
        token_hash: &str,
        session: &NewSession,
        now: i64,
    ) -> Result<Redeemed> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let claimed = sqlx::query(
                "UPDATE invites SET used_at = $1 \
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                 AND EXISTS (SELECT 1 FROM users u WHERE u.id = invites.user_id AND NOT u.disabled)",
            )
            .bind(now)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                let why: Option<(Option<i64>, bool)> = sqlx::query_as(
                    "SELECT i.used_at, u.disabled FROM invites i \
                     JOIN users u ON u.id = i.user_id WHERE i.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                tx.rollback().await?;
                return Ok(match why {
                    None => Redeemed::Unknown,
                    Some((Some(_), _)) => Redeemed::Used,
                    Some((None, true)) => Redeemed::Disabled,
                    Some((None, false)) => Redeemed::Expired,
                });
            }
            let user: UserRecord = sqlx::query_as(
                "SELECT u.id, u.name, u.role, u.entity_code, u.disabled, u.created_at \
                 FROM invites i JOIN users u ON u.id = i.user_id WHERE i.token_hash = $1",
            )
            .bind(token_hash)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO sessions \
                 (token_hash, user_id, created_at, last_seen, expires_at, max_expires_at) \
                 VALUES ($1, $2, $3, $3, $4, $5)",
            )
            .bind(&session.token_hash)
            .bind(&user.id)
            .bind(now)
            .bind(session.expires_at)
            .bind(session.max_expires_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_if_unique(e, || "this session token exists".into()))?;
            tx.commit().await?;
            Ok(Redeemed::Ok(user.into_row()?))
        })
    }

    /// A live session: not revoked, `expires_at > now` (and
    /// `max_expires_at > now`), user not disabled. `None` otherwise.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionRow>> {
        let row: Option<SessionRecord> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT s.token_hash, s.created_at, s.last_seen, s.expires_at, s.max_expires_at, \
                 u.id AS user_id, u.name AS user_name, u.role AS user_role, \
                 u.entity_code AS user_entity_code, u.disabled AS user_disabled, \
                 u.created_at AS user_created_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL \
                 AND s.expires_at > $2 AND s.max_expires_at > $2 AND NOT u.disabled",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        row.map(SessionRecord::into_row).transpose()
    }

    /// Records activity on a (non-revoked) session and slides its expiry to
    /// `expires_at`, capped at the session's `max_expires_at`.
    pub async fn touch_session(
        &self,
        token_hash: &str,
        last_seen: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET last_seen = $1, \
                 expires_at = CASE WHEN $2 < max_expires_at THEN $2 ELSE max_expires_at END \
                 WHERE token_hash = $3 AND revoked_at IS NULL",
            )
            .bind(last_seen)
            .bind(expires_at)
            .bind(token_hash)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Revokes a session (signing out); a revoked session stays revoked.
    pub async fn revoke_session(&self, token_hash: &str, now: i64) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(token_hash)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The sessions revoked at or after `since` (Unix ms): signed out, or
    /// their user disabled, by any process on this database.
    pub async fn sessions_revoked_since(&self, since: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT token_hash FROM sessions WHERE revoked_at >= $1")
                .bind(since)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(hash,)| hash).collect())
    }

    /// Every recorded actor owner: (actor bytes, user_id), oldest first.
    pub async fn actor_owners(&self) -> Result<Vec<(Vec<u8>, String)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as("SELECT actor, user_id FROM actors ORDER BY first_seen, actor")
                .fetch_all(pool)
                .await?
        }))
    }

    /// Records `user_id` as the owner of `actor` if the actor has none
    /// (ON CONFLICT DO NOTHING), then returns the actor's owner.
    pub async fn claim_actor(&self, actor: &[u8], user_id: &str) -> Result<String> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO actors (actor, user_id, first_seen) VALUES ($1, $2, $3) \
                 ON CONFLICT (actor) DO NOTHING",
            )
            .bind(actor)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let (owner,): (String,) = sqlx::query_as("SELECT user_id FROM actors WHERE actor = $1")
                .bind(actor)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(owner)
        })
    }
}
