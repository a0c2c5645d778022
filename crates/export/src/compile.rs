//! An element's text with its pending amendments placed in it: the shared
//! model behind the compilation text (Markdown, HTML) and the amendments in
//! the Akoma Ntoso export.
//!
//! Amendments are taken in the order given (oldest first). One is placed
//! *inline* when its range is a range of the text that reads its `original`
//! and it overlaps no amendment already placed; otherwise it is only listed.
//! Two ranges overlap when they share a character; an insertion point
//! overlaps a range it falls strictly inside, and another insertion at the
//! same point. So an insertion just before or after a replaced passage is
//! shown beside it.
//!
//! Paragraphs and lines are those of the plain exports (`paragraphs`): the
//! text outside amendments is split at line ends, lines are trimmed, blank
//! lines separate paragraphs. A change is one piece of a line, whatever its
//! passage or replacement holds (their line ends are for the renderer to
//! show, see [`change_lines`]).

use crate::{ElementSnapshot, PendingAmendment, normalize_newlines};

/// One piece of a line of the compiled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(String),
    /// An amendment shown inline: its `original` deleted, its `text`
    /// inserted, at this place.
    Change(&'a PendingAmendment),
}

/// A paragraph: its lines, each a list of pieces (never empty).
pub(crate) type Paragraph<'a> = Vec<Vec<Piece<'a>>>;

/// How one amendment is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub amendment: &'a PendingAmendment,
    /// Shown inline in the text.
    pub inline: bool,
    /// Its range is not a range of this text reading its `original`.
    pub unlocated: bool,
    /// The inline amendments it overlaps (by id), when it is not inline
    /// for that reason.
    pub overlaps: Vec<i64>,
}

/// An element's text compiled with its amendments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Compiled<'a> {
    pub paragraphs: Vec<Paragraph<'a>>,
    /// Every amendment, in the order given.
    pub entries: Vec<Entry<'a>>,
}

/// "A3": an amendment's number as every export shows it (its id in the API).
pub(crate) fn number(a: &PendingAmendment) -> String {
    format!("A{}", a.id)
}

/// The range of `a` if it is a range of `chars` that reads `a.original`.
fn located(a: &PendingAmendment, chars: &[char]) -> Option<(usize, usize)> {
    let (from, to) = (a.from?, a.to?);
    if from > to || to > chars.len() {
        return None;
    }
    let passage: String = chars[from..to].iter().collect();
    (passage == a.original).then_some((from, to))
}

fn overlap((f1, t1): (usize, usize), (f2, t2): (usize, usize)) -> bool {
    match (f1 == t1, f2 == t2) {
        (true, true) => f1 == f2,
        (true, false) => f2 < f1 && f1 < t2,
        (false, true) => f1 < f2 && f2 < t1,
        (false, false) => f1 < t2 && f2 < t1,
    }
}

pub(crate) fn compile(element: &ElementSnapshot) -> Compiled<'_> {
    let chars: Vec<char> = element.text.chars().collect();
    let mut entries = Vec::new();
    let mut placed: Vec<((usize, usize), &PendingAmendment)> = Vec::new();
    for a in &element.amendments {
        let mut entry = Entry {
            amendment: a,
            inline: false,
            unlocated: false,
            overlaps: Vec::new(),
        };
        match located(a, &chars) {
            None => entry.unlocated = true,
            // Nothing to show: neither a passage nor a replacement.
            Some((from, to)) if from == to && a.text.is_empty() => {}
            Some(range) => {
                entry.overlaps = placed
                    .iter()
                    .filter(|(r, _)| overlap(*r, range))
                    .map(|(_, p)| p.id)
                    .collect();
                if entry.overlaps.is_empty() {
                    entry.inline = true;
                    placed.push((range, a));
                }
            }
        }
        entries.push(entry);
    }
    placed.sort_by_key(|((from, to), _)| (*from, *to));

    // The text as pieces, in order.
    let mut pieces: Vec<Piece<'_>> = Vec::new();
    let mut at = 0;
    for ((from, to), a) in placed {
        if from > at {
            pieces.push(Piece::Text(chars[at..from].iter().collect()));
        }
        pieces.push(Piece::Change(a));
        at = to;
    }
    if at < chars.len() {
        pieces.push(Piece::Text(chars[at..].iter().collect()));
    }

    let mut paragraphs: Vec<Paragraph<'_>> = Vec::new();
    let mut paragraph: Paragraph<'_> = Vec::new();
    let mut line: Vec<Piece<'_>> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Change(_) => line.push(piece),
            Piece::Text(text) => {
                let text = normalize_newlines(&text);
                let mut parts = text.split('\n');
                if let Some(first) = parts.next() {
                    push_text(&mut line, first);
                }
                for part in parts {
                    end_line(&mut paragraphs, &mut paragraph, std::mem::take(&mut line));
                    push_text(&mut line, part);
                }
            }
        }
    }
    end_line(&mut paragraphs, &mut paragraph, line);
    if !paragraph.is_empty() {
        paragraphs.push(paragraph);
    }
    Compiled {
        paragraphs,
        entries,
    }
}

fn push_text(line: &mut Vec<Piece<'_>>, text: &str) {
    if !text.is_empty() {
        line.push(Piece::Text(text.to_owned()));
    }
}

