//! Decompression and decoding bombs in sync messages: a compressed change
//! chunk and a document chunk with a deflated column, each inflating to
//! 1 GiB from about a megabyte, sent by a delegate (writable) and by a
//! reviewer (read-only), and on the index document (read-only for all).
//! Each is refused with a notice before anything is inflated beyond the
//! message limit, nothing is stored, the other peers keep syncing, and the
//! server's memory stays flat.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use accord_protocol::{DocMessage, Message};
use automerge::sync;

use crate::harness::{Client, Db, TestServer, on_both_backends};

/// Bits written least significant first, as DEFLATE wants them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    bit: u32,
}

impl Bits {
    /// `n` bits of `value`, least significant first (header fields).
    fn int(&mut self, value: u32, n: u32) {
        for i in 0..n {
            self.push((value >> i) & 1);
        }
    }

    /// A Huffman code of `n` bits, most significant first.
    fn code(&mut self, code: u32, n: u32) {
        for i in (0..n).rev() {
            self.push((code >> i) & 1);
        }
    }

    fn push(&mut self, b: u32) {
        if self.bit == 0 {
            self.out.push(0);
        }
        if b != 0 {
            *self.out.last_mut().expect("a byte") |= 1 << self.bit;
        }
        self.bit = (self.bit + 1) % 8;
    }
}

/// Raw DEFLATE data inflating to `1 + 258 * repeats` zero bytes in about
/// `repeats / 4` bytes: one dynamic-Huffman block whose only codes are the
/// literal 0, the end of block, length 258 (one bit) and distance 1 (one
/// bit), so each 258 bytes of output cost two bits.
fn deflate_bomb(repeats: usize) -> Vec<u8> {
    let mut b = Bits::default();
    b.int(1, 1); // last block
    b.int(2, 2); // dynamic Huffman
    b.int(29, 5); // 286 literal/length codes
    b.int(0, 5); // 1 distance code
    b.int(15, 4); // 19 code length codes
    // Code length code lengths, in their permuted order: symbols 0, 1, 2
    // and 18 (a run of zeros) get two bits each.
    for symbol in [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ] {
        b.int(
            if [0, 1, 2, 18].contains(&symbol) {
                2
            } else {
                0
            },
            3,
        );
    }
    // Their codes: 0 → 00, 1 → 01, 2 → 10, 18 → 11.
    let zeros = |b: &mut Bits, n: u32| {
        b.code(0b11, 2);
        b.int(n - 11, 7);
    };
    b.code(0b10, 2); // literal 0: 2 bits
    zeros(&mut b, 138); // literals 1..=138: none
    zeros(&mut b, 117); // literals 139..=255: none
    b.code(0b10, 2); // end of block: 2 bits
    zeros(&mut b, 28); // lengths 257..=284: none
    b.code(0b01, 2); // length 258 (code 285): 1 bit
    b.code(0b01, 2); // distance 1 (code 0): 1 bit
    // Literal/length codes: 285 → 0, literal 0 → 10, end → 11; distance → 0.
    b.code(0b10, 2);
    for _ in 0..repeats {
        b.code(0, 1);
        b.code(0, 1);
    }
    b.code(0b11, 2);
    b.out
}

/// 1 GiB once inflated.
fn gib_bomb() -> Vec<u8> {
    deflate_bomb((1 << 30) / 258)
}

