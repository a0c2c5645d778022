//! Passages anchored in an element's text with Automerge cursors, so an
//! amendment or a comment follows its words as others edit around them.
//!
//! A passage `[from, to)` is anchored by its first character (a cursor that
//! moves forward if that character goes) and its last (one that moves
//! back). An insertion point (`from == to`) is anchored by the characters
//! either side of it (`s` / `e` at the ends of the text). Offsets are
//! Unicode code points, like the document's text.
//!
//! The anchor is intact while both anchoring characters are still there
//! and the text between them reads as when it was anchored (for a point:
//! nothing was inserted at it). Anything else is a conflict: the words the
//! proposal was written against have changed.

use automerge::{ChangeHash, Cursor, MoveCursor, ObjId, ObjType, ROOT, ReadDoc, Value};

/// A passage as anchored: what it read and its two cursors (text form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchored {
    pub original: String,
    pub start: String,
    pub end: String,
}

/// Where an anchored passage is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The passage's current range (code points).
    pub from: usize,
    pub to: usize,
    /// What the text reads there now.
    pub current: String,
    /// Both anchors are there and the passage reads as anchored.
    pub intact: bool,
}

/// Why a passage cannot be anchored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorError {
    /// `from`/`to` are not a range of the text (its length is given).
    Range(usize),
    /// The document has no text (not an element's).
    NoText,
}

fn text_obj(doc: &impl ReadDoc) -> Result<ObjId, AnchorError> {
    match doc.get(ROOT, "text") {
        Ok(Some((Value::Object(ObjType::Text), id))) => Ok(id),
        _ => Err(AnchorError::NoText),
    }
}

/// Anchors `[from, to)` of the element's text as it was at `heads` (all
/// in the document).
pub fn anchor(
    doc: &impl ReadDoc,
    heads: &[ChangeHash],
    from: usize,
    to: usize,
) -> Result<Anchored, AnchorError> {
    let obj = text_obj(doc)?;
    let text = doc.text_at(&obj, heads).map_err(|_| AnchorError::NoText)?;
    let len = text.chars().count();
    if from > to || to > len {
        return Err(AnchorError::Range(len));
    }
    let cursor = |at: usize, moving: MoveCursor| {
        doc.get_cursor_moving(&obj, at, Some(heads), moving)
            .map(|c| c.to_string())
            .map_err(|_| AnchorError::Range(len))
    };
    let (start, end) = if from < to {
        (
            cursor(from, MoveCursor::After)?,
            cursor(to - 1, MoveCursor::Before)?,
        )
    } else {
        (
            if from == 0 {
                Cursor::Start.to_string()
            } else {
                cursor(from - 1, MoveCursor::Before)?
            },
            if from == len {
                Cursor::End.to_string()
            } else {
                cursor(from, MoveCursor::After)?
            },
        )
    };
    Ok(Anchored {
        original: text.chars().skip(from).take(to - from).collect(),
        start,
        end,
    })
}

