//! What the fuzz targets in `fuzz/` check, one function per target, so that
//! the committed seeds and regression inputs replay as ordinary tests
//! (`cargo test -p accord-fuzzing`) on the stable toolchain.
//!
//! Each function takes arbitrary bytes and panics only on a bug: a decoder
//! that panics, a well-formed input refused as malformed, or an accepted
//! change the policy forbids. Memory and time blow-ups are caught by
//! libFuzzer's `-rss_limit_mb`, `-malloc_limit_mb` and `-timeout`.
//!
//! - [`wire`]: `wire::Message::decode`, and re-encoding what it decoded;
//! - [`sync`]: a sync message (bloom filters, change chunks, the inflation
//!   and row bounds) to `DocSync::receive_guarded` on an element document
//!   (writable or read-only) or an index document, then commit and apply;
//! - [`policy`]: well-formed changes, built from the input as an edit script
//!   on the element document, sent plain, compressed, concatenated or as a
//!   whole document: the change policy must accept exactly the text edits;
//! - [`scenario`]: the scenario TOML parser, and building its documents.

use std::sync::OnceLock;

use accord_protocol::{DocSync, Policy, Received};
use automerge::sync;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Automerge, Change, ObjId, ObjType, ROOT, ReadDoc};

/// The change limit of the documents under test: small, so that the bounds
/// are reached by small inputs.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// The text limit of the element document under test.
pub const MAX_CHARS: usize = 200;
/// Edits per `policy` input: each costs automerge tens of microseconds.
const MAX_EDITS: usize = 8;

/// The server's actor (claimed by the server: the guard refuses it).
fn server_actor() -> ActorId {
    ActorId::from([0x5e; 16])
}

/// The element document as the server creates it.
pub fn element_doc() -> Automerge {
    static DOC: OnceLock<Automerge> = OnceLock::new();
    DOC.get_or_init(|| {
        accord_model::new_element_doc(&server_actor(), "Member States shall cooperate.")
            .expect("element document")
    })
    .clone()
}

/// An index document as the server creates it.
pub fn index_doc() -> Automerge {
    static DOC: OnceLock<Automerge> = OnceLock::new();
    DOC.get_or_init(|| {
        let element = accord_model::IndexElement {
            id: "e1".into(),
            label: "Article 1".into(),
            doc: "automerge:2j9knpCseyhnK8izDmLpGP5WMdZQ".into(),
        };
        accord_model::new_index_doc(&server_actor(), "Draft", "Recalling", &[element])
            .expect("index document")
    })
    .clone()
}

/// The element document's text object.
fn text() -> ObjId {
    static TEXT: OnceLock<ObjId> = OnceLock::new();
    TEXT.get_or_init(|| accord_model::text_obj(&element_doc()).expect("text object"))
        .clone()
}

fn element_server() -> DocSync {
    static SERVER: OnceLock<DocSync> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let doc = element_doc();
            let text_obj = accord_model::text_obj(&doc).expect("text object");
            DocSync::new(
                doc,
                Policy::Text {
                    text_obj,
                    max_chars: MAX_CHARS,
                },
                MAX_MESSAGE_BYTES,
            )
        })
        .clone()
}

fn index_server() -> DocSync {
    static SERVER: OnceLock<DocSync> = OnceLock::new();
    SERVER
        .get_or_init(|| DocSync::new(index_doc(), Policy::ServerOnly, MAX_MESSAGE_BYTES))
        .clone()
}

/// The guard the server uses: its own actor belongs to someone else.
fn guard(actor: &ActorId) -> bool {
    *actor != server_actor()
}

/// Target `wire`: decodes a frame; whatever decodes re-encodes to a frame
/// that decodes to the same encoding (and `encode_sync` agrees).
pub fn wire(data: &[u8]) {
    use accord_protocol::wire::Message;
    let Ok(message) = Message::decode(data) else {
        return;
    };
    let encoded = message.encode();
    let again = Message::decode(&encoded).expect("an encoded message decodes");
    assert_eq!(again.encode(), encoded, "re-encoding changed {message:?}");
    if let Message::Sync(d) = &message {
        assert_eq!(
            accord_protocol::encode_sync(&d.sender_id, &d.target_id, &d.document_id, &d.data),
            encoded
        );
    }
}

