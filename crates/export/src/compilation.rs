//! The compilation text: the draft as a meeting reads it, each element's
//! text with every pending amendment marked in it, then the list of the
//! element's amendments. As Markdown (CriticMarkup) and as a printable HTML
//! page.
//!
//! # Markdown: CriticMarkup
//!
//! A change is marked with CriticMarkup, a plain-text convention for
//! tracked changes: a replacement `{~~old~>new~~}`, a deletion
//! `{--old--}`, an insertion `{++new++}`, each followed by a comment with
//! the amendment's number and its sponsors' entity codes, the proposing
//! entity first: `{>>A3: IOM, UNDP<<}` (`{>>A3, in conflict: IOM<<}` when
//! its passage changed since it was proposed). A line end inside a passage
//! or a replacement reads as a space.
//!
//! The text cannot forge that markup. Every text (the draft's, the
//! passages, the replacements, the codes, the reasons) is escaped as the
//! Markdown export escapes it — among others every `{`, `}`, `~`, `<` and
//! `>` gets a backslash — and a `{` followed by `-`, `+` or `=` has that
//! character escaped too. Every CriticMarkup delimiter (`{--`, `--}`,
//! `{++`, `++}`, `{~~`, `~>`, `~~}`, `{>>`, `<<}`, `{==`, `==}`) holds a
//! `{` directly followed by a delimiter character, or a `}`, `~` or `>`
//! without a backslash, so none appears in escaped text; not even a
//! processor that ignores backslashes finds one.

use std::fmt::Write as _;

use crate::compile::{Compiled, Entry, Piece, change_lines, compile, number};
use crate::html::{escape, html_style};
use crate::markdown::{INLINE_SPECIAL, escape_line_start};
use crate::{PendingAmendment, Snapshot, date_time, entity_name, iso, one_line, paragraphs};

const LEGEND: &str = "Each pending amendment is marked in the text where it applies: the \
    passage it deletes, the text it inserts, then its number and its sponsors' entity codes \
    (the proposing entity first). The amendments to each element are listed after it; one \
    that overlaps an amendment already marked at that place is listed only.";

/// The element's label, or "Element N".
fn label_of(s: &Snapshot, i: usize) -> String {
    let label = one_line(&s.elements[i].label);
    if label.is_empty() {
        format!("Element {}", i + 1)
    } else {
        label
    }
}

/// "A3: IOM, UNDP" / "A3, in conflict: IOM".
pub(crate) fn tag(a: &PendingAmendment) -> (String, Vec<String>) {
    let mut head = number(a);
    if a.conflict {
        head.push_str(", in conflict");
    }
    let mut codes: Vec<String> = a.sponsors.iter().map(|c| one_line(c)).collect();
    if codes.is_empty() {
        codes.push(one_line(&a.entity));
    }
    (head, codes)
}

/// What the amendment proposes, in words: (verb, passage, replacement).
pub(crate) fn proposal(a: &PendingAmendment) -> (&'static str, Option<String>, Option<String>) {
    let old = (!a.original.is_empty()).then(|| one_line(&a.original));
    let new = (!a.text.is_empty()).then(|| one_line(&a.text));
    let verb = match (&old, &new) {
        (Some(_), Some(_)) => "Replace",
        (Some(_), None) => "Delete",
        (None, _) => "Insert",
    };
    (verb, old, new)
}

/// Why an amendment is not marked in the text, if it is not.
pub(crate) fn not_marked(e: &Entry<'_>) -> Option<String> {
    if e.inline {
        return None;
    }
    if e.unlocated {
        return Some("Not marked in the text: its passage is not located in it.".into());
    }
    if e.overlaps.is_empty() {
        return Some("Not marked in the text: it changes nothing there.".into());
    }
    let ids: Vec<String> = e.overlaps.iter().map(|id| format!("A{id}")).collect();
    Some(format!(
        "Not marked in the text: it overlaps {}.",
        ids.join(", ")
    ))
}

// ---------------------------------------------------------------------------
// Markdown.

/// Escapes text for the compilation (see the module documentation).
fn critic(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut after_brace = false;
    for c in s.chars() {
        if INLINE_SPECIAL.contains(&c) || (after_brace && matches!(c, '-' | '+' | '=')) {
            out.push('\\');
        }
        out.push(if c.is_control() { '\u{FFFD}' } else { c });
        after_brace = c == '{';
    }
    out
}

