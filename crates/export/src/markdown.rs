//! Markdown export (CommonMark, GitHub-flavoured safe).

use std::fmt::Write as _;

use crate::{
    Position, Snapshot, Standing, all_entities, annex_rows, date, date_time, one_line, paragraphs,
    stance_label, status_label,
};

/// The draft at the version as Markdown: the title, the version and its date,
/// the preamble, each element as its label and text, then the consensus
/// annex (each element's status and every entity's position).
///
/// Every text is escaped, so that nothing in it is read as Markdown: square
/// brackets (unresolved alternatives in the negotiated text) print as
/// brackets, never as links.
pub fn markdown(s: &Snapshot) -> String {
    let mut out = String::new();
    let title = escape_line(&one_line(&s.title));
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(
        out,
        "Version: {} — {}\n",
        escape_line(&one_line(&s.version_label)),
        date_time(s.at)
    );

    if let Some(text) = block(&s.preamble) {
        let _ = writeln!(out, "{text}\n");
    }

    for element in &s.elements {
        let label = escape_line(&one_line(&element.label));
        let text = block(&element.text);
        match (label.is_empty(), text) {
            (false, Some(text)) => {
                let _ = writeln!(out, "**{label}** {text}\n");
            }
            (false, None) => {
                let _ = writeln!(out, "**{label}**\n");
            }
            (true, Some(text)) => {
                let _ = writeln!(out, "{text}\n");
            }
            (true, None) => {}
        }
    }

    let entities = all_entities(s);
    out.push_str("## Consensus annex\n\n");
    let _ = writeln!(
        out,
        "The status of each element and each entity's position as the ledger stood at this \
         version; dates in UTC.\n"
    );
    out.push_str("### Participating entities\n\n");
    for (code, name) in &entities {
        let _ = writeln!(
            out,
            "- **{}**: {}",
            escape_line(&one_line(code)),
            escape_line(&one_line(name))
        );
    }
    out.push('\n');

    for (i, element) in s.elements.iter().enumerate() {
        let mut label = escape_line(&one_line(&element.label));
        if label.is_empty() {
            label = format!("Element {}", i + 1);
        }
        let _ = writeln!(
            out,
            "### {label} — {}\n",
            escape_line(&status_label(&element.status))
        );
        for row in annex_rows(&entities, element) {
            let _ = writeln!(
                out,
                "- **{}**: {}",
                escape_line(&one_line(row.code)),
                describe(row.standing)
            );
        }
        out.push('\n');
    }

    // One trailing newline.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// An entity's standing, in words (escaped).
fn describe(standing: Standing<'_>) -> String {
    match standing {
        Standing::Current(p) => {
            let mut s = escape_line(&stance_label(&p.stance));
            if p.by_silence {
                s.push_str(" by silence");
            }
            let _ = write!(s, ", {}", date(p.at));
            s.push_str(&details(p));
            s
        }
        Standing::Stale(p) => format!(
            "no response (stale: {} of {} given on an earlier text)",
            escape_line(&stance_label(&p.stance)),
            date(p.at)
        ),
        Standing::NoResponse => "no response".to_owned(),
    }
}

/// The note (a reservation's note, an objection's reason) and any proposed
/// wording.
fn details(p: &Position) -> String {
    let mut s = String::new();
    let note = p.note.as_deref().map(one_line).filter(|n| !n.is_empty());
    let wording = p.wording.as_deref().map(one_line).filter(|w| !w.is_empty());
    if let Some(note) = note {
        let what = if p.stance == "object" {
            "reason"
        } else {
            "note"
        };
        let _ = write!(s, " — {what}: {}", escape_line(&note));
    }
    if let Some(wording) = wording {
        let _ = write!(s, " — proposed wording: “{}”", escape_line(&wording));
    }
    s
}

/// A multi-line text as Markdown paragraphs (lines kept, blank lines between
/// paragraphs), escaped; `None` when the text is blank.
fn block(text: &str) -> Option<String> {
    let paras = paragraphs(text);
    if paras.is_empty() {
        return None;
    }
    Some(
        paras
            .iter()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| escape_line(l))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
    )
}

/// Characters that are escaped wherever they stand.
pub(crate) const INLINE_SPECIAL: &[char] = &[
    '\\', '`', '*', '_', '[', ']', '<', '>', '&', '|', '~', '$', '{', '}',
];

/// Escapes one line (no newline in it; leading spaces are dropped, so that
/// indentation never makes a code block) so that it reads as literal text;
/// control characters become U+FFFD.
pub(crate) fn escape_line(line: &str) -> String {
    escape_line_start(escape_inline(line.trim_start()))
}

/// Escapes text inside a line: every Markdown special character gets a
/// backslash, control characters become U+FFFD.
pub(crate) fn escape_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if INLINE_SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(if c.is_control() { '\u{FFFD}' } else { c });
    }
    out
}

/// Escapes what is special only at the start of a line in `out` (already
/// escaped inline): headings, list markers, setext underlines, ordered-list
/// numbers ("1." / "1)").
pub(crate) fn escape_line_start(mut out: String) -> String {
    match out.chars().next() {
        Some('#' | '+' | '-' | '=') => out.insert(0, '\\'),
        Some(c) if c.is_ascii_digit() => {
            let digits = out.chars().take_while(char::is_ascii_digit).count();
            if matches!(out[digits..].chars().next(), Some('.' | ')')) {
                out.insert(digits, '\\');
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_line;

    #[test]
    fn escapes_inline_specials() {
        assert_eq!(escape_line("[a] or [b]"), r"\[a\] or \[b\]");
        assert_eq!(
            escape_line("*x* _y_ `z` <b> & a|b ~~s~~ $m$"),
            r"\*x\* \_y\_ \`z\` \<b\> \& a\|b \~\~s\~\~ \$m\$"
        );
        assert_eq!(escape_line(r"a\b"), r"a\\b");
    }

    #[test]
    fn escapes_line_starts() {
        assert_eq!(escape_line("# heading"), r"\# heading");
        assert_eq!(escape_line("   - item"), r"\- item");
        assert_eq!(escape_line("+ item"), r"\+ item");
        assert_eq!(escape_line("==="), r"\===");
        assert_eq!(escape_line("12. item"), r"12\. item");
        assert_eq!(escape_line("3) item"), r"3\) item");
        assert_eq!(escape_line("2013 was"), "2013 was");
        assert_eq!(escape_line("> quote"), r"\> quote");
        assert_eq!(escape_line("a # b - c"), "a # b - c");
    }
}
