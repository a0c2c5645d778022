//! What the HTML page needs from a Content-Security-Policy: its one
//! `<style>` element (whose content `html_style` gives, for a hash), and
//! nothing else: no scripts, no style attributes, nothing loaded.

mod common;

use accord_export::{html, html_style};

#[test]
fn the_page_uses_only_its_one_style_element() {
    for snapshot in [common::sample(), common::full(), common::hostile()] {
        let page = html(&snapshot);
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