fn md_change(a: &PendingAmendment) -> String {
    let content = |s: &str| {
        change_lines(s)
            .iter()
            .map(|l| critic(l))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (old, new) = (content(&a.original), content(&a.text));
    let change = match (a.original.is_empty(), a.text.is_empty()) {
        (false, false) => format!("{{~~{old}~>{new}~~}}"),
        (false, true) => format!("{{--{old}--}}"),
        (true, _) => format!("{{++{new}++}}"),
    };
    let (head, codes) = tag(a);
    let codes: Vec<String> = codes.iter().map(|c| critic(c)).collect();
    format!("{change}{{>>{head}: {}<<}}", codes.join(", "))
}

fn md_line(line: &[Piece<'_>]) -> String {
    let mut out = String::new();
    for (i, piece) in line.iter().enumerate() {
        match piece {
            Piece::Text(t) if i == 0 => out.push_str(&escape_line_start(critic(t))),
            Piece::Text(t) => out.push_str(&critic(t)),
            Piece::Change(a) => out.push_str(&md_change(a)),
        }
    }
    out
}

fn md_text(c: &Compiled<'_>) -> Option<String> {
    if c.paragraphs.is_empty() {
        return None;
    }
    Some(
        c.paragraphs
            .iter()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| md_line(l))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
    )
}

fn md_entry(e: &Entry<'_>) -> String {
    let a = e.amendment;
    let (_, codes) = tag(a);
    let codes: Vec<String> = codes.iter().map(|c| critic(c)).collect();
    let mut s = format!(
        "- **{}** ({}; sponsors: {}): ",
        number(a),
        critic(&one_line(&a.entity)),
        codes.join(", ")
    );
    let quote = |t: &Option<String>| t.as_deref().map(|t| format!("“{}”", critic(t)));
    let (verb, old, new) = proposal(a);
    match (quote(&old), quote(&new)) {
        (Some(old), Some(new)) => {
            let _ = write!(s, "{verb} {old} with {new}.");
        }
        (Some(old), None) => {
            let _ = write!(s, "{verb} {old}.");
        }
        (None, new) => {
            let _ = write!(s, "{verb} {}.", new.unwrap_or_default());
        }
    }
    let reason = one_line(&a.reason);
    if !reason.is_empty() {
        let _ = write!(s, " Reason: {}", critic(&reason));
    }
    if a.conflict {
        s.push_str(" In conflict: its passage changed since it was proposed.");
    }
    if let Some(why) = not_marked(e) {
        let _ = write!(s, " {why}");
    }
    s
}

/// The compilation text as Markdown: the title, the version and its date,
/// the preamble, then each element as its label and its text with every
/// pending amendment marked inline in CriticMarkup, followed by the list of
/// its amendments (number, proposing entity, sponsors, what it proposes,
/// reason, "in conflict" when so, and why one is not marked in the text).
/// See the module documentation for the markup and its escaping.
pub fn compilation_markdown(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {}\n",
        escape_line_start(critic(&one_line(&s.title)))
    );
    let _ = writeln!(
        out,
        "Compilation text — version: {} — {}\n",
        critic(&one_line(&s.version_label)),
        date_time(s.at)
    );
    let _ = writeln!(out, "{LEGEND}\n");
    let preamble = paragraphs(&s.preamble);
    if !preamble.is_empty() {
        let text = preamble
            .iter()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| escape_line_start(critic(l)))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        let _ = writeln!(out, "{text}\n");
    }
    for (i, element) in s.elements.iter().enumerate() {
        let compiled = compile(element);
        let label = critic(&one_line(&element.label));
        match (label.is_empty(), md_text(&compiled)) {
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
        if !compiled.entries.is_empty() {
            let _ = writeln!(out, "Amendments to {}:\n", critic(&label_of(s, i)));
            for e in &compiled.entries {
                let _ = writeln!(out, "{}", md_entry(e));
            }
            out.push('\n');
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

// ---------------------------------------------------------------------------
// HTML.

fn html_change(a: &PendingAmendment) -> String {
    let content = |s: &str| {
        change_lines(s)
            .iter()
            .map(|l| escape(l))
            .collect::<Vec<_>>()
            .join("<br>")
    };
    let class = if a.conflict {
        "amendment conflict"
    } else {
        "amendment"
    };
    let n = number(a);
    let mut out = String::new();
    if !a.original.is_empty() {
        let _ = write!(
            out,
            "<del class=\"{class}\" data-amendment=\"{n}\">{}</del>",
            content(&a.original)
        );
    }
    if !a.text.is_empty() {
        let _ = write!(
            out,
            "<ins class=\"{class}\" data-amendment=\"{n}\">{}</ins>",
            content(&a.text)
        );
    }
    let (head, codes) = tag(a);
    let _ = write!(
        out,
        "<small class=\"sponsors\" data-amendment=\"{n}\">{}: {}</small>",
        escape(&head),
        escape(&codes.join(", "))
    );
    out
}

fn html_text(c: &Compiled<'_>) -> String {
    let mut out = String::new();
    for lines in &c.paragraphs {
        let body = lines
            .iter()
            .map(|line| {
                line.iter()
                    .map(|piece| match piece {
                        Piece::Text(t) => escape(t),
                        Piece::Change(a) => html_change(a),
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("<br>\n");
        let _ = writeln!(out, "<p>{body}</p>");
    }
    out
}

fn html_entry(s: &Snapshot, e: &Entry<'_>) -> String {
    let a = e.amendment;
    let (_, codes) = tag(a);
    let class = if a.conflict {
        "amendment conflict"
    } else {
        "amendment"
    };
    let entity = one_line(&a.entity);
    let mut out = format!(
        "<li id=\"amendment-{}\" class=\"{class}\"><strong>{}</strong> (<abbr title=\"{}\">{}</abbr>; sponsors: {}): ",
        a.id,
        number(a),
        escape(&one_line(entity_name(s, &a.entity))),
        escape(&entity),
        escape(&codes.join(", "))
    );
    let (verb, old, new) = proposal(a);
    let old = old.map(|t| format!("“<del>{}</del>”", escape(&t)));
    let new = new.map(|t| format!("“<ins>{}</ins>”", escape(&t)));
    match (old, new) {
        (Some(old), Some(new)) => {
            let _ = write!(out, "{verb} {old} with {new}.");
        }
        (Some(old), None) => {
            let _ = write!(out, "{verb} {old}.");
        }
        (None, new) => {
            let _ = write!(out, "{verb} {}.", new.unwrap_or_default());
        }
    }
    let reason = one_line(&a.reason);
    if !reason.is_empty() {
        let _ = write!(out, " Reason: {}", escape(&reason));
    }
    if a.conflict {
        out.push_str(
            " <span class=\"flag\">In conflict:</span> its passage changed since it was proposed.",
        );
    }
    if let Some(why) = not_marked(e) {
        let _ = write!(out, " <span class=\"flag\">{}</span>", escape(&why));
    }
    out.push_str("</li>");
    out
}

/// The compilation text as a standalone, printable HTML page (the HTML
/// export's style, no scripts, nothing loaded): title, version, preamble,
/// each element's text with every pending amendment marked inline — the
/// passage in `<del>`, the replacement in `<ins>` (class `amendment`, and
/// `conflict` when so; `data-amendment` its number), its number and
/// sponsors in a `<small class="sponsors">` after — then the list of the
/// element's amendments. Every text is HTML-escaped.
pub fn compilation_html(s: &Snapshot) -> String {
    let title = one_line(&s.title);
    let version = one_line(&s.version_label);
    let mut out = String::new();
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>{} — compilation text ({})</title>",
        escape(&title),
        escape(&version)
    );
    let _ = writeln!(out, "<style>{}</style>\n</head>\n<body>", html_style());
    out.push_str("<header>\n");
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        out,
        "<p class=\"version\">Compilation text — version: {} — <time datetime=\"{}\">{}</time></p>",
        escape(&version),
        iso(s.at),
        date_time(s.at)
    );
    let _ = writeln!(out, "<p class=\"legend\">{}</p>", escape(LEGEND));
    out.push_str("</header>\n<main>\n");

    let preamble = paragraphs(&s.preamble);
    if !preamble.is_empty() {
        out.push_str("<section class=\"preamble\">\n");
        for lines in &preamble {
            let body = lines
                .iter()
                .map(|l| escape(l))
                .collect::<Vec<_>>()
                .join("<br>\n");
            let _ = writeln!(out, "<p>{body}</p>");
        }
        out.push_str("</section>\n");
    }

    out.push_str("<section class=\"elements\">\n");
    for (i, element) in s.elements.iter().enumerate() {
        let compiled = compile(element);
        let _ = write!(
            out,
            "<div class=\"element\" id=\"element-{}\">\n<div class=\"label\">{}</div>\n<div class=\"text\">\n{}",
            i + 1,
            escape(&one_line(&element.label)),
            html_text(&compiled)
        );
        if !compiled.entries.is_empty() {
            let _ = writeln!(
                out,
                "<ul class=\"amendments\" aria-label=\"Amendments to {}\">",
                escape(&label_of(s, i))
            );
            for e in &compiled.entries {
                let _ = writeln!(out, "{}", html_entry(s, e));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</div>\n</div>\n");
    }
    out.push_str("</section>\n</main>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::critic;

    #[test]
    fn escaped_text_holds_no_critic_markup() {
        assert_eq!(critic("{--x--}"), r"\{\--x--\}");
        assert_eq!(critic("{++x++}"), r"\{\++x++\}");
        assert_eq!(critic("{==x==}"), r"\{\==x==\}");
        assert_eq!(critic("{~~a~>b~~}"), r"\{\~\~a\~\>b\~\~\}");
        assert_eq!(critic("{>>c<<}"), r"\{\>\>c\<\<\}");
        assert_eq!(critic("a-b {x}"), r"a-b \{x\}");
        for evil in ["{--x--}", "{++x++}", "{~~a~>b~~}", "{>>c<<}", "{==h==}"] {
            let e = critic(evil);
            for delimiter in [
                "{--", "--}", "{++", "++}", "{~~", "~>", "~~}", "{>>", "<<}", "{==", "==}",
            ] {
                assert!(!e.contains(delimiter), "{delimiter} in {e}");
            }
        }
    }
}
