use automerge::{ActorId, ReadDoc};

use super::*;

const HLD2013: &str = include_str!("../../../scenarios/hld2013.toml");

#[test]
fn reference_scenario_has_28_entities_and_8_elements() {
    let s = Scenario::parse(HLD2013).unwrap();
    assert_eq!(s.entities.len(), 28);
    assert_eq!(s.elements.len(), 8);
    assert_eq!(s.elements[0].label, "(a)");
    assert!(s.draft.title.starts_with("Recommendations and Outcomes"));
}

#[test]
fn scenario_rejects_duplicate_entities_and_bad_codes() {
    let dup = "[draft]\ntitle='t'\n[[entity]]\ncode='A'\nname='a'\n[[entity]]\ncode='A'\nname='b'\n[[element]]\nlabel='x'\ntext='y'\n";
    assert!(matches!(Scenario::parse(dup), Err(Error::Scenario(m)) if m.contains("twice")));
    let bad =
        "[draft]\ntitle='t'\n[[entity]]\ncode='A B'\nname='a'\n[[element]]\nlabel='x'\ntext='y'\n";
    assert!(matches!(Scenario::parse(bad), Err(Error::Scenario(_))));
    assert!(matches!(
        Scenario::parse("not toml ["),
        Err(Error::ScenarioToml(_))
    ));
}

#[test]
fn line_ends_are_normalised_and_nothing_else() {
    assert_eq!(normalize_line_ends("a\r\nb\rc\n"), "a\nb\nc\n");
    // "é" composed and decomposed stay distinct.
    assert_ne!(normalize_line_ends("e\u{301}"), "\u{e9}");
    assert_eq!(normalize_line_ends("e\u{301}"), "e\u{301}");
}

#[test]
fn text_hash_is_lowercase_hex_sha256() {
    assert_eq!(
        text_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn element_doc_holds_its_text() {
    let actor = ActorId::random();
    let doc = new_element_doc(&actor, "Hello\r\nworld").unwrap();
    assert_eq!(element_text(&doc).unwrap(), "Hello\nworld");
    assert_eq!(doc.get_heads().len(), 1);
    let loaded = automerge::Automerge::load(&doc.save()).unwrap();
    assert_eq!(element_text(&loaded).unwrap(), "Hello\nworld");
}

#[test]
fn index_doc_lists_elements_in_order() {
    let actor = ActorId::random();
    let elements = vec![
        IndexElement {
            id: "e1".into(),
            label: "(a)".into(),
            doc: "automerge:x".into(),
        },
        IndexElement {
            id: "e2".into(),
            label: "(b)".into(),
            doc: "automerge:y".into(),
        },
    ];
    let doc = new_index_doc(&actor, "T", "P", &elements).unwrap();
    let (_, list) = doc.get(automerge::ROOT, "elements").unwrap().unwrap();
    assert_eq!(doc.length(&list), 2);
    let (_, second) = doc.get(&list, 1).unwrap().unwrap();
    let (_, label) = doc.get(&second, "label").unwrap().unwrap();
    assert_eq!(doc.text(&label).unwrap(), "(b)");
    assert!(text_obj(&doc).is_err());
}
