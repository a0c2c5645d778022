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

fn entry(id: &str, label: &str) -> IndexElement {
    IndexElement {
        id: id.into(),
        label: label.into(),
        doc: format!("automerge:{id}"),
    }
}

#[test]
fn reconcile_index_reaches_the_target_with_few_operations() {
    let actor = ActorId::random();
    let start = vec![entry("a", "(a)"), entry("b", "(b)"), entry("c", "(c)")];
    let doc = new_index_doc(&actor, "Title", "Pre", &start).unwrap();
    let mut ac = automerge::AutoCommit::load(&doc.save()).unwrap();
    ac.set_actor(actor.clone());

    // Nothing differs: no operation, no change.
    let same = read_index(&ac).unwrap();
    reconcile_index(&mut ac, &same).unwrap();
    assert!(ac.commit().is_none());

    let targets = [
        IndexState {
            title: "New title".into(),
            preamble: "Pre".into(),
            elements: vec![
                entry("a", "(a)"),
                entry("b", "(b) renamed"),
                entry("c", "(c)"),
            ],
        },
        IndexState {
            title: "New title".into(),
            preamble: "Preamble".into(),
            elements: vec![
                entry("c", "(c)"),
                entry("a", "(a)"),
                entry("b", "(b) renamed"),
            ],
        },
        IndexState {
            title: "New title".into(),
            preamble: "Preamble".into(),
            elements: vec![
                entry("c", "(c)"),
                entry("d", "(d)"),
                entry("b", "(b) renamed"),
            ],
        },
        IndexState {
            title: "T".into(),
            preamble: String::new(),
            elements: vec![],
        },
    ];
    for target in targets {
        reconcile_index(&mut ac, &target).unwrap();
        ac.commit();
        assert_eq!(read_index(&ac).unwrap(), target);
    }
    // A rename touches the label text only.
    let before = ac.get_heads();
    let mut target = read_index(&ac).unwrap();
    target.elements.push(entry("x", "(x)"));
    reconcile_index(&mut ac, &target).unwrap();
    ac.commit();
    target.elements[0].label = "(y)".into();
    reconcile_index(&mut ac, &target).unwrap();
    ac.commit();
    let change = ac.get_last_local_change().unwrap();
    assert!(change.len() <= 2, "a one-letter rename is one or two ops");
    assert_ne!(ac.get_heads(), before);
}

#[test]
fn reconcile_json_writes_only_what_differs() {
    let mut ac = automerge::AutoCommit::new();
    let first = serde_json::json!({
        "state": "open",
        "elements": {
            "a": { "status": "agreed", "deadline": null, "count": 3, "ok": true },
            "b": { "status": "open", "list": [1, "x", { "k": false }] }
        }
    });
    reconcile_json(&mut ac, &automerge::ROOT, "consensus", &first).unwrap();
    ac.commit();
    let (_, obj) = ac.get(automerge::ROOT, "consensus").unwrap().unwrap();
    assert_eq!(to_json(&ac, &obj).unwrap(), first);

    // The same value again: no operation, no change.
    reconcile_json(&mut ac, &automerge::ROOT, "consensus", &first).unwrap();
    assert!(ac.commit().is_none());

    // One cell changes, one key goes away: a small change.
    let second = serde_json::json!({
        "state": "open",
        "elements": {
            "a": { "status": "objected", "deadline": 17, "count": 3, "ok": true },
        }
    });
    reconcile_json(&mut ac, &automerge::ROOT, "consensus", &second).unwrap();
    ac.commit().expect("a change");
    assert_eq!(to_json(&ac, &obj).unwrap(), second);
    let change = ac.get_last_local_change().unwrap();
    assert!(change.len() < 20, "{} ops", change.len());
}

