//! The change graph of a document ([`Graph`]), stored once and shared by all
//! its simulated replicas through a [`Universe`].

use std::sync::{Arc, RwLock};

use automerge::ChangeHash;

use super::author::TextInfo;
use super::chunks::Parsed;
use super::hash::HashMap;

/// One change as every replica of a document shares it.
pub(super) struct Node {
    pub(super) hash: ChangeHash,
    /// Indices of the dependencies (always smaller than this node's index).
    pub(super) deps: Vec<u32>,
    pub(super) max_op: u64,
    pub(super) bytes: Arc<[u8]>,
}

/// Facts about a document's changes shared by all simulated replicas of it.
/// Indices are a topological order: a change enters only after its deps.
#[derive(Default)]
pub struct Graph {
    pub(super) index: HashMap<ChangeHash, u32>,
    pub(super) nodes: Vec<Node>,
    /// The text object and the element ids of the initial text, computed
    /// once from the first complete replica (for typists' cursor jumps).
    pub(super) text: Option<TextInfo>,
}

pub type Universe = Arc<RwLock<Graph>>;

pub fn universe() -> Universe {
    Arc::new(RwLock::new(Graph::default()))
}

impl Graph {
    pub(super) fn idx(&self, hash: &ChangeHash) -> Option<u32> {
        self.index.get(hash).copied()
    }

    /// Adds a change whose deps are all present; returns its index.
    pub(super) fn insert(&mut self, change: &Parsed) -> u32 {
        if let Some(i) = self.idx(&change.hash) {
            return i;
        }
        let deps = change
            .deps
            .iter()
            .map(|d| self.idx(d).expect("deps enter the graph first"))
            .collect();
        let i = self.nodes.len() as u32;
        self.nodes.push(Node {
            hash: change.hash,
            deps,
            max_op: change.max_op,
            bytes: change.bytes.clone(),
        });
        self.index.insert(change.hash, i);
        i
    }
}
