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
}

/// `Result` with the store's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
