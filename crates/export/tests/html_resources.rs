//! What the HTML page needs from a Content-Security-Policy: its one
//! `<style>` element (whose content `html_style` gives, for a hash), and
//! nothing else: no scripts, no style attributes, nothing loaded.

mod common;

use accord_export::{compilation_html, html, html_style};

#[test]
fn the_page_uses_only_its_one_style_element() {
    let pages = [
        common::sample(),
        common::full(),
        common::hostile(),
        common::amended(),
    ]
    .iter()
    .flat_map(|s| [html(s), compilation_html(s)])
    .collect::<Vec<_>>();
    for page in pages {
        assert_eq!(page.matches("<style").count(), 1, "{page}");
        assert!(
            page.contains(&format!("<style>{}</style>", html_style())),
            "the style element holds exactly html_style()"
        );
        for needle in [
            "<script", " style=", "<link", "<img", "<iframe", "<object", "<embed", "<form",
            "<base", " src=", "url(", "@import",
        ] {
            assert!(!page.contains(needle), "the page uses {needle:?}:\n{page}");
        }
    }
}
