//! What a typist needs to author one-character changes without a document:
//! the text object and the initial characters' element ids, found once per
//! document ([`TextInfo`]), and the [`Author`] of one [`Edit`] at a time.

use std::num::NonZeroU64;

use automerge::legacy::{ElementId, Key, ObjectId, Op, OpId, OpType, SortedVec};
use automerge::{ActorId, Change, ChangeHash, ExpandedChange, ScalarValue};

use super::chunks::intern;
use super::replica::Replica;

#[derive(Clone, Debug)]
pub struct TextInfo {
    pub obj: OpId,
    /// Element ids of characters present in the initial history.
    pub anchors: Vec<OpId>,
}

impl Replica {
    /// The text object and initial element ids, computed once per document
    /// from this replica's history.
    pub fn text_info(&self) -> Result<TextInfo, String> {
        if let Some(t) = &self.universe.read().expect("graph lock").text {
            return Ok(t.clone());
        }
        let mut g = self.universe.write().expect("graph lock");
        if let Some(t) = &g.text {
            return Ok(t.clone());
        }
        let mut obj = None;
        let mut inserts = Vec::new();
        for node in &g.nodes {
            let change = Change::try_from(&node.bytes[..]).map_err(|e| e.to_string())?;
            let expanded = change.decode();
            for (k, op) in expanded.operations.iter().enumerate() {
                let id = OpId(
                    expanded.start_op.get() + k as u64,
                    expanded.actor_id.clone(),
                );
                match (&op.action, &op.obj, &op.key) {
                    (OpType::Make(automerge::ObjType::Text), ObjectId::Root, Key::Map(k))
                        if k == "text" =>
                    {
                        obj = Some(id);
                    }
                    (OpType::Put(_), ObjectId::Id(o), _) if op.insert => {
                        inserts.push((o.clone(), id));
                    }
                    _ => {}
                }
            }
        }
        let obj = obj.ok_or("the document has no text object")?;
        let anchors = inserts
            .into_iter()
            .filter(|(o, _)| *o == obj)
            .map(|(_, id)| id)
            .collect();
        let info = TextInfo { obj, anchors };
        g.text = Some(info.clone());
        Ok(info)
    }
}

/// What a typist knows to author one-character changes without a document.
pub struct Author {
    pub actor: ActorId,
    seq: u64,
    text: OpId,
}

/// One keystroke.
pub enum Edit {
    /// Insert `ch` after `after` (`None`: at the start of the text).
    Insert { after: Option<OpId>, ch: char },
    /// Delete the character inserted by op `target`.
    Delete { target: OpId },
}

impl Author {
    pub fn new(actor: ActorId, text: OpId) -> Self {
        Self {
            actor,
            seq: 0,
            text,
        }
    }

    /// Authors the change on top of `replica`'s heads, adds it to the
    /// replica, and returns its hash and the op id it created.
    pub fn edit(&mut self, replica: &mut Replica, edit: Edit) -> (ChangeHash, OpId) {
        self.seq += 1;
        let start_op = replica.max_op + 1;
        let id = OpId(start_op, self.actor.clone());
        let obj = ObjectId::Id(self.text.clone());
        let op = match edit {
            Edit::Insert { after, ch } => Op {
                action: OpType::Put(ScalarValue::Str(ch.to_string().into())),
                obj,
                key: Key::Seq(after.map_or(ElementId::Head, ElementId::Id)),
                pred: SortedVec::new(),
                insert: true,
            },
            Edit::Delete { target } => Op {
                action: OpType::Delete,
                obj,
                key: Key::Seq(ElementId::Id(target.clone())),
                pred: vec![target].into(),
                insert: false,
            },
        };
        let change = Change::from(ExpandedChange {
            operations: vec![op],
            actor_id: self.actor.clone(),
            hash: None,
            seq: self.seq,
            start_op: NonZeroU64::new(start_op).expect("start_op >= 1"),
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            message: None,
            deps: replica.heads(),
            extra_bytes: Vec::new(),
            author: None,
        });
        let hash = change.hash();
        replica.authored = true;
        replica.add_changes(vec![intern(&change)]);
        (hash, id)
    }
}
