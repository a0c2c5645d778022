//! Identity: tokens, sessions, the signed-in user of a request, roles,
//! `Origin` checks and sign-in throttling.
//!
//! A token is 32 random bytes in hex. Only its SHA-256 is stored, for
//! invites and sessions alike. A request presents its session as the
//! `accord_session` cookie (browsers), an `Authorization: Bearer` header, or
//! — on `/sync` only, because the stock websocket client cannot set headers —
//! a `token` query parameter. Tokens are never logged.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_store::{Role, UserRow};

use crate::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;

/// The browser's session cookie.
pub const COOKIE: &str = "accord_session";

/// Sliding sessions are touched in storage at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A signed-in person as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The entity a delegate speaks for; chairs and reviewers may have one.
    pub entity: Option<String>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            role: row.role,
            entity: row.entity_code,
        }
    }
}

impl User {
    /// 403 unless the user has one of `roles`; `action` completes "only … may".
    pub fn require(&self, roles: &[Role], action: &str) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| role_plural(*r)).collect();
        Err(ApiError::forbidden(
            "forbidden",
            format!(
                "only {} may {action}; you are signed in as a {}",
                names.join(" and "),
                self.role.as_str()
            ),
        ))
    }
}

fn role_plural(role: Role) -> &'static str {
    match role {
        Role::Chair => "chairs",
        Role::Delegate => "delegates",
        Role::Reviewer => "reviewers",
    }
}

/// How a request presented its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cookie,
    Bearer,
    Query,
}

/// The signed-in user of a request. As an extractor it answers 401 without
/// a live session and 403 for a cross-site request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub user: Arc<User>,
    /// The session's token hash (never the token).
    pub session: String,
    pub expires_at: i64,
}

/// Looks a session token up and slides its expiry.
pub async fn authenticate(app: &AppState, token: &str) -> Result<Auth, ApiError> {
    let expired = || {
        ApiError::unauthorized(
            "unauthenticated",
            "the session is unknown or has ended: sign in again",
        )
    };
    if !is_token_shaped(token) {
        return Err(expired());
    }
    let hash = token_hash(token);
    let now = now_ms();
    let Some(session) = app.store.session(&hash, now).await? else {
        return Err(expired());
    };
    let mut expires_at = session.expires_at;
    if now - session.last_seen >= TOUCH_EVERY_MS {
        expires_at =
            (now + app.config.session_idle().as_millis() as i64).min(session.max_expires_at);
        app.store.touch_session(&hash, now, expires_at).await?;
    }
    Ok(Auth {
        user: Arc::new(session.user.into()),
        session: hash,
        expires_at,
    })
}

/// How often the store is asked for sessions revoked since (signed out,
/// a user disabled, also by the CLI or another process).
const REVOCATION_POLL: Duration = Duration::from_secs(2);

/// Revocations are read back this far, so processes whose clocks differ a
/// little still see each other's.
const REVOCATION_SLACK_MS: i64 = 5 * 60_000;

/// Closes open websockets within [`REVOCATION_POLL`] of their session's
/// revocation: one small query per poll, whatever the number of
/// connections.
pub async fn watch_revocations(app: AppState) {
    let mut tick = tokio::time::interval(REVOCATION_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = app.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let since = now_ms() - REVOCATION_SLACK_MS;
        match app.store.sessions_revoked_since(since).await {
            Ok(revoked) if !revoked.is_empty() => {
                let revoked = revoked.into_iter().collect();
                for _ in 0..app.peers.close_sessions(&revoked) {
                    app.metrics.close("session_ended");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading revoked sessions failed"),
        }
    }
}

/// Whether the session behind `hash` is still live (for open websockets).
pub async fn session_is_live(app: &AppState, hash: &str) -> bool {
    match app.store.session(hash, now_ms()).await {
        Ok(found) => found.is_some(),
        // Storage trouble is not the user's fault: keep the connection.
        Err(_) => true,
    }
}

/// `scheme://host[:port]` of a URL, lowercase, without a trailing slash.
pub fn public_origin(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split('/').next().unwrap_or_default();
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    )
}

pub fn same_origin(origin: &str, public_url: &str) -> bool {
    public_origin(origin) == public_origin(public_url)
}

/// Checks an `Origin` header alone (sign-in has no session yet).
pub fn check_plain_origin(parts_origin: Option<&str>, app: &AppState) -> Result<(), ApiError> {
    match parts_origin {
        Some(origin) if !same_origin(origin, &app.config.public_url) => Err(ApiError::forbidden(
            "bad_origin",
            format!("requests from {origin} are not accepted"),
        )),
        _ => Ok(()),
    }
}

/// A fresh token: 32 random bytes, hex.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub fn is_token_shaped(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What is stored instead of a token.
pub fn token_hash(token: &str) -> String {
    accord_model::text_hash(token)
}

/// The `Set-Cookie` value for a session (or, with `None`, one that clears it).
pub fn session_cookie(token: Option<&str>, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(token) => format!(
            "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
            max_age.as_secs()
        ),
        None => format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    }
}

/// Failed sign-ins per address: after `limit` failures within `window`, the
/// address waits until the window has passed.
pub struct SignInThrottle {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl SignInThrottle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` while the address is throttled.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some((count, since)) if since.elapsed() < self.window => {
                if *count >= self.limit {
                    Err((self.window - since.elapsed()).as_secs().max(1))
                } else {
                    Ok(())
                }
            }
            Some(_) => {
                map.remove(&ip);
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub fn failed(&self, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/"
        ));
        assert!(same_origin(
            "HTTPS://Accord.example",
            "https://accord.example/app"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:8081",
            "http://127.0.0.1:8080"
        ));
        assert!(!same_origin(
            "https://evil.example",
            "https://accord.example"
        ));
        assert!(!same_origin("null", "http://127.0.0.1:8080"));
    }

    #[test]
    fn tokens_are_random_hex_and_stored_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(is_token_shaped(&a));
        assert!(!is_token_shaped(&a[..63]));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn the_throttle_counts_failures_per_address() {
        let throttle = SignInThrottle::new(3, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(throttle.check(ip).is_ok());
            throttle.failed(ip);
        }
        assert!(throttle.check(ip).is_err());
        assert!(throttle.check(other).is_ok());
    }
}