/// Where the passage anchored by `start`/`end` (which read `original`) is
/// in the text at `heads` (`None`: the current text). `None` if the
/// cursors are not this document's.
pub fn locate(
    doc: &impl ReadDoc,
    heads: Option<&[ChangeHash]>,
    original: &str,
    start: &str,
    end: &str,
) -> Option<Located> {
    let obj = text_obj(doc).ok()?;
    let text: Vec<char> = match heads {
        Some(h) => doc.text_at(&obj, h).ok()?,
        None => doc.text(&obj).ok()?,
    }
    .chars()
    .collect();
    let len = text.len();
    let start = Cursor::try_from(start).ok()?;
    let end = Cursor::try_from(end).ok()?;
    let position = |c: &Cursor| doc.get_cursor_position(&obj, c, heads).ok();
    // A character cursor still names its character when the character at
    // its position is the one it was made for.
    let present = |c: &Cursor, at: usize| match c {
        Cursor::Start | Cursor::End => true,
        Cursor::Op(_) => {
            at < len
                && [MoveCursor::Before, MoveCursor::After]
                    .into_iter()
                    .any(|m| doc.get_cursor_moving(&obj, at, heads, m).ok().as_ref() == Some(c))
        }
    };
    let (s, e) = (position(&start)?, position(&end)?);
    let anchors = present(&start, s) && present(&end, e);
    let (from, to) = if original.is_empty() {
        // A point: between the character before it and the one after.
        let from = match start {
            Cursor::Start => 0,
            _ => (s + 1).min(len),
        };
        (from, e.max(from))
    } else {
        let to = if present(&end, e) { e + 1 } else { e };
        (s, to.clamp(s, len))
    };
    let current: String = text[from..to].iter().collect();
    let intact = anchors && current == original;
    Some(Located {
        from,
        to,
        current,
        intact,
    })
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit};

    use super::*;

    fn element(text: &str) -> AutoCommit {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(b"first".as_slice()));
        let obj = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
        doc.splice_text(&obj, 0, 0, text).unwrap();
        doc.commit();
        doc
    }

    fn splice(doc: &mut AutoCommit, at: usize, del: isize, text: &str) {
        let (_, obj) = doc.get(ROOT, "text").unwrap().unwrap();
        doc.splice_text(&obj, at, del, text).unwrap();
        doc.commit();
    }

    fn anchored(doc: &mut AutoCommit, from: usize, to: usize) -> Anchored {
        let heads = doc.get_heads();
        anchor(&*doc, &heads, from, to).unwrap()
    }

    fn now(doc: &AutoCommit, a: &Anchored) -> Located {
        locate(doc, None, &a.original, &a.start, &a.end).unwrap()
    }

    #[test]
    fn a_passage_follows_edits_around_it() {
        let mut doc = element("the genuine choice of migrants");
        let a = anchored(&mut doc, 12, 18);
        assert_eq!(a.original, "choice");
        splice(&mut doc, 0, 0, "Ensure ");
        splice(&mut doc, 37, 0, " everywhere");
        let at = now(&doc, &a);
        assert_eq!(
            (at.from, at.to, at.current.as_str(), at.intact),
            (19, 25, "choice", true)
        );
        // Typing right next to it is not typing in it.
        splice(&mut doc, 25, 0, "s");
        splice(&mut doc, 18, 0, "free ");
        let at = now(&doc, &a);
        assert_eq!((at.current.as_str(), at.intact), ("choice", true));
    }

    #[test]
    fn an_edit_inside_the_passage_or_of_its_ends_is_a_conflict() {
        for (at, del, text) in [(14, 0, "X"), (12, 1, ""), (17, 1, ""), (12, 6, "option")] {
            let mut doc = element("the genuine choice of migrants");
            let a = anchored(&mut doc, 12, 18);
            splice(&mut doc, at, del, text);
            let located = now(&doc, &a);
            assert!(!located.intact, "{at} {del} {text}: {located:?}");
        }
        // The whole passage deleted: an empty range where it was.
        let mut doc = element("the genuine choice of migrants");
        let a = anchored(&mut doc, 12, 18);
        splice(&mut doc, 12, 6, "");
        let located = now(&doc, &a);
        assert_eq!((located.from, located.to, located.intact), (12, 12, false));
    }

    #[test]
    fn a_point_conflicts_only_when_something_is_inserted_at_it() {
        let mut doc = element("genuine choice");
        let a = anchored(&mut doc, 8, 8);
        assert_eq!(a.original, "");
        splice(&mut doc, 0, 0, "a ");
        let at = now(&doc, &a);
        assert_eq!((at.from, at.to, at.intact), (10, 10, true));
        splice(&mut doc, 10, 0, "and informed ");
        let at = now(&doc, &a);
        assert_eq!((at.current.as_str(), at.intact), ("and informed ", false));
        // At the ends of the text.
        let mut doc = element("choice");
        let start = anchored(&mut doc, 0, 0);
        let end = anchored(&mut doc, 6, 6);
        splice(&mut doc, 3, 0, "-");
        assert!(now(&doc, &start).intact && now(&doc, &end).intact);
        assert_eq!(now(&doc, &end).from, 7);
        splice(&mut doc, 7, 0, "!");
        assert!(!now(&doc, &end).intact);
    }

    #[test]
    fn ranges_outside_the_text_and_old_heads() {
        let mut doc = element("héllo wörld");
        let heads = doc.get_heads();
        assert_eq!(anchor(&doc, &heads, 3, 12), Err(AnchorError::Range(11)));
        assert_eq!(anchor(&doc, &heads, 5, 4), Err(AnchorError::Range(11)));
        // Code points, not bytes.
        assert_eq!(anchored(&mut doc, 6, 11).original, "wörld");
        // Anchored on the text as the proposer read it, before a later edit.
        splice(&mut doc, 0, 5, "hi");
        let a = anchor(&doc, &heads, 6, 11).unwrap();
        assert_eq!(a.original, "wörld");
        let at = now(&doc, &a);
        assert_eq!((at.from, at.to, at.intact), (3, 8, true));
        // Where it was at those heads.
        let then = locate(&doc, Some(&heads), &a.original, &a.start, &a.end).unwrap();
        assert_eq!((then.from, then.intact), (6, true));
    }
}