fn uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// An Automerge chunk: magic, checksum, type, length, data.
fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, kind];
    uleb(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

/// A compressed change chunk (type 2) whose data is the bomb.
fn compressed_change_bomb() -> Vec<u8> {
    chunk(2, &gib_bomb())
}

/// A document chunk (type 0) with one op column, deflated: the bomb.
fn document_bomb() -> Vec<u8> {
    let column = gib_bomb();
    let mut data = vec![1, 16];
    data.extend_from_slice(&[7; 16]); // one actor
    data.push(0); // no heads
    data.push(0); // no change columns
    data.push(1); // one op column: the action column, deflated
    uleb(&mut data, (4 << 4) | 8 | 2);
    uleb(&mut data, column.len() as u64);
    data.extend_from_slice(&column);
    chunk(0, &data)
}

/// Sends a sync message for `doc` carrying `chunk` and waits for the notice.
async fn send_bomb(client: &mut Client, doc: &str, chunk: Vec<u8>, code: &str) {
    let data = sync::Message {
        heads: vec![],
        need: vec![],
        have: vec![],
        changes: vec![chunk].into(),
        flags: None,
        version: sync::MessageVersion::V1,
    }
    .encode();
    let seen = client.notices.len();
    let sent = client
        .send_message(&Message::Sync(DocMessage {
            sender_id: client.peer_id.clone(),
            target_id: client.server_peer_id.clone(),
            document_id: doc.to_owned(),
            data,
        }))
        .await;
    assert!(sent);
    client
        .wait_for("the refusal notice", |c| c.notices.len() > seen)
        .await;
    let notice = &client.notices[seen];
    assert_eq!(notice.document_id, doc);
    assert_eq!(notice.code, code, "{notice:?}");
    assert!(!notice.message.is_empty());
    assert!(!client.is_closed(), "the connection stays open");
}

on_both_backends!(decompression_bombs_are_refused_before_they_inflate, 240);

async fn decompression_bombs_are_refused_before_they_inflate(db: Db) {
    let server = TestServer::start(db).await;
    let doc = server.element_doc(0).await;
    let index = server.index_doc().await;
    let (text, heads) = server.element_state(&doc).await;
    let delegate = server.session_for("dana", "delegate", Some("IOM")).await;
    let reviewer = server.session_for("rita", "reviewer", None).await;
    let bystander = server.session_for("bo", "delegate", Some("ILO")).await;

    let mut writer_a = Client::connect_with(&server, &delegate).await;
    let mut writer_b = Client::connect_with(&server, &delegate).await;
    let mut on_index = Client::connect_with(&server, &delegate).await;
    let mut rita = Client::connect_with(&server, &reviewer).await;
    let mut bo = Client::connect_with(&server, &bystander).await;
    writer_a.open(&doc).await;
    writer_b.open(&doc).await;
    on_index.open(&index).await;
    rita.open(&doc).await;
    bo.open(&doc).await;
    let compressed = compressed_change_bomb();
    let document = document_bomb();
    assert!(compressed.len() < 2 << 20 && document.len() < 2 << 20);

    // Peak memory while the bombs go off, sampled every few milliseconds.
    let before = server.rss_kib();
    let peak = AtomicU64::new(before);
    let done = AtomicBool::new(false);
    let sampler = async {
        while !done.load(Ordering::Relaxed) {
            peak.fetch_max(server.rss_kib(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let bombs = async {
        // A delegate on an element: too large once inflated.
        send_bomb(&mut writer_a, &doc, compressed.clone(), "too_large").await;
        send_bomb(&mut writer_b, &doc, document.clone(), "too_large").await;
        // A reviewer on an element, anyone on the index: read-only, never
        // decoded.
        send_bomb(&mut rita, &doc, compressed.clone(), "read_only").await;
        send_bomb(&mut rita, &doc, document.clone(), "read_only").await;
        send_bomb(&mut on_index, &index, compressed.clone(), "read_only").await;
        send_bomb(&mut on_index, &index, document.clone(), "read_only").await;
        done.store(true, Ordering::Relaxed);
    };
    tokio::join!(sampler, bombs);
    let rise = peak.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!("memory while refusing the bombs: {before} KiB, peak +{rise} KiB");
    assert!(
        rise < 48 << 10,
        "the server's memory rose by {} MiB while refusing the bombs",
        rise >> 10
    );

    // Nothing was stored.
    assert_eq!(server.element_state(&doc).await, (text.clone(), heads));

    // The other peers are unaffected: an edit still goes round.
    bo.append(&doc, " (after the bombs)").await;
    writer_a
        .wait_until(&doc, "the bystander's edit", |d| {
            d.text().ends_with(" (after the bombs)")
        })
        .await;
    rita.wait_until(&doc, "the bystander's edit", |d| {
        d.text().ends_with(" (after the bombs)")
    })
    .await;
    server
        .wait_element_text(&doc, "the bystander's edit", |t| {
            t == format!("{text} (after the bombs)")
        })
        .await;
    for client in [&writer_a, &writer_b, &on_index, &rita, &bo] {
        assert!(!client.is_closed() && client.errors.is_empty());
    }
}