mod authorship_tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};

    use crate::authorship::{Piece, char_ops, compare, deletions, insertions, runs, words};

    fn actor(n: u8) -> ActorId {
        ActorId::from(vec![n; 16])
    }

    #[test]
    fn spans_deletions_and_a_word_diff_name_their_authors() {
        // A writes, B inserts a word, C deletes one of A's words.
        let mut a = AutoCommit::new().with_actor(actor(1));
        let text = a.put_object(ROOT, "text", ObjType::Text).unwrap();
        a.splice_text(&text, 0, 0, "safe and orderly migration")
            .unwrap();
        a.commit();
        let v1 = a.get_heads();
        let mut b = a.fork().with_actor(actor(2));
        b.splice_text(&text, 5, 0, "regular ").unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        let mut c = a.fork().with_actor(actor(3));
        // Delete "orderly " (after "safe regular and ").
        let pos = c.text(&text).unwrap().find("orderly ").unwrap();
        c.splice_text(&text, pos, 8, "").unwrap();
        c.commit();
        a.merge(&mut c).unwrap();
        let doc = a.document();
        assert_eq!(doc.text(&text).unwrap(), "safe regular and migration");

        let now = char_ops(doc, &text, None).unwrap();
        let spans = runs(now.iter().map(|c| (c.ch.clone(), c.op.1.clone())));
        let spans: Vec<(&str, u8)> = spans
            .iter()
            .map(|(t, a)| (t.as_str(), a.to_bytes()[0]))
            .collect();
        assert_eq!(spans, [("safe ", 1), ("regular ", 2), ("and migration", 1)]);

        let changes = doc.get_changes(&[]);
        let deleted = deletions(&changes);
        let values = insertions(&changes);
        let mut by_c: Vec<(&String, &crate::authorship::OpRef)> = deleted
            .iter()
            .filter(|(_, d)| d.by == actor(3))
            .map(|(op, _)| (&values[op], op))
            .collect();
        by_c.sort_by_key(|(_, op)| op.0);
        let removed: String = by_c.iter().map(|(ch, _)| ch.as_str()).collect();
        assert_eq!(removed, "orderly ");

        // Word diff between v1 and now: B's insert and C's delete.
        let old = char_ops(doc, &text, Some(&v1)).unwrap();
        let pieces = compare(
            &old,
            &now,
            |i| {
                deleted
                    .get(&old[i].op)
                    .map(|d| d.by.to_bytes()[0])
                    .unwrap_or(0)
            },
            |i| now[i].op.1.to_bytes()[0],
        );
        assert_eq!(
            pieces,
            [
                Piece::Equal("safe ".into()),
                Piece::Insert("regular ".into(), 2),
                Piece::Equal("and ".into()),
                Piece::Delete("orderly ".into(), 3),
                Piece::Equal("migration".into()),
            ]
        );
    }

    fn eq(t: &str) -> Piece<u8> {
        Piece::Equal(t.into())
    }
    fn ins(t: &str, k: u8) -> Piece<u8> {
        Piece::Insert(t.into(), k)
    }
    fn del(t: &str, k: u8) -> Piece<u8> {
        Piece::Delete(t.into(), k)
    }

    #[test]
    fn whole_words_leave_whole_word_changes_alone() {
        let pieces = vec![
            eq("safe "),
            ins("regular ", 2),
            eq("and "),
            del("orderly ", 3),
            eq("migration"),
        ];
        assert_eq!(words(pieces.clone()), pieces);
    }

    #[test]
    fn a_changed_letter_reads_as_the_word_replaced() {
        // "migrants" → "migrant workers" (3 removed the s, 2 typed the rest).
        let pieces = vec![eq("the migrant"), del("s", 3), ins(" workers", 2), eq(".")];
        assert_eq!(
            words(pieces),
            [
                eq("the "),
                del("migrants", 3),
                ins("migrant", 3),
                ins(" workers", 2),
                eq(".")
            ]
        );
        // A letter added inside a word: the word is "deleted" by its adder.
        let pieces = vec![eq("labour migrat"), ins("i", 4), eq("on")];
        assert_eq!(
            words(pieces),
            [eq("labour "), del("migraton", 4), ins("migration", 4)]
        );
    }

    #[test]
    fn consecutive_changed_words_read_as_one_replacement() {
        // "the big cat sat" → "the small dog sat", all by 1.
        let pieces = vec![
            eq("the "),
            del("big cat", 1),
            ins("small dog", 1),
            eq(" sat"),
        ];
        assert_eq!(
            words(pieces),
            [
                eq("the "),
                del("big cat", 1),
                ins("small dog", 1),
                eq(" sat")
            ]
        );
        // Two authors in one word: the one with more changed characters.
        let pieces = vec![eq("a "), del("xy", 1), ins("z", 2), eq("w b")];
        assert_eq!(
            words(pieces),
            [eq("a "), del("xyw", 1), ins("zw", 2), eq(" b")]
        );
    }

    #[test]
    fn a_deletion_ending_inside_a_word_takes_the_whole_word() {
        let pieces = vec![
            eq("the "),
            del("human development potent", 7),
            eq("ial of all"),
        ];
        assert_eq!(
            words(pieces),
            [
                eq("the "),
                del("human development potential", 7),
                ins("ial", 7),
                eq(" of all")
            ]
        );
    }

    #[test]
    fn a_word_retyped_identically_is_unchanged() {
        let pieces = vec![eq("keep "), del("this", 1), ins("this", 2), eq(" text")];
        assert_eq!(words(pieces), [eq("keep this text")]);
        // Punctuation is a token of its own; non-Latin letters are words.
        let pieces = vec![eq("droits, "), ins("égaux", 5), eq(" — 移民")];
        assert_eq!(words(pieces.clone()), pieces);
        assert!(words(Vec::<Piece<u8>>::new()).is_empty());
    }
}