/// Ends a line: trimmed at both ends; a blank line ends the paragraph.
fn end_line<'a>(
    paragraphs: &mut Vec<Paragraph<'a>>,
    paragraph: &mut Paragraph<'a>,
    mut line: Vec<Piece<'a>>,
) {
    if let Some(Piece::Text(t)) = line.first_mut() {
        *t = t.trim_start().to_owned();
    }
    if let Some(Piece::Text(t)) = line.last_mut() {
        *t = t.trim_end().to_owned();
    }
    line.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
    if line.is_empty() {
        if !paragraph.is_empty() {
            paragraphs.push(std::mem::take(paragraph));
        }
    } else {
        paragraph.push(line);
    }
}

/// A passage or replacement inside a change, as lines: split at line ends,
/// the spaces around each line end and blank lines dropped; the spaces at
/// its start and end are kept (they are part of what changes). A change
/// stays within its line of the compiled text: renderers join these with a
/// line break where the format has one inline, else a space.
pub(crate) fn change_lines(s: &str) -> Vec<String> {
    let text = normalize_newlines(s);
    let parts: Vec<&str> = text.split('\n').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let part = if i > 0 { part.trim_start() } else { part };
            if i < last { part.trim_end() } else { part }
        })
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amendment(id: i64, from: usize, to: usize, original: &str, text: &str) -> PendingAmendment {
        PendingAmendment {
            id,
            entity: "IOM".into(),
            sponsors: vec!["IOM".into()],
            from: Some(from),
            to: Some(to),
            original: original.into(),
            text: text.into(),
            reason: "r".into(),
            conflict: false,
        }
    }

    fn shape(c: &Compiled<'_>) -> Vec<Vec<Vec<String>>> {
        c.paragraphs
            .iter()
            .map(|p| {
                p.iter()
                    .map(|l| {
                        l.iter()
                            .map(|piece| match piece {
                                Piece::Text(t) => t.clone(),
                                Piece::Change(a) => number(a),
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn places_changes_in_order_and_lists_overlaps() {
        let element = ElementSnapshot {
            text: "the genuine choice of migrants".into(),
            amendments: vec![
                amendment(3, 12, 18, "choice", "informed choice"),
                amendment(4, 4, 30, "genuine choice of migrants", "x"),
                amendment(5, 0, 0, "", "Ensure "),
                amendment(6, 30, 30, "", "."),
                amendment(7, 12, 12, "", "free "),
                amendment(8, 4, 12, "genuine ", ""),
                amendment(9, 15, 15, "", "X"),
                amendment(10, 1, 2, "x", "y"),
                amendment(11, 0, 0, "", "Again "),
            ],
            ..ElementSnapshot::default()
        };
        let c = compile(&element);
        assert_eq!(
            shape(&c),
            vec![vec![vec![
                "A5".to_owned(),
                "the ".into(),
                "A8".into(),
                "A7".into(),
                "A3".into(),
                " of migrants".into(),
                "A6".into(),
            ]]]
        );
        let inline: Vec<i64> = c
            .entries
            .iter()
            .filter(|e| e.inline)
            .map(|e| e.amendment.id)
            .collect();
        assert_eq!(inline, vec![3, 5, 6, 7, 8]);
        let by_id = |id: i64| c.entries.iter().find(|e| e.amendment.id == id).unwrap();
        assert_eq!(by_id(4).overlaps, vec![3]);
        assert_eq!(by_id(9).overlaps, vec![3]);
        assert_eq!(by_id(11).overlaps, vec![5]);
        assert!(by_id(10).unlocated && !by_id(10).inline);
        assert_eq!(c.entries.len(), 9);
    }

    #[test]
    fn paragraphs_are_those_of_the_plain_text() {
        let text = "  one\r\ntwo \n\n\n three\n";
        let plain = ElementSnapshot {
            text: text.into(),
            ..ElementSnapshot::default()
        };
        let expected: Vec<Vec<Vec<String>>> = crate::paragraphs(text)
            .into_iter()
            .map(|p| p.into_iter().map(|l| vec![l]).collect())
            .collect();
        assert_eq!(shape(&compile(&plain)), expected);

        // A change across a paragraph break stays one piece of one line.
        let chars: Vec<char> = text.chars().collect();
        let original: String = chars[9..17].iter().collect();
        let amended = ElementSnapshot {
            text: text.into(),
            amendments: vec![amendment(1, 9, 17, &original, "2")],
            ..ElementSnapshot::default()
        };
        assert_eq!(
            shape(&compile(&amended)),
            vec![vec![
                vec!["one".to_owned()],
                vec!["tw".into(), "A1".into(), "ree".into()]
            ]]
        );
        assert_eq!(change_lines("o \n\n\n th"), vec!["o", "th"]);
        assert_eq!(change_lines(" a b \r\n c "), vec![" a b", "c "]);
        assert_eq!(change_lines("\n"), Vec::<String>::new());
    }

    #[test]
    fn ranges_are_code_points_and_checked_against_the_text() {
        let text = "héllo wörld";
        let ok = amendment(1, 6, 11, "wörld", "world");
        let element = ElementSnapshot {
            text: text.into(),
            amendments: vec![
                ok,
                amendment(2, 6, 12, "wörld", "x"),
                PendingAmendment {
                    from: None,
                    ..amendment(3, 0, 1, "h", "H")
                },
            ],
            ..ElementSnapshot::default()
        };
        let c = compile(&element);
        assert_eq!(
            shape(&c),
            vec![vec![vec!["héllo ".to_owned(), "A1".into()]]]
        );
        assert!(c.entries[1].unlocated && c.entries[2].unlocated);
    }
}
