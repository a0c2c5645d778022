//! Who wrote and who removed each character of an element's text, from the
//! document's own operations: every character is an insert operation whose
//! id names its actor, and every removal a delete operation naming the
//! character it removes. The server maps actors to the users who own them.

use std::collections::HashMap;

use automerge::legacy::{ElementId, Key, OpId, OpType};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjId, ReadDoc, ScalarValue};

use crate::error::Result;

/// An operation id: (counter, actor).
pub type OpRef = (u64, ActorId);

/// One character of a text and the operation that inserted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharOp {
    pub ch: String,
    pub op: OpRef,
}

/// The characters of the text object `text` (at `heads`, or now) with
/// their insert operations.
pub fn char_ops(
    doc: &Automerge,
    text: &ObjId,
    heads: Option<&[ChangeHash]>,
) -> Result<Vec<CharOp>> {
    let items: Vec<_> = match heads {
        Some(heads) => doc.list_range_at(text, .., heads).collect(),
        None => doc.list_range(text, ..).collect(),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let ch = match &item.value {
            automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => s.to_string(),
            _ => continue,
        };
        if let automerge::ObjId::Id(counter, actor, _) = item.id() {
            out.push(CharOp {
                ch,
                op: (counter, actor),
            });
        }
    }
    Ok(out)
}

/// A removal: which change (and actor) deleted a character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub by: ActorId,
    pub change: ChangeHash,
}

/// The delete operations of `changes`: removed character → who removed it
/// (the first change listed wins when several removed the same one).
pub fn deletions(changes: &[Change]) -> HashMap<OpRef, Deletion> {
    let mut out = HashMap::new();
    for change in changes {
        let decoded = change.decode();
        for op in &decoded.operations {
            if let (OpType::Delete, Key::Seq(ElementId::Id(OpId(counter, actor)))) =
                (&op.action, &op.key)
            {
                out.entry((*counter, actor.clone()))
                    .or_insert_with(|| Deletion {
                        by: decoded.actor_id.clone(),
                        change: change.hash(),
                    });
            }
        }
    }
    out
}

/// The characters `changes` insert: operation → character.
pub fn insertions(changes: &[Change]) -> HashMap<OpRef, String> {
    let mut out = HashMap::new();
    for change in changes {
        let decoded = change.decode();
        let start = decoded.start_op.get();
        for (i, op) in decoded.operations.iter().enumerate() {
            if let (true, OpType::Put(ScalarValue::Str(s))) = (op.insert, &op.action) {
                out.insert((start + i as u64, decoded.actor_id.clone()), s.to_string());
            }
        }
    }
    out
}

/// Runs of consecutive characters with the same key, in order.
pub fn runs<K: PartialEq + Clone>(
    chars: impl IntoIterator<Item = (String, K)>,
) -> Vec<(String, K)> {
    let mut out: Vec<(String, K)> = Vec::new();
    for (ch, key) in chars {
        match out.last_mut() {
            Some((text, last)) if *last == key => text.push_str(&ch),
            _ => out.push((ch, key)),
        }
    }
    out
}

/// One piece of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<K> {
    Equal(String),
    /// Text the newer version has, and who inserted it.
    Insert(String, K),
    /// Text the older version had, and who removed it.
    Delete(String, K),
}

/// Compares two versions of a text by the identity of their characters
/// (each is one insert operation), so every insertion and deletion is
/// exactly what someone typed or removed, and identical words elsewhere
/// never confuse the alignment; runs are merged, so a typed word is one
/// piece. `deleted_by` names who removed an old character, `inserted_by`
/// who wrote a new one (by index).
pub fn compare<K: PartialEq + Clone>(
    old: &[CharOp],
    new: &[CharOp],
    deleted_by: impl Fn(usize) -> K,
    inserted_by: impl Fn(usize) -> K,
) -> Vec<Piece<K>> {
    let old_ids: Vec<&OpRef> = old.iter().map(|c| &c.op).collect();
    let new_ids: Vec<&OpRef> = new.iter().map(|c| &c.op).collect();
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &old_ids, &new_ids);
    let mut out: Vec<Piece<K>> = Vec::new();
    let mut push = |piece: Piece<K>| match (out.last_mut(), &piece) {
        (Some(Piece::Equal(a)), Piece::Equal(b)) => a.push_str(b),
        (Some(Piece::Insert(a, ka)), Piece::Insert(b, kb)) if ka == kb => a.push_str(b),
        (Some(Piece::Delete(a, ka)), Piece::Delete(b, kb)) if ka == kb => a.push_str(b),
        _ => out.push(piece),
    };
    for op in ops {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        match tag {
            similar::DiffTag::Equal => {
                for i in new_range {
                    push(Piece::Equal(new[i].ch.clone()));
                }
            }
            _ => {
                for i in old_range {
                    push(Piece::Delete(old[i].ch.clone(), deleted_by(i)));
                }
                for i in new_range {
                    push(Piece::Insert(new[i].ch.clone(), inserted_by(i)));
                }
            }
        }
    }
    out
}

