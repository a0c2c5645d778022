//! The automerge-repo websocket protocol, version "1", as a library without
//! I/O: bytes in, messages and effects out.
//!
//! - [`wire`]: the CBOR messages and the handshake;
//! - [`doc`]: one document's sync with many peers, in check–commit–apply rounds;
//! - [`ids`]: document ids and `automerge:` URLs.

mod chunks;
pub mod doc;
mod error;
pub mod ids;
pub mod wire;

pub use doc::{BadSyncData, ConnId, DocSync, PendingChange, Policy, Received, Refusal};
pub use error::{ProtocolError, Result};
pub use ids::{DocumentId, InvalidDocumentId};
pub use wire::{
    DocMessage, Ephemeral, Message, PROTOCOL_VERSION, PeerId, answer_join, encode_sync,
};

#[cfg(test)]
mod tests;
