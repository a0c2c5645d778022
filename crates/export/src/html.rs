//! HTML export: one standalone, printable page (no scripts, no external
//! resources).

use std::fmt::Write as _;

use crate::{
    Position, Snapshot, Standing, all_entities, annex_rows, capitalize, date, date_time, iso,
    one_line, paragraphs, stance_label, status_label,
};

const CSS: &str = "\
:root { color-scheme: light; }
body { font-family: Georgia, 'Times New Roman', serif; font-size: 12pt; line-height: 1.45;
  color: #111; background: #fff; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6em; line-height: 1.25; margin: 0 0 .4em; }
h2 { font-size: 1.3em; margin: 2em 0 .6em; border-bottom: 1px solid #999; }
h3 { font-size: 1.1em; margin: 1.6em 0 .4em; }
.version { color: #444; margin: 0 0 1.6em; }
.preamble p { margin: 0 0 1em; }
.element { display: flex; gap: .8em; margin: 0 0 .9em; }
.element .label { flex: 0 0 2.6em; font-weight: bold; }
.element .text p { margin: 0 0 .5em; }
.status { font-weight: normal; font-style: italic; color: #333; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; font-size: .9em; }
th, td { border: 1px solid #999; padding: .2em .4em; text-align: left; vertical-align: top; }
thead th { background: #eee; }
.matrix td { text-align: center; white-space: nowrap; }
.matrix th[scope=row] { white-space: nowrap; }
.none, .stale, .legend { color: #555; }
.legend { font-size: .85em; }
.object { font-weight: bold; }
abbr[title] { text-decoration: none; }
del.amendment { color: #8b1a1a; text-decoration: line-through; }
ins.amendment { color: #14532d; text-decoration: underline; }
.amendment.conflict { text-decoration-style: dashed; }
.sponsors { font-size: .75em; color: #333; margin: 0 .2em; white-space: nowrap; }
.amendments { font-size: .9em; margin: .2em 0 .9em; padding-left: 1.2em; }
.amendments li { margin: 0 0 .3em; }
.flag { font-weight: bold; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  h2 { break-before: page; }
  h2, h3 { break-after: avoid; }
  tr, .element, .amendments li { break-inside: avoid; }
  thead { display: table-header-group; }
  thead th { background: none; }
}
";

/// The content of the page's one `<style>` element: all that a
/// Content-Security-Policy for the page has to allow (by its hash).
pub fn html_style() -> String {
    format!("\n{CSS}")
}

/// The draft at the version as a standalone HTML page: title, version label
/// and date (UTC), preamble, the elements with their labels, then the
/// consensus annex: a matrix entity × element and, per element, its status
/// and each entity's position with its date and notes.
///
/// Every text is HTML-escaped; the page has no scripts and loads nothing.
pub fn html(s: &Snapshot) -> String {
    let title = one_line(&s.title);
    let version = one_line(&s.version_label);
    let mut out = String::new();
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>{} ({})</title>",
        escape(&title),
        escape(&version)
    );
    let _ = writeln!(out, "<style>{}</style>\n</head>\n<body>", html_style());

    out.push_str("<header>\n");
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        out,
        "<p class=\"version\">Version: {} — <time datetime=\"{}\">{}</time></p>",
        escape(&version),
        iso(s.at),
        date_time(s.at)
    );
    out.push_str("</header>\n<main>\n");

    let preamble = paragraphs(&s.preamble);
    if !preamble.is_empty() {
        out.push_str("<section class=\"preamble\">\n");
        out.push_str(&paras_html(&preamble));
        out.push_str("</section>\n");
    }

    out.push_str("<section class=\"elements\">\n");
    for (i, element) in s.elements.iter().enumerate() {
        let _ = writeln!(
            out,
            "<div class=\"element\" id=\"element-{}\">\n<div class=\"label\">{}</div>\n<div class=\"text\">\n{}</div>\n</div>",
            i + 1,
            escape(&one_line(&element.label)),
            paras_html(&paragraphs(&element.text))
        );
    }
    out.push_str("</section>\n");

    annex(&mut out, s);

    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn element_label(s: &Snapshot, i: usize) -> String {
    let label = one_line(&s.elements[i].label);
    if label.is_empty() {
        format!("Element {}", i + 1)
    } else {
        label
    }
}

fn annex(out: &mut String, s: &Snapshot) {
    let entities = all_entities(s);
    out.push_str("<section class=\"annex\">\n<h2>Consensus annex</h2>\n");
    out.push_str(
        "<p>The status of each element and each entity's position as the ledger stood at \
         this version; dates in UTC.</p>\n",
    );

    out.push_str(
        "<h3>Participating entities</h3>\n<table class=\"entities\">\n<thead><tr><th scope=\"col\">Code</th>\
         <th scope=\"col\">Name</th></tr></thead>\n<tbody>\n",
    );
    for &(code, name) in &entities {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(&one_line(code)),
            escape(&one_line(name))
        );
    }
    out.push_str("</tbody>\n</table>\n");

    // The matrix: entity × element.
    if !s.elements.is_empty() {
        out.push_str("<h3>Overview</h3>\n<table class=\"matrix\">\n<thead>\n<tr><th scope=\"col\">Entity</th>");
        for i in 0..s.elements.len() {
            let _ = write!(
                out,
                "<th scope=\"col\">{}</th>",
                escape(&element_label(s, i))
            );
        }
        out.push_str("</tr>\n<tr><th scope=\"row\">Status</th>");
        for element in &s.elements {
            let _ = write!(
                out,
                "<td class=\"status\">{}</td>",
                escape(&status_label(&element.status))
            );
        }
        out.push_str("</tr>\n</thead>\n<tbody>\n");
        for &(code, name) in &entities {
            let _ = write!(
                out,
                "<tr><th scope=\"row\"><abbr title=\"{}\">{}</abbr></th>",
                escape(&one_line(name)),
                escape(&one_line(code))
            );
            for element in &s.elements {
                let (class, text) = match crate::standing(element, code) {
                    Standing::Current(p) => {
                        let mut text = stance_label(&p.stance);
                        if p.by_silence {
                            text.push_str(" (silence)");
                        }
                        (stance_class(&p.stance), text)
                    }
                    Standing::Stale(_) => ("stale", "stale".to_owned()),
                    Standing::NoResponse => ("none", "—".to_owned()),
                };
                let _ = write!(out, "<td class=\"{class}\">{}</td>", escape(&text));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out.push_str(
            "<p class=\"legend\">—: no response. stale: the position was given on an earlier \
             text and does not count. (silence): support recorded when a silence procedure \
             ended.</p>\n",
        );
    }

    // Per element: every entity's position, with notes.
    for (i, element) in s.elements.iter().enumerate() {
        let _ = writeln!(
            out,
            "<h3>{} <span class=\"status\">— {}</span></h3>",
            escape(&element_label(s, i)),
            escape(&status_label(&element.status))
        );
        out.push_str(
            "<table>\n<thead><tr><th scope=\"col\">Entity</th><th scope=\"col\">Position</th>\
             <th scope=\"col\">Date</th><th scope=\"col\">Notes</th></tr></thead>\n<tbody>\n",
        );
        for row in annex_rows(&entities, element) {
            let (class, position, when, notes) = match row.standing {
                Standing::Current(p) => {
                    let mut position = capitalize(&stance_label(&p.stance));
                    if p.by_silence {
                        position.push_str(" by silence");
                    }
                    (
                        stance_class(&p.stance),
                        escape(&position),
                        date(p.at),
                        notes_html(p),
                    )
                }
                Standing::Stale(p) => (
                    "stale",
                    "No response".to_owned(),
                    String::new(),
                    format!(
                        "Stale: {} of {} given on an earlier text.",
                        escape(&stance_label(&p.stance)),
                        date(p.at)
                    ),
                ),
                Standing::NoResponse => (
                    "none",
                    "No response".to_owned(),
                    String::new(),
                    String::new(),
                ),
            };
            let _ = writeln!(
                out,
                "<tr class=\"{class}\"><th scope=\"row\"><abbr title=\"{}\">{}</abbr></th><td>{position}</td><td>{when}</td><td>{notes}</td></tr>",
                escape(&one_line(row.name)),
                escape(&one_line(row.code)),
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}

/// A CSS class for a stance (known stances only, so that nothing from the
/// data lands in an attribute unescaped).
fn stance_class(stance: &str) -> &'static str {
    match stance {
        "support" => "support",
        "support_ad_ref" => "support-ad-ref",
        "reservation" => "reservation",
        "abstain" => "abstain",
        "object" => "object",
        _ => "other",
    }
}

fn notes_html(p: &Position) -> String {
    let mut parts = Vec::new();
    if let Some(note) = p.note.as_deref().map(one_line).filter(|n| !n.is_empty()) {
        let what = if p.stance == "object" {
            "Reason"
        } else {
            "Note"
        };
        parts.push(format!("{what}: {}", escape(&note)));
    }
    if let Some(wording) = p.wording.as_deref().map(one_line).filter(|w| !w.is_empty()) {
        parts.push(format!("Proposed wording: “{}”", escape(&wording)));
    }
    parts.join("<br>")
}

fn paras_html(paras: &[Vec<String>]) -> String {
    let mut out = String::new();
    for lines in paras {
        let body = lines
            .iter()
            .map(|l| escape(l))
            .collect::<Vec<_>>()
            .join("<br>\n");
        let _ = writeln!(out, "<p>{body}</p>");
    }
    out
}

/// Escapes text for HTML content and double- or single-quoted attributes;
/// control characters other than tab and newline become U+FFFD.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("a\u{0}b"), "a\u{FFFD}b");
    }
}