/// Widens a character comparison to whole words, the way a reader compares
/// texts: a word with any change in it reads as the old word deleted and the
/// new word inserted; spaces and punctuation are tokens of their own. A
/// changed word is credited to whoever removed (for the deletion) or wrote
/// (for the insertion) most of its changed characters — to the one who added
/// characters when none were removed, and the other way round. Within a run
/// of changed words the deletions come first, then the insertions, and a
/// word removed and typed again identically is unchanged.
pub fn words<K: PartialEq + Clone>(pieces: Vec<Piece<K>>) -> Vec<Piece<K>> {
    // The merged stream of characters: None = in both versions, Some((k,
    // true)) = removed by k, Some((k, false)) = written by k.
    let mut stream: Vec<(char, Option<(K, bool)>)> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Equal(t) => stream.extend(t.chars().map(|c| (c, None))),
            Piece::Delete(t, k) => stream.extend(t.chars().map(|c| (c, Some((k.clone(), true))))),
            Piece::Insert(t, k) => stream.extend(t.chars().map(|c| (c, Some((k.clone(), false))))),
        }
    }
    let mut out: Vec<Piece<K>> = Vec::new();
    let push = |out: &mut Vec<Piece<K>>, piece: Piece<K>| match (out.last_mut(), &piece) {
        (Some(Piece::Equal(a)), Piece::Equal(b)) => a.push_str(b),
        (Some(Piece::Insert(a, ka)), Piece::Insert(b, kb)) if ka == kb => a.push_str(b),
        (Some(Piece::Delete(a, ka)), Piece::Delete(b, kb)) if ka == kb => a.push_str(b),
        _ => out.push(piece),
    };
    // Deletions and insertions of the current run of changed words.
    let mut deleted: Vec<Piece<K>> = Vec::new();
    let mut inserted: Vec<Piece<K>> = Vec::new();
    let mut start = 0;
    while start < stream.len() {
        let word = stream[start].0.is_alphanumeric();
        let mut end = start + 1;
        while word && end < stream.len() && stream[end].0.is_alphanumeric() {
            end += 1;
        }
        let token = &stream[start..end];
        start = end;
        let old: String = token
            .iter()
            .filter(|(_, s)| !matches!(s, Some((_, false))))
            .map(|(c, _)| *c)
            .collect();
        let new: String = token
            .iter()
            .filter(|(_, s)| !matches!(s, Some((_, true))))
            .map(|(c, _)| *c)
            .collect();
        if old == new {
            for piece in deleted.drain(..).chain(inserted.drain(..)) {
                push(&mut out, piece);
            }
            push(&mut out, Piece::Equal(new));
            continue;
        }
        let removers = token
            .iter()
            .filter_map(|(_, s)| s.as_ref().filter(|(_, d)| *d).map(|(k, _)| k));
        let writers = token
            .iter()
            .filter_map(|(_, s)| s.as_ref().filter(|(_, d)| !*d).map(|(k, _)| k));
        let remover = most(removers.clone()).or_else(|| most(writers.clone()));
        let writer = most(writers).or_else(|| most(removers));
        if let (false, Some(k)) = (old.is_empty(), remover) {
            push(&mut deleted, Piece::Delete(old, k));
        }
        if let (false, Some(k)) = (new.is_empty(), writer) {
            push(&mut inserted, Piece::Insert(new, k));
        }
    }
    for piece in deleted.into_iter().chain(inserted) {
        push(&mut out, piece);
    }
    out
}

/// The most frequent of the keys (the first of equals).
fn most<'a, K: PartialEq + Clone + 'a>(keys: impl Iterator<Item = &'a K>) -> Option<K> {
    let mut counts: Vec<(&K, usize)> = Vec::new();
    for k in keys {
        match counts.iter_mut().find(|(c, _)| *c == k) {
            Some((_, n)) => *n += 1,
            None => counts.push((k, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts
        .iter()
        .find(|(_, n)| *n == best)
        .map(|(k, _)| (*k).clone())
}
