//! Escaping: nothing in a text, a label, a name or a note is read as markup
//! in any export.

mod common;

use accord_export::{akoma_ntoso, compilation_html, compilation_markdown, html, markdown};

/// Every occurrence of `c` in `s` is preceded by a backslash that is not
/// itself escaped.
fn all_escaped(s: &str, c: char) -> bool {
    let chars: Vec<char> = s.chars().collect();
    chars.iter().enumerate().all(|(i, &ch)| {
        if ch != c {
            return true;
        }
        let backslashes = chars[..i].iter().rev().take_while(|&&b| b == '\\').count();
        backslashes % 2 == 1
    })
}

#[test]
fn markdown_escapes_brackets_and_markup() {
    let sample = markdown(&common::sample());
    assert!(sample.contains(r"a \[genuine\]\[real\] choice, instead of a \*desperate\* necessity \<tag\> \& a last resort;"));
    for s in [sample, markdown(&common::hostile())] {
        for c in ['[', ']', '<', '>', '`', '&', '|', '~', '$', '_'] {
            assert!(all_escaped(&s, c), "an unescaped {c:?} in:\n{s}");
        }
        // `*` only in the template's own bold markers.
        // (Escaped stars are never adjacent, so every "**" is the template's.)
        let stripped = s.replace("**", "");
        assert!(all_escaped(&stripped, '*'), "an unescaped '*' in:\n{s}");
    }
}

#[test]
fn markdown_escapes_line_starts() {
    let s = markdown(&common::hostile());
    for line in s.lines() {
        let template_heading = ["# ", "## ", "### "].iter().any(|h| line.starts_with(h));
        let markup = [
            "    ", ">", "+ ", "- ", "* ", "===", "---", "1. ", "```", "~~~",
        ]
        .iter()
        .any(|m| line.starts_with(m))
            || (line.starts_with('#') && !template_heading);
        // The template's own list items are "- **code**: …".
        let ok = !markup || line.starts_with("- **");
        assert!(ok, "a line that Markdown would read as markup: {line:?}");
    }
    assert!(s.starts_with("# \\# Title"));
    assert!(s.contains(
        "\n\\# not a heading\n\\- not a list\n1\\. not a list\nnot code\n\\> not a quote\n"
    ));
    assert!(s.contains("\n\\===\n\\---\n\\+ x\n"));
    // The only headings are the template's.
    let headings: Vec<&str> = s.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(headings.len(), 5, "{headings:?}");
    assert!(!s.contains('\u{0}') && !s.contains('\u{1b}'));
}