/// Target `sync`: the first byte picks the document and peer (0: element,
/// writable; 1: element, read-only; 2: index document; 3: element, after a
/// first message from a writable peer); the rest is one sync message.
pub fn sync(data: &[u8]) {
    let Some((&mode, message)) = data.split_first() else {
        return;
    };
    let (mut server, read_only) = match mode % 4 {
        0 | 3 => (element_server(), false),
        1 => (element_server(), true),
        _ => (index_server(), true),
    };
    let heads = server.heads();
    let conn = 7;
    server.add_peer(conn, mode % 4 == 1);
    if mode % 4 == 3 {
        // The same message twice: the second sees its changes known.
        let _ = server.receive_guarded(conn + 1, message, &mut guard);
        server.commit_succeeded().expect("commit");
    }
    let outcome = server.receive_guarded(conn, message, &mut guard);
    if read_only {
        assert!(
            server.pending().is_empty(),
            "a read-only peer's change is pending"
        );
        assert!(
            !matches!(outcome, Ok(Received::Accepted { new_changes }) if new_changes > 0),
            "a read-only peer's change was accepted"
        );
    }
    if let Ok(Received::Refused(_)) = outcome {
        assert!(server.pending().is_empty());
        assert!(server.is_read_only(conn));
    }
    server.commit_succeeded().expect("commit");
    if read_only {
        assert_eq!(
            server.heads(),
            heads,
            "a read-only peer changed the document"
        );
    } else {
        check_element(server.doc());
    }
    server.generate();
}

/// Only the text changed, within its limit.
fn check_element(doc: &Automerge) {
    let keys: Vec<String> = doc.keys(ROOT).collect();
    assert_eq!(keys, ["text"], "a change outside the text was accepted");
    let expected = text();
    assert_eq!(
        accord_model::text_obj(doc).expect("text object"),
        expected,
        "the text object was replaced"
    );
    assert!(
        doc.length(&expected) <= MAX_CHARS,
        "the text exceeds its limit"
    );
}

/// A little reader over the fuzzer's bytes.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn small(&mut self) -> usize {
        self.byte().map_or(0, usize::from)
    }

    fn text(&mut self) -> String {
        let n = self.small() % 24;
        let take = n.min(self.0.len());
        let (head, rest) = self.0.split_at(take);
        self.0 = rest;
        String::from_utf8_lossy(head).into_owned()
    }
}

