//! Errors of the protocol crate.

/// A protocol violation: the peer sent something this protocol does not allow.
/// The connection gets an `error` message and is closed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("message is not valid CBOR: {0}")]
    Cbor(String),
    #[error("message is not a CBOR map with a string `type`")]
    NotAMessage,
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error("message `{kind}` lacks field `{field}` or it has the wrong type")]
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
    #[error("no supported protocol version offered (this server speaks \"1\")")]
    UnsupportedVersion,
    #[error("expected `join` first, got `{0}`")]
    NotJoined(&'static str),
    #[error("`join` sent twice")]
    AlreadyJoined,
    #[error("sync data for document {document} is not a valid Automerge sync message: {reason}")]
    BadSyncData { document: String, reason: String },
}

pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