#[test]
fn html_escapes_everything() {
    let s = html(&common::hostile());
    assert!(!s.contains("<script"), "{s}");
    assert!(!s.contains("<b>"));
    assert!(!s.contains("<!-- x"));
    assert!(!s.contains("\"q\""));
    assert!(!s.contains('\u{0}'));
    assert!(s.contains("&lt;/p&gt;&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(s.contains("&amp;amp; &amp;lt; &quot;q&quot; &#39;a&#39;"));
    assert!(s.contains("<abbr title=\"Name &lt;/p&gt;"));
    assert!(s.contains("\">A&quot;B</abbr>"));
    // Exactly the template's tags: one title, one style, no script, nothing
    // external.
    assert_eq!(s.matches("<title>").count(), 1);
    assert_eq!(s.matches("<style>").count(), 1);
    assert!(!s.contains(" src=") && !s.contains("<link") && !s.contains("url("));
    assert!(s.starts_with("<!doctype html>\n<html lang=\"en\">"));
    let sample = html(&common::sample());
    assert!(sample.contains("a [genuine][real] choice, instead of a *desperate* necessity &lt;tag&gt; &amp; a last resort;"));
}

#[test]
fn akoma_ntoso_escapes_everything() {
    let s = akoma_ntoso(&common::hostile());
    assert!(!s.contains("<script"), "{s}");
    assert!(!s.contains("<b>"));
    assert!(!s.contains("<!--"));
    assert!(!s.contains("]]>"));
    assert!(!s.contains('\u{0}') && !s.contains('\u{1b}'));
    assert!(s.contains("&lt;/p&gt;&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; ]]&gt;"));
    assert!(s.contains("<num>&lt;b&gt;(a)&lt;/b&gt;</num>"));
    // Odd entity codes get valid, unique eIds and encoded hrefs.
    assert!(s.contains("<TLCOrganization eId=\"org_A_B\" href=\"/akn/ontology/organizations/un/A%22B\" showAs=\"Name &lt;/p&gt;"));
    assert!(s.contains("<TLCOrganization eId=\"org_1st\""));
    assert!(s.contains(
        "<TLCOrganization eId=\"org__X_\" href=\"/akn/ontology/organizations/un/%3CX%3E\""
    ));
    assert!(s.contains("<FRBRuri value=\"/akn/un/statement/accord/a%20b%2F..%2F%22x%22\"/>"));
    // Two elements with the same label still get distinct eIds.
    assert!(s.contains("<paragraph eId=\"para_b_a_b\""));
    assert!(s.contains("<paragraph eId=\"para_b_a_b-2\""));
    // Every eId is valid: a letter first, then letters, digits, _ - .
    let mut rest = s.as_str();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(i) = rest.find(" eId=\"") {
        rest = &rest[i + 6..];
        let id = &rest[..rest.find('"').unwrap()];
        assert!(id.starts_with(|c: char| c.is_ascii_alphabetic()), "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
            "{id}"
        );
        assert!(seen.insert(id.to_owned()), "duplicate eId {id}");
    }
}

/// The compilation text: nothing in a text, a passage, a replacement, a
/// code or a reason is read as Markdown or as CriticMarkup; the only
/// CriticMarkup is the template's own, one change and one comment per
/// amendment marked in the text.
#[test]
fn compilation_markdown_cannot_be_forged() {
    let s = compilation_markdown(&common::hostile());
    // `<`, `>`, `{`, `}` and `~` only in the template's CriticMarkup.
    for c in ['[', ']', '`', '&', '|', '$', '_'] {
        assert!(all_escaped(&s, c), "an unescaped {c:?} in:\n{s}");
    }
    let stripped = ["{++", "++}", "{--", "--}", "{~~", "~~}", "~>", "{>>", "<<}"]
        .iter()
        .fold(s.clone(), |s, d| s.replace(d, ""));
    for c in ['<', '>', '{', '}', '~'] {
        assert!(
            all_escaped(&stripped, c),
            "an unescaped {c:?} in:\n{stripped}"
        );
    }
    // Hostile element: A1 inserts at the start, A2 replaces "===\n---", A3
    // deletes the control characters' line: three changes, three comments.
    let critic = |d: &str| s.matches(d).count();
    assert_eq!(critic("{>>"), 3, "{s}");
    assert_eq!(critic("<<}"), 3, "{s}");
    assert_eq!(critic("{++") + critic("{--") + critic("{~~"), 3, "{s}");
    assert_eq!(critic("++}") + critic("--}") + critic("~~}"), 3, "{s}");
    assert_eq!(critic("~>"), 1, "{s}");
    assert_eq!(critic("{=="), 0, "{s}");
    assert!(s.contains(r#"{++\{\--forged--\}\{\>\>A9: X\<\<\}++}{>>A1: A"B, \<X\><<}"#));
    // The template's own lines: no heading or list forged at a line start.
    let headings: Vec<&str> = s.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(headings.len(), 1, "{headings:?}");
    for line in s.lines() {
        let list = ["- ", "+ ", "* ", "1. ", "> ", "==="]
            .iter()
            .any(|m| line.starts_with(m));
        assert!(
            !list || line.starts_with("- **A"),
            "markup at a line start: {line:?}"
        );
    }
    assert!(!s.contains('\u{0}') && !s.contains('\u{1b}'));

    let page = compilation_html(&common::hostile());
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains(
        "<ins class=\"amendment\" data-amendment=\"A1\">{--forged--}{&gt;&gt;A9: X&lt;&lt;}</ins>"
    ));
}