/// Target `policy`: the input is an edit script run on a fork of the
/// element document (text splices, and everything the policy forbids: map
/// keys, new objects, marks, counters, deleting the text); the resulting
/// changes are sent in one sync message in the form the first byte picks.
/// Well-formed changes are never bad sync data; they are accepted exactly
/// when they only edit the text within its limit, and then the server's
/// text is the client's.
pub fn policy(data: &[u8]) {
    let mut input = Input(data);
    let form = input.byte().unwrap_or(0);
    static CLIENT: OnceLock<AutoCommit> = OnceLock::new();
    let mut client = CLIENT
        .get_or_init(|| AutoCommit::load(&element_doc().save()).expect("fork"))
        .clone();
    let base_heads = client.get_heads();
    let actor = match input.byte().unwrap_or(0) % 8 {
        0 => server_actor(),
        n => ActorId::from([n; 16]),
    };
    client.set_actor(actor);
    let text = text();
    let mut objects: Vec<ObjId> = vec![text.clone()];
    let mut allowed = true;
    for _ in 0..MAX_EDITS {
        let Some(op) = input.byte() else { break };
        let obj = objects[input.small() % objects.len()].clone();
        let len = client.length(&obj);
        let pos = input.small() % (len + 1);
        let ok = match op % 12 {
            0..=3 => {
                let del = (input.small() % 4).min(len - pos);
                let s = input.text();
                let ok = client.splice_text(&obj, pos, del as isize, &s).is_ok();
                if ok && (del > 0 || !s.is_empty()) && obj != text {
                    allowed = false;
                }
                ok
            }
            4 => {
                let s = "x".repeat(input.small() * 4);
                let ok = client.splice_text(&obj, pos, 0, &s).is_ok();
                if ok && !s.is_empty() && obj != text {
                    allowed = false;
                }
                ok
            }
            5 => {
                allowed = false;
                let key = input.text();
                client.put(ROOT, key, input.small() as i64).is_ok()
            }
            6 => {
                let kind = [ObjType::Text, ObjType::Map, ObjType::List][input.small() % 3];
                let key = input.text();
                match client.put_object(ROOT, key, kind) {
                    Ok(o) => {
                        allowed = false;
                        objects.push(o);
                        true
                    }
                    Err(_) => false,
                }
            }
            7 => {
                let end = (pos + 1 + input.small() % 4).min(len);
                if pos >= end {
                    false
                } else {
                    allowed = false;
                    let mark = automerge::marks::Mark::new("bold".into(), true, pos, end);
                    client
                        .mark(&obj, mark, automerge::marks::ExpandMark::After)
                        .is_ok()
                }
            }
            8 => {
                allowed = false;
                client
                    .put(ROOT, "n", automerge::ScalarValue::counter(1))
                    .is_ok()
                    && client.increment(ROOT, "n", 2).is_ok()
            }
            9 => {
                allowed = false;
                client.delete(ROOT, "text").is_ok()
            }
            10 => {
                client.commit();
                true
            }
            _ => {
                // A long deletion (automerge's `update_text` diffs, too slow here).
                let del = (input.small() * 2).min(len - pos);
                let ok = client.splice_text(&obj, pos, del as isize, "").is_ok();
                if ok && del > 0 && obj != text {
                    allowed = false;
                }
                ok
            }
        };
        let _ = ok;
    }
    client.commit();
    let changes: Vec<Change> = client.get_changes(&base_heads);
    if changes.is_empty() {
        return;
    }
    let chunks: Vec<Vec<u8>> = match form % 4 {
        0 => changes.iter().map(|c| c.raw_bytes().to_vec()).collect(),
        // Compressed when longer than automerge's threshold.
        1 => changes.iter().map(|c| c.clone().bytes().to_vec()).collect(),
        2 => vec![
            changes
                .iter()
                .flat_map(|c| c.raw_bytes().to_vec())
                .collect(),
        ],
        _ => vec![client.save()],
    };
    let message = sync::Message {
        heads: client.get_heads(),
        need: vec![],
        have: vec![],
        changes: chunks.into(),
        flags: None,
        version: sync::MessageVersion::V1,
    }
    .encode();
    let mut server = element_server();
    let outcome = server
        .receive_guarded(1, &message, &mut guard)
        .expect("well-formed changes are not bad sync data");
    server.commit_succeeded().expect("commit");
    check_element(server.doc());
    let inserted_by_server = client.get_actor() == &server_actor();
    let client_len = client.length(&text);
    let within = client.keys(ROOT).count() == 1 && client_len <= MAX_CHARS;
    match outcome {
        Received::Accepted { .. } => {
            assert!(
                allowed && !inserted_by_server,
                "accepted a forbidden change"
            );
            assert_eq!(server.heads(), client.get_heads());
            assert_eq!(
                server.doc().text(&text).expect("text"),
                client.text(&text).expect("text")
            );
        }
        Received::Refused(refusal) => {
            // Text-only edits within the limit from the peer's own actor
            // are refused only when they insert more than the limit in one
            // message (the length check does not subtract deletions).
            if allowed && !inserted_by_server && within {
                assert_eq!(refusal.code, "too_large", "{refusal:?}");
            }
        }
    }
    // It still answers its peers.
    server.generate();
}

/// Target `scenario`: parses a scenario file and, when it is valid, builds
/// its documents as the first start does.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = accord_model::Scenario::parse(text) else {
        return;
    };
    // Building documents costs automerge far more than parsing: only the
    // first few elements, so the parser gets most of the executions.
    let actor = server_actor();
    let mut elements = Vec::new();
    for (i, element) in scenario.elements.iter().take(3).enumerate() {
        let doc = accord_model::new_element_doc(&actor, &element.text).expect("element document");
        assert_eq!(
            accord_model::element_text(&doc).expect("text"),
            element.text
        );
        elements.push(accord_model::IndexElement {
            id: format!("e{i}"),
            label: element.label.clone(),
            doc: "automerge:2j9knpCseyhnK8izDmLpGP5WMdZQ".into(),
        });
    }
    let index = accord_model::new_index_doc(
        &actor,
        &scenario.draft.title,
        &scenario.draft.preamble,
        &elements,
    )
    .expect("index document");
    let state = accord_model::read_index(&index).expect("index reads back");
    assert_eq!(state.elements.len(), elements.len());
}

#[cfg(test)]
mod tests;
