//! The store's error type.

/// Everything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query, a connection or a transaction failed (including a failed commit).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL names no supported backend or cannot be parsed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The write would duplicate something unique (e.g. "a user named X exists").
    #[error("{0}")]
    Conflict(String),
    /// The request breaks a rule of the data (e.g. a delegate without an entity).
    #[error("{0}")]
    Invalid(String),
    /// Another process holds a lock this one needs: another `accord serve`
    /// runs on the database, or another process migrates it (the message
    /// says which, and who holds it).
    #[error("{0}")]
    Locked(String),
    /// Something the request names does not exist (e.g. "no draft X").
    #[error("{0}")]
    NotFound(String),
    /// A grouped commit this write was part of failed (the message is the
    /// failure's, shared by every write in the group).
    #[error("the commit failed: {0}")]
    CommitFailed(String),
}

/// `Result` with the store's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
