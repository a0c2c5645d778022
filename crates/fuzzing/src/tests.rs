//! Replays every committed seed and regression input of the fuzz targets
//! (`fuzz/seeds/TARGET`, `fuzz/regressions/TARGET`), and writes the seeds
//! (`cargo test -p accord-fuzzing -- --ignored write_seeds`).

use std::path::{Path, PathBuf};

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ROOT, ReadDoc};

use super::*;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let bytes = std::fs::read(&path).expect("input");
            out.push((path, bytes));
        }
    }
    out.sort();
    out
}

fn replay(target: &str, check: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "no seeds for {target}");
    for (path, bytes) in inputs {
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{} fails", path.display());
    }
}

#[test]
fn wire_seeds_replay() {
    replay("wire", wire);
}

#[test]
fn sync_seeds_replay() {
    replay("sync", super::sync);
}

#[test]
fn policy_seeds_replay() {
    replay("policy", policy);
}

#[test]
fn scenario_seeds_replay() {
    replay("scenario", scenario);
}

// ---------------------------------------------------------------------------
// Seeds, from real messages
// ---------------------------------------------------------------------------

/// What a client sends during a session: its first message, then one per
/// edit, each answered by the server.
fn session(edits: &[(usize, isize, &str)]) -> Vec<Vec<u8>> {
    let mut server = element_server();
    let mut client = AutoCommit::load(&element_doc().save()).expect("fork");
    client.set_actor(ActorId::from([3; 16]));
    let mut state = sync::State::new();
    let text = accord_model::text_obj(&element_doc()).expect("text");
    let mut sent = Vec::new();
    let mut edits = edits.iter();
    for _ in 0..32 {
        let mut quiet = true;
        if let Some(m) = client.sync().generate_sync_message(&mut state) {
            quiet = false;
            let bytes = m.encode();
            server.receive(1, &bytes).expect("receive");
            sent.push(bytes);
        }
        for (_, bytes) in server.commit_succeeded().expect("commit") {
            quiet = false;
            let m = sync::Message::decode(&bytes).expect("decode");
            client
                .sync()
                .receive_sync_message(&mut state, m)
                .expect("apply");
        }
        if quiet {
            match edits.next() {
                Some((pos, del, ins)) => {
                    client.splice_text(&text, *pos, *del, ins).expect("splice");
                    client.commit();
                }
                None => break,
            }
        }
    }
    sent
}

fn message(chunks: Vec<Vec<u8>>) -> Vec<u8> {
    sync::Message {
        heads: vec![],
        need: vec![],
        have: vec![],
        changes: chunks.into(),
        flags: None,
        version: sync::MessageVersion::V1,
    }
    .encode()
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = fuzz_dir().join("seeds").join(target);
    std::fs::create_dir_all(&dir).expect("seed directory");
    std::fs::write(dir.join(name), bytes).expect("seed");
}

#[test]
#[ignore = "writes fuzz/seeds"]
fn write_seeds() {
    // sync: a session's messages for each mode, a compressed change, a
    // whole document, and a bomb of each kind.
    let messages = session(&[(0, 0, "A"), (1, 0, "rt."), (0, 2, ""), (5, 0, " 2")]);
    for (i, bytes) in messages.iter().enumerate() {
        let mode = [0u8, 1, 2, 3][i % 4];
        write(
            "sync",
            &format!("session-{i}"),
            &[&[mode][..], bytes].concat(),
        );
    }
    let mut client = AutoCommit::load(&element_doc().save()).expect("fork");
    client.set_actor(ActorId::from([4; 16]));
    let text = accord_model::text_obj(&element_doc()).expect("text");
    client
        .splice_text(&text, 0, 0, &"long insertion ".repeat(10))
        .expect("splice");
    client.commit();
    let mut change = client.get_last_local_change().expect("change").clone();
    let compressed = change.bytes().to_vec();
    assert_eq!(compressed[8], 2, "compressed");
    write(
        "sync",
        "compressed",
        &[&[0u8][..], &message(vec![compressed])].concat(),
    );
    write(
        "sync",
        "whole-doc",
        &[&[0u8][..], &message(vec![client.save()])].concat(),
    );
    write(
        "sync",
        "concatenated",
        &[
            &[0u8][..],
            &message(vec![
                [
                    change.raw_bytes(),
                    element_doc().get_changes(&[])[0].raw_bytes(),
                ]
                .concat(),
            ]),
        ]
        .concat(),
    );

    // wire: each message kind.
    use accord_protocol::wire::{DocMessage, Ephemeral, Message};
    let doc = |data: Vec<u8>| DocMessage {
        sender_id: "peer-1".into(),
        target_id: "server".into(),
        document_id: "2j9knpCseyhnK8izDmLpGP5WMdZQ".into(),
        data,
    };
    let wire_messages = [
        Message::Join {
            sender_id: "peer-1".into(),
            peer_metadata: None,
            supported_protocol_versions: vec!["1".into()],
        },
        Message::Sync(doc(messages[0].clone())),
        Message::Request(doc(messages[0].clone())),
        Message::Ephemeral(Ephemeral {
            sender_id: "peer-1".into(),
            target_id: "server".into(),
            document_id: "2j9knpCseyhnK8izDmLpGP5WMdZQ".into(),
            count: 3,
            session_id: "s".into(),
            data: vec![0xa1, 0x61, 0x78, 0x01],
        }),
        Message::Leave {
            sender_id: "peer-1".into(),
        },
        Message::Error {
            message: "bad".into(),
        },
        Message::DocUnavailable {
            sender_id: "server".into(),
            target_id: "peer-1".into(),
            document_id: "2j9knpCseyhnK8izDmLpGP5WMdZQ".into(),
        },
    ];
    for (i, m) in wire_messages.iter().enumerate() {
        write("wire", &format!("{}-{i}", m.kind()), &m.encode());
    }

    // policy: edit scripts (form, actor, then ops).
    let scripts: [&[u8]; 8] = [
        &[0, 1, 0, 0, 3, 0, 2, b'h', b'i'],
        &[1, 2, 4, 0, 0, 40],
        &[2, 3, 0, 0, 1, 0, 1, b'x', 10, 0, 0, 1, 0, 2, 0, 1, b'y'],
        &[3, 4, 0, 0, 0, 2, 0, 0],
        &[0, 5, 5, 0, 0, 1, b'k', 7],
        &[0, 6, 6, 0, 0, 0, 1, b'o', 0, 1, 0, 0, 1, b'z'],
        &[0, 0, 0, 0, 0, 0, 1, b'x'],
        &[1, 7, 7, 0, 2, 3, 9, 0, 0, 11, 0, 0, 3, b'n', b'e', b'w'],
    ];
    for (i, s) in scripts.iter().enumerate() {
        write("policy", &format!("script-{i}"), s);
    }

    // scenario: the reference scenario and a small one.
    let reference = std::fs::read(fuzz_dir().join("../scenarios/hld2013.toml")).expect("scenario");
    write("scenario", "hld2013.toml", &reference);
    write(
        "scenario",
        "small.toml",
        b"[draft]\ntitle = \"T\"\npreamble = \"P\\r\\nQ\"\n\n[[entity]]\ncode = \"a\"\nname = \"A\"\n\n[[element]]\nlabel = \"1\"\ntext = \"x\"\n",
    );
}

#[test]
fn the_seed_session_round_trips() {
    // The seeds' own helper: a session ends with the server holding the
    // client's text.
    let messages = session(&[(0, 0, "A")]);
    assert!(messages.len() >= 2);
    let doc = element_doc();
    assert_eq!(doc.keys(ROOT).count(), 1);
}
