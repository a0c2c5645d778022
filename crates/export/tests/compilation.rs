//! The compilation text of `common::amended()`: every pending amendment
//! marked where it applies (a replacement, insertions at the start and the
//! end, a deletion, one in conflict), the overlapping and the unlocated ones
//! listed only, every amendment listed with its sponsors.

mod common;

use accord_export::{PendingAmendment, compilation_html, compilation_markdown};

#[test]
fn markdown_marks_each_amendment_in_critic_markup() {
    let md = compilation_markdown(&common::amended());
    for marked in [
        // Insertion at the start, replacement, insertion at the end (with
        // markup characters, escaped).
        "**(a)** {++Firmly ++}{>>A4: ILO, DESA<<}Facilitating orderly and \
         {~~safe~>safe, regular~~}{>>A3: IOM, UNDP<<} mobility,",
        "twenty-first century;{++ (see \\*annex\\* \\{\\>\\>x\\<\\<\\} \\~\\> \\[1\\])++}{>>A5: UNDP<<}\n",
        // In conflict, and a deletion.
        "a {~~\\[genuine\\]\\[real\\] choice~>genuine choice~~}{>>A7, in conflict: IOM<<}, \
         instead of a {--\\*desperate\\* --}{>>A8: UNCTAD, DESA, ILO<<}necessity",
    ] {
        assert!(md.contains(marked), "{marked:?} not in:\n{md}");
    }
    // Listed, not marked: A6 overlaps A3, A9 is not located.
    assert!(!md.contains("{>>A6") && !md.contains("{>>A9"), "{md}");
    assert!(md.contains(
        "- **A6** (OHCHR; sponsors: OHCHR): Replace “orderly and safe” with “orderly, safe and \
         regular”. Reason: Reason of A6. Not marked in the text: it overlaps A3.\n"
    ));
    assert!(md.contains("Not marked in the text: its passage is not located in it."));
    assert!(md.contains(
        "- **A3** (IOM; sponsors: IOM, UNDP): Replace “safe” with “safe, regular”. Reason: \
         Aligns with \\<SDG 10.7\\> \\& the \\{\\--GFMM--\\} \\[pathways\\].\n"
    ));
    assert!(md.contains(
        "- **A7** (IOM; sponsors: IOM): Replace “\\[genuine\\]\\[real\\] choice” with “genuine \
         choice”. Reason: Reason of A7. In conflict: its passage changed since it was proposed.\n"
    ));
    // Every amendment listed once, under its element.
    for n in 3..=9 {
        assert_eq!(md.matches(&format!("- **A{n}** ")).count(), 1, "A{n}");
    }
    let (a, b) = (
        md.find("Amendments to (a):").expect("(a)'s list"),
        md.find("Amendments to (b):").expect("(b)'s list"),
    );
    assert!(a < md.find("**(b)**").unwrap() && md.find("- **A7**").unwrap() > b);
    assert!(!md.contains("Amendments to (c)"));
}

#[test]
fn html_marks_each_amendment_with_del_and_ins() {
    let page = compilation_html(&common::amended());
    for marked in [
        "<ins class=\"amendment\" data-amendment=\"A4\">Firmly </ins>\
         <small class=\"sponsors\" data-amendment=\"A4\">A4: ILO, DESA</small>Facilitating",
        "<del class=\"amendment\" data-amendment=\"A3\">safe</del>\
         <ins class=\"amendment\" data-amendment=\"A3\">safe, regular</ins>\
         <small class=\"sponsors\" data-amendment=\"A3\">A3: IOM, UNDP</small> mobility",
        "<ins class=\"amendment\" data-amendment=\"A5\"> (see *annex* {&gt;&gt;x&lt;&lt;} ~&gt; [1])</ins>",
        "<del class=\"amendment conflict\" data-amendment=\"A7\">[genuine][real] choice</del>",
        "<small class=\"sponsors\" data-amendment=\"A7\">A7, in conflict: IOM</small>",
        "<del class=\"amendment\" data-amendment=\"A8\">*desperate* </del>\
         <small class=\"sponsors\" data-amendment=\"A8\">A8: UNCTAD, DESA, ILO</small>necessity",
        "<li id=\"amendment-6\" class=\"amendment\"><strong>A6</strong>",
        "Not marked in the text: it overlaps A3.",
    ] {
        assert!(page.contains(marked), "{marked:?} not in:\n{page}");
    }
    assert!(!page.contains("data-amendment=\"A6\"") && !page.contains("data-amendment=\"A9\""));
    assert_eq!(page.matches("<li id=\"amendment-").count(), 7);
}

/// A range that does not read the amendment's passage in this text (the
/// text read at another time) is never applied: the amendment is listed
/// only.
#[test]
fn a_range_that_does_not_read_the_passage_is_not_marked() {
    let mut s = common::amended();
    s.elements[0].amendments = vec![PendingAmendment {
        from: Some(0),
        to: Some(4),
        ..s.elements[0].amendments[0].clone()
    }];
    let md = compilation_markdown(&s);
    assert!(!md.contains("{>>A3") && !md.contains("~>safe"), "{md}");
    assert!(md.contains("- **A3** ") && md.contains("its passage is not located in it"));
}
