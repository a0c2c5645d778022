//! What one keystroke costs the server between its commit and its delivery,
//! as the document's history grows: relaying committed changes (the relay
//! set) against applying each round and generating replies the regular way.
//!
//! `cargo bench -p accord-protocol --bench rounds`

use automerge::sync;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

use accord_protocol::{DocSync, Policy};

/// Peers of one element document in the reference load: 14 typists and 100
/// watchers.
const PEERS: u64 = 114;

struct Setup {
    server: DocSync,
    typist: AutoCommit,
    typist_state: sync::State,
}

/// A server whose document has `history` one-character changes, with every
/// peer synced (and so in the relay set).
fn setup(history: usize) -> Setup {
    let mut doc = AutoCommit::new();
    let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
    doc.splice_text(&text, 0, 0, "The entities represented agree.")
        .unwrap();
    doc.commit();
    for i in 0..history {
        let len = doc.length(&text);
        if i % 7 == 6 {
            doc.splice_text(&text, len / 2, 1, "").unwrap();
        } else {
            doc.splice_text(&text, (i * 31) % (len + 1), 0, "x")
                .unwrap();
        }
        doc.commit();
    }
    let saved = doc.save();
    let loaded = automerge::Automerge::load(&saved).unwrap();
    let policy = Policy::Text {
        text_obj: text.clone(),
        max_chars: 1_000_000,
    };
    let mut server = DocSync::new(loaded, policy, 16 << 20);
    // Every peer reports the server's heads: all enter the relay set.
    let heads = server.heads();
    for conn in 0..PEERS {
        let hello = sync::Message {
            heads: heads.clone(),
            need: vec![],
            have: vec![sync::Have {
                last_sync: heads.clone(),
                bloom: sync::BloomFilter::default(),
            }],
            changes: sync::ChunkList::empty(),
            flags: None,
            version: sync::MessageVersion::V1,
        };
        server.receive(conn, &hello.encode()).unwrap();
    }
    server.commit_succeeded().unwrap();
    let typist = AutoCommit::load(&saved).unwrap();
    Setup {
        server,
        typist,
        typist_state: sync::State::new(),
    }
}

/// The typist's next keystroke as a sync message.
fn keystroke(s: &mut Setup, i: usize) -> Vec<u8> {
    let (_, text) = s.typist.get(ROOT, "text").unwrap().unwrap();
    let len = s.typist.length(&text);
    s.typist
        .splice_text(&text, (i * 13) % (len + 1), 0, "y")
        .unwrap();
    s.typist.commit();
    let changes = s.typist.get_changes(&s.server.heads()).into_iter();
    let changes: Vec<Vec<u8>> = changes.map(|c| c.raw_bytes().to_vec()).collect();
    let _ = &mut s.typist_state;
    sync::Message {
        heads: s.typist.get_heads(),
        need: vec![],
        have: vec![],
        changes: changes.into(),
        flags: None,
        version: sync::MessageVersion::V1,
    }
    .encode()
}

fn rounds(c: &mut Criterion) {
    let mut group = c.benchmark_group("keystroke_round");
    group.sample_size(20);
    for history in [1_000usize, 5_000, 20_000] {
        group.bench_with_input(BenchmarkId::new("relay", history), &history, |b, &h| {
            let mut s = setup(h);
            let mut i = 0;
            b.iter(|| {
                i += 1;
                let msg = keystroke(&mut s, i);
                s.server.receive(0, &msg).unwrap();
                let out = s.server.committed();
                assert_eq!(out.len(), PEERS as usize, "round {i}");
                // Keep the applied document current outside the timing's
                // hot path only every 64 rounds, as the server's bulk apply.
                if i % 64 == 0 {
                    s.server.apply().unwrap();
                }
                out
            });
        });
        group.bench_with_input(
            BenchmarkId::new("apply_each", history),
            &history,
            |b, &h| {
                let mut s = setup(h);
                let mut i = 0;
                b.iter(|| {
                    i += 1;
                    let msg = keystroke(&mut s, i);
                    s.server.receive(0, &msg).unwrap();
                    s.server.commit_succeeded().unwrap()
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, rounds);
criterion_main!(benches);
