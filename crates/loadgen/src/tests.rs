//! The light peer against real automerge documents.

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};

use crate::lite::{Author, Edit, Replica, parse_chunks, universe};

/// Runs sync rounds between a full document and a light replica until
/// neither has anything to say. Returns the number of messages.
fn sync_pair(doc: &mut AutoCommit, state: &mut sync::State, lite: &mut Replica) -> usize {
    let mut n = 0;
    for _ in 0..50 {
        let mut quiet = true;
        if let Some(m) = doc.sync().generate_sync_message(state) {
            let m = sync::Message::decode(&m.encode()).unwrap();
            let changes = parse_chunks(&m).unwrap();
            lite.receive(m, changes);
            quiet = false;
            n += 1;
        }
        if let Some(m) = lite.generate() {
            let m = sync::Message::decode(&m.encode()).unwrap();
            doc.sync().receive_sync_message(state, m).unwrap();
            quiet = false;
            n += 1;
        }
        if quiet {
            return n;
        }
    }
    panic!("sync does not settle");
}

fn server_doc() -> (AutoCommit, automerge::ObjId) {
    let mut doc = AutoCommit::new();
    let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
    doc.splice_text(&text, 0, 0, "hello world").unwrap();
    doc.commit();
    (doc, text)
}

#[test]
fn light_replicas_sync_and_author_valid_changes() {
    let (mut server, text) = server_doc();
    let u = universe();
    let mut typist = Replica::new(u.clone());
    let mut st = sync::State::new();
    sync_pair(&mut server, &mut st, &mut typist);
    assert!(typist.caught_up());
    assert_eq!(typist.heads(), server.get_heads());

    let info = typist.text_info().unwrap();
    assert_eq!(info.anchors.len(), 11);
    let mut author = Author::new(ActorId::random(), info.obj.clone());
    // "hello" + "XY" + " world", then delete Y.
    let (_, x) = author.edit(
        &mut typist,
        Edit::Insert {
            after: Some(info.anchors[4].clone()),
            ch: 'X',
        },
    );
    let (_, y) = author.edit(
        &mut typist,
        Edit::Insert {
            after: Some(x),
            ch: 'Y',
        },
    );
    let (h3, _) = author.edit(&mut typist, Edit::Delete { target: y });

    // A concurrent server-side edit.
    server.splice_text(&text, 0, 0, ">").unwrap();
    server.commit();
    sync_pair(&mut server, &mut st, &mut typist);
    assert_eq!(server.text(&text).unwrap(), ">helloX world");
    assert!(server.get_change_by_hash(&h3).is_some());
    assert_eq!(typist.heads(), server.get_heads());

    // A watcher with its own graph sees everything.
    let mut watcher = Replica::new(universe());
    let mut st2 = sync::State::new();
    sync_pair(&mut server, &mut st2, &mut watcher);
    assert!(watcher.has(&h3));
    assert_eq!(watcher.len(), server.get_changes(&[]).len());

    // Incremental: more typing reaches the watcher one message at a time.
    for _ in 0..20 {
        author.edit(
            &mut typist,
            Edit::Insert {
                after: None,
                ch: 'a',
            },
        );
        sync_pair(&mut server, &mut st, &mut typist);
        sync_pair(&mut server, &mut st2, &mut watcher);
    }
    assert_eq!(watcher.heads(), server.get_heads());
    assert!(server.text(&text).unwrap().starts_with(&"a".repeat(20)));
}

#[test]
fn chunk_cache_matches_a_full_parse() {
    let (mut server, _) = server_doc();
    let mut st = sync::State::new();
    // The server answers a fresh peer's request with its changes.
    let mut lite = Replica::new(universe());
    let hello = lite.generate().unwrap();
    server.sync().receive_sync_message(&mut st, hello).unwrap();
    let m = server.sync().generate_sync_message(&mut st).unwrap();
    assert!(!m.changes.is_empty());
    // The same chunks twice: the second parse is served from the cache, and
    // both must describe the changes as automerge's own parse does.
    let first = parse_chunks(&m).unwrap();
    let m = sync::Message::decode(&m.encode()).unwrap();
    let again = parse_chunks(&m).unwrap();
    assert_eq!(first.len(), again.len());
    for (a, b) in first.iter().zip(&again) {
        assert!(std::sync::Arc::ptr_eq(a, b));
    }
    let full = server.get_changes(&[]);
    for p in &first {
        let c = full
            .iter()
            .find(|c| c.hash() == p.hash)
            .expect("known change");
        assert_eq!(p.deps, c.deps());
        assert_eq!(p.max_op, c.max_op());
        assert_eq!(&p.bytes[..], c.raw_bytes());
    }
    lite.receive(m, first);
    assert_eq!(lite.heads(), server.get_heads());
}

#[test]
fn sync_frames_are_read_in_place() {
    use accord_protocol::wire::{DocMessage, Message, encode_sync};

    use crate::sync_run::fast_doc_message;

    let data = vec![0x42, 1, 2, 3];
    let frame = encode_sync("peer-a", "server", "doc-1", &data);
    assert_eq!(fast_doc_message(&frame), Some(("doc-1", &data[..])));
    let request = Message::Request(DocMessage {
        sender_id: "peer-a".into(),
        target_id: "server".into(),
        document_id: "doc-2".into(),
        data: data.clone(),
    })
    .encode();
    assert_eq!(fast_doc_message(&request), Some(("doc-2", &data[..])));
    // Anything else goes to the general decoder.
    let other = Message::Error {
        message: "no".into(),
    }
    .encode();
    assert_eq!(fast_doc_message(&other), None);
    assert_eq!(fast_doc_message(&frame[..frame.len() - 1]), None);
}
