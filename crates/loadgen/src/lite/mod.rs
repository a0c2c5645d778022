//! A light Automerge sync peer: the automerge sync protocol (the same
//! algorithm as `automerge::sync::SyncDoc` in 0.12, over the same
//! `sync::State` and `sync::Message`) run on a change *graph* instead of a
//! full document.
//!
//! Why: applying a one-keystroke change to a full `Automerge` document walks
//! the whole text (measured here: ~0.7 ms per message at 2,500 changes of
//! history, ~9.5 ms at 20,000). The benchmark keeps 14 typists + 100 watchers
//! on each of 8 documents at 70 changes/s per document: ~900 full replicas
//! would need tens of CPU cores, so a load generator built on full replicas
//! would measure itself, not the server. A peer only needs the change graph to
//! speak the protocol correctly (heads, need, have + bloom filter, changes to
//! send, sent-hash bookkeeping), and a typist only needs the text object's id
//! and element ids of its own characters to author valid changes.
//!
//! The graph of each document (hash, deps, bytes of every change) is stored
//! once in a shared [`Universe`]; each simulated replica owns only a bitset of
//! the changes *it* has received and applied, its heads and its sync state.
//! Replicas never learn a change except through their own connection.
//!
//! The files: `hash.rs` the cheap hasher for hash-keyed maps, `chunks.rs`
//! change chunks parsed once per process, `graph.rs` the shared change graph,
//! `replica.rs` a replica's bookkeeping on it, `protocol.rs` the sync
//! protocol's generate and receive, `author.rs` typists' one-character
//! changes.

mod author;
mod chunks;
mod graph;
mod hash;
mod protocol;
mod replica;

pub use author::{Author, Edit};
pub use chunks::parse_chunks;
pub use graph::{Universe, universe};
pub use hash::HashMap;
pub use replica::Replica;
