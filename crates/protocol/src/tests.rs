//! Unit tests of the protocol crate: the CBOR codec, the handshake, document
//! ids, and the check–commit–apply sync engine against plain automerge clients.

use automerge::sync::{self, MessageFlags, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, Automerge, ObjId, ObjType, ROOT, ReadDoc};
use ciborium::Value;

use crate::{
    BadSyncData, ConnId, DocMessage, DocSync, DocumentId, Ephemeral, Message, PROTOCOL_VERSION,
    Policy, ProtocolError, Received, answer_join,
};

// ---------------------------------------------------------------------------
// CBOR helpers
// ---------------------------------------------------------------------------

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (t(k), v.clone())).collect())
}

fn decode_value(bytes: &[u8]) -> Value {
    ciborium::from_reader(bytes).unwrap()
}

/// The value of `key` in an encoded message.
fn field(bytes: &[u8], key: &str) -> Option<Value> {
    let Value::Map(entries) = decode_value(bytes) else {
        panic!("not a map");
    };
    entries
        .into_iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn doc_message(data: &[u8]) -> DocMessage {
    DocMessage {
        sender_id: "peer-client".into(),
        target_id: "server".into(),
        document_id: DocumentId::random().to_string(),
        data: data.to_vec(),
    }
}

fn ephemeral() -> Ephemeral {
    Ephemeral {
        sender_id: "peer-client".into(),
        target_id: "server".into(),
        document_id: DocumentId::random().to_string(),
        count: 42,
        session_id: "session-1".into(),
        data: cbor(&map(&[("cursor", Value::Integer(7.into()))])),
    }
}

fn all_messages() -> Vec<Message> {
    vec![
        Message::Join {
            sender_id: "peer-abc".into(),
            peer_metadata: Some(map(&[
                ("storageId", t("storage-1")),
                ("isEphemeral", Value::Bool(false)),
            ])),
            supported_protocol_versions: vec!["1".into()],
        },
        Message::Join {
            sender_id: "peer-abc".into(),
            peer_metadata: None,
            supported_protocol_versions: vec!["1".into(), "2".into()],
        },
        Message::Peer {
            sender_id: "server".into(),
            target_id: "peer-abc".into(),
            peer_metadata: map(&[("isEphemeral", Value::Bool(false))]),
            selected_protocol_version: "1".into(),
        },
        Message::Error {
            message: "go away".into(),
        },
        Message::Leave {
            sender_id: "peer-abc".into(),
        },
        Message::Request(doc_message(&[0x42, 0, 0, 0, 0])),
        Message::Sync(doc_message(&[1, 2, 3, 255])),
        Message::Sync(doc_message(&[])),
        Message::DocUnavailable {
            sender_id: "server".into(),
            target_id: "peer-abc".into(),
            document_id: DocumentId::random().to_string(),
        },
        Message::Ephemeral(ephemeral()),
    ]
}

/// A valid encoded sync frame, as a map of fields we can tamper with.
/// A message's fields, by wire name.
type FieldList = Vec<(&'static str, Value)>;

fn sync_fields() -> FieldList {
    vec![
        ("type", t("sync")),
        ("senderId", t("peer-client")),
        ("targetId", t("server")),
        ("documentId", t(&DocumentId::random().to_string())),
        ("data", Value::Bytes(vec![1, 2, 3])),
    ]
}

fn ephemeral_fields() -> FieldList {
    vec![
        ("type", t("ephemeral")),
        ("senderId", t("peer-client")),
        ("targetId", t("server")),
        ("documentId", t(&DocumentId::random().to_string())),
        ("count", Value::Integer(3.into())),
        ("sessionId", t("session-1")),
        ("data", Value::Bytes(vec![0xa0])),
    ]
}

fn with(fields: &[(&'static str, Value)], key: &str, value: Value) -> Vec<u8> {
    let entries: Vec<(&str, Value)> = fields
        .iter()
        .map(|(k, v)| (*k, if *k == key { value.clone() } else { v.clone() }))
        .collect();
    cbor(&map(&entries))
}

fn without(fields: &[(&'static str, Value)], key: &str) -> Vec<u8> {
    let entries: Vec<(&str, Value)> = fields
        .iter()
        .filter(|(k, _)| *k != key)
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    cbor(&map(&entries))
}

/// A tiny deterministic PRNG (xorshift) for fuzz-like inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------
// Codec: round trips and lenient decoding
// ---------------------------------------------------------------------------

#[test]
fn every_message_type_round_trips() {
    for message in all_messages() {
        let bytes = message.encode();
        let decoded = Message::decode(&bytes).unwrap_or_else(|e| panic!("{message:?}: {e}"));
        assert_eq!(decoded, message);
        // The wire type is the message's kind.
        assert_eq!(field(&bytes, "type"), Some(t(message.kind())));
    }
}

#[test]
fn encoded_fields_use_the_wire_names() {
    let bytes = Message::Sync(doc_message(&[9, 9])).encode();
    assert_eq!(field(&bytes, "senderId"), Some(t("peer-client")));
    assert_eq!(field(&bytes, "targetId"), Some(t("server")));
    assert!(matches!(field(&bytes, "documentId"), Some(Value::Text(_))));
    // `data` is a plain byte string, not a tagged typed array.
    assert_eq!(field(&bytes, "data"), Some(Value::Bytes(vec![9, 9])));

    let bytes = Message::Ephemeral(ephemeral()).encode();
    assert_eq!(field(&bytes, "count"), Some(Value::Integer(42.into())));
    assert_eq!(field(&bytes, "sessionId"), Some(t("session-1")));

    let bytes = Message::Peer {
        sender_id: "s".into(),
        target_id: "c".into(),
        peer_metadata: map(&[]),
        selected_protocol_version: "1".into(),
    }
    .encode();
    assert_eq!(field(&bytes, "selectedProtocolVersion"), Some(t("1")));
    assert!(field(&bytes, "peerMetadata").is_some());
    assert!(field(&bytes, "metadata").is_none());
}

#[test]
fn gossip_messages_decode_as_ignored() {
    for kind in ["remote-subscription-change", "remote-heads-changed"] {
        let bytes = cbor(&map(&[
            ("type", t(kind)),
            ("senderId", t("peer-client")),
            ("targetId", t("server")),
            ("add", Value::Array(vec![t("storage-1")])),
            ("remove", Value::Array(vec![])),
        ]));
        let decoded = Message::decode(&bytes).unwrap();
        assert_eq!(decoded, Message::Ignored { kind });
        assert_eq!(decoded.kind(), kind);
        // Even with no other field at all.
        let bare = cbor(&map(&[("type", t(kind))]));
        assert_eq!(Message::decode(&bare).unwrap(), Message::Ignored { kind });
    }
}

#[test]
fn count_sent_as_float_decodes() {
    let fields = ephemeral_fields();
    for (float, expected) in [(3.0, 3), (0.0, 0), (1_700_000_000_000.0, 1_700_000_000_000)] {
        let bytes = with(&fields, "count", Value::Float(float));
        let Message::Ephemeral(e) = Message::decode(&bytes).unwrap() else {
            panic!("not ephemeral");
        };
        assert_eq!(e.count, expected);
    }
}

#[test]
fn unknown_extra_fields_are_ignored() {
    let mut fields = sync_fields();
    fields.push(("timestamp", Value::Float(1.5e12)));
    fields.push(("somethingNew", map(&[("nested", Value::Array(vec![]))])));
    let bytes = cbor(&map(&fields));
    let Message::Sync(d) = Message::decode(&bytes).unwrap() else {
        panic!("not sync");
    };
    assert_eq!(d.data, vec![1, 2, 3]);

    // Non-string keys are ignored too.
    let Value::Map(mut entries) = map(&ephemeral_fields()) else {
        unreachable!()
    };
    entries.push((Value::Integer(1.into()), t("x")));
    entries.push((Value::Bytes(vec![1]), Value::Null));
    assert!(matches!(
        Message::decode(&cbor(&Value::Map(entries))).unwrap(),
        Message::Ephemeral(_)
    ));

    let join = cbor(&map(&[
        ("type", t("join")),
        ("senderId", t("peer-x")),
        ("supportedProtocolVersions", Value::Array(vec![t("1")])),
        ("extra", Value::Bool(true)),
    ]));
    assert!(matches!(
        Message::decode(&join).unwrap(),
        Message::Join { .. }
    ));
}

#[test]
fn tagged_data_still_decodes() {
    // cbor-x with tagUint8Array wraps bytes in tag 64 (uint8 typed array).
    let tagged = Value::Tag(64, Box::new(Value::Bytes(vec![0x42, 1, 2])));
    let bytes = with(&sync_fields(), "data", tagged.clone());
    let Message::Sync(d) = Message::decode(&bytes).unwrap() else {
        panic!("not sync");
    };
    assert_eq!(d.data, vec![0x42, 1, 2]);

    let bytes = with(&sync_fields(), "type", t("request"));
    let bytes = {
        let Value::Map(entries) = decode_value(&bytes) else {
            unreachable!()
        };
        let entries = entries
            .into_iter()
            .map(|(k, v)| {
                if k.as_text() == Some("data") {
                    (k, tagged.clone())
                } else {
                    (k, v)
                }
            })
            .collect();
        cbor(&Value::Map(entries))
    };
    let Message::Request(d) = Message::decode(&bytes).unwrap() else {
        panic!("not request");
    };
    assert_eq!(d.data, vec![0x42, 1, 2]);

    let bytes = with(&ephemeral_fields(), "data", tagged);
    let Message::Ephemeral(e) = Message::decode(&bytes).unwrap() else {
        panic!("not ephemeral");
    };
    assert_eq!(e.data, vec![0x42, 1, 2]);

    // A tag around something that is not bytes is still an error.
    let bytes = with(&sync_fields(), "data", Value::Tag(64, Box::new(t("abc"))));
    assert_eq!(
        Message::decode(&bytes),
        Err(ProtocolError::MissingField {
            kind: "sync",
            field: "data"
        })
    );
}

// ---------------------------------------------------------------------------
// Codec: protocol errors, never a panic
// ---------------------------------------------------------------------------

#[test]
fn malformed_cbor_is_an_error() {
    assert!(matches!(Message::decode(&[]), Err(ProtocolError::Cbor(_))));
    // Every strict prefix of a valid message is an error.
    for message in all_messages() {
        let bytes = message.encode();
        for len in 0..bytes.len() {
            assert!(
                Message::decode(&bytes[..len]).is_err(),
                "prefix {len} of {message:?} decoded"
            );
        }
    }
    // A reserved additional-info byte, a lone break, an indefinite map never closed.
    for bytes in [&[0x1c][..], &[0xff], &[0xbf, 0x61, 0x61]] {
        assert!(Message::decode(bytes).is_err(), "{bytes:?}");
    }
    // A map claiming a huge length.
    assert!(Message::decode(&[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    // A byte string claiming a huge length.
    assert!(Message::decode(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn deeply_nested_cbor_is_an_error_not_a_stack_overflow() {
    let mut bytes = vec![0x81; 100_000]; // [[[[...
    bytes.push(0x00);
    assert!(Message::decode(&bytes).is_err());
    // Nested inside an otherwise valid message.
    let mut bytes = vec![0xa2, 0x64];
    bytes.extend_from_slice(b"type");
    bytes.extend_from_slice(&[0x64]);
    bytes.extend_from_slice(b"join");
    bytes.extend_from_slice(&[0x6c]);
    bytes.extend_from_slice(b"peerMetadata");
    bytes.extend(std::iter::repeat_n(0xa1, 50_000).flat_map(|m| [m, 0x00]));
    bytes.push(0x00);
    assert!(Message::decode(&bytes).is_err());
}

#[test]
fn random_bytes_are_an_error() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..5_000 {
        let len = (rng.next() % 64) as usize;
        let bytes = rng.bytes(len);
        let result = Message::decode(&bytes);
        assert!(result.is_err(), "case {i}: {bytes:?} decoded to {result:?}");
    }
    // Random mutations of valid frames never panic (they may still decode).
    let frames: Vec<Vec<u8>> = all_messages().iter().map(Message::encode).collect();
    for _ in 0..5_000 {
        let mut bytes = frames[(rng.next() as usize) % frames.len()].clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % bytes.len();
            bytes[at] = rng.next() as u8;
        }
        let _ = Message::decode(&bytes);
    }
}

#[test]
fn a_value_that_is_not_a_map_is_not_a_message() {
    for value in [
        Value::Array(vec![t("type"), t("join")]),
        Value::Integer(1.into()),
        t("join"),
        Value::Bytes(vec![0xa0]),
        Value::Null,
        Value::Bool(true),
        Value::Float(1.0),
        Value::Tag(55799, Box::new(t("x"))),
    ] {
        assert_eq!(
            Message::decode(&cbor(&value)),
            Err(ProtocolError::NotAMessage),
            "{value:?}"
        );
    }
}

#[test]
fn a_map_without_a_string_type_is_not_a_message() {
    assert_eq!(
        Message::decode(&without(&sync_fields(), "type")),
        Err(ProtocolError::NotAMessage)
    );
    assert_eq!(
        Message::decode(&cbor(&map(&[]))),
        Err(ProtocolError::NotAMessage)
    );
    for bad in [
        Value::Integer(1.into()),
        Value::Bytes(b"sync".to_vec()),
        Value::Null,
    ] {
        assert_eq!(
            Message::decode(&with(&sync_fields(), "type", bad)),
            Err(ProtocolError::NotAMessage)
        );
    }
}

#[test]
fn an_unknown_type_is_an_error() {
    for kind in ["hello", "", "SYNC", "Join"] {
        assert_eq!(
            Message::decode(&cbor(&map(&[("type", t(kind))]))),
            Err(ProtocolError::UnknownType(kind.to_owned()))
        );
    }
    // A long type is truncated in the error.
    let long = "x".repeat(10_000);
    let Err(ProtocolError::UnknownType(shown)) =
        Message::decode(&cbor(&map(&[("type", t(&long))])))
    else {
        panic!("expected UnknownType");
    };
    assert!(shown.chars().count() <= 64);
    // Truncation respects character boundaries.
    let long = "é".repeat(100);
    let Err(ProtocolError::UnknownType(shown)) =
        Message::decode(&cbor(&map(&[("type", t(&long))])))
    else {
        panic!("expected UnknownType");
    };
    assert_eq!(shown, "é".repeat(64));
}

#[test]
fn missing_required_fields_are_errors() {
    let doc = t(&DocumentId::random().to_string());
    let cases: Vec<(&'static str, FieldList, Vec<&'static str>)> = vec![
        (
            "join",
            vec![("type", t("join")), ("senderId", t("p"))],
            vec!["senderId"],
        ),
        (
            "peer",
            vec![
                ("type", t("peer")),
                ("senderId", t("s")),
                ("targetId", t("p")),
                ("selectedProtocolVersion", t("1")),
            ],
            vec!["senderId", "targetId", "selectedProtocolVersion"],
        ),
        (
            "error",
            vec![("type", t("error")), ("message", t("m"))],
            vec!["message"],
        ),
        (
            "leave",
            vec![("type", t("leave")), ("senderId", t("p"))],
            vec!["senderId"],
        ),
        (
            "request",
            {
                let mut f = sync_fields();
                f[0].1 = t("request");
                f
            },
            vec!["senderId", "targetId", "documentId", "data"],
        ),
        (
            "sync",
            sync_fields(),
            vec!["senderId", "targetId", "documentId", "data"],
        ),
        (
            "doc-unavailable",
            vec![
                ("type", t("doc-unavailable")),
                ("senderId", t("s")),
                ("targetId", t("p")),
                ("documentId", doc),
            ],
            vec!["senderId", "targetId", "documentId"],
        ),
        (
            "ephemeral",
            ephemeral_fields(),
            vec![
                "senderId",
                "targetId",
                "documentId",
                "count",
                "sessionId",
                "data",
            ],
        ),
    ];
    for (kind, fields, required) in cases {
        // Complete, it decodes.
        let complete = cbor(&map(&fields));
        assert_eq!(Message::decode(&complete).unwrap().kind(), kind);
        for missing in required {
            assert_eq!(
                Message::decode(&without(&fields, missing)),
                Err(ProtocolError::MissingField {
                    kind,
                    field: missing
                }),
                "{kind} without {missing}"
            );
        }
    }
}

#[test]
fn wrong_field_types_are_errors() {
    let missing = |kind, field| Err(ProtocolError::MissingField { kind, field });
    let sync = sync_fields();
    for (key, value) in [
        ("senderId", Value::Integer(5.into())),
        ("targetId", Value::Null),
        ("documentId", Value::Bytes(vec![1])),
        ("data", t("AQID")),
        ("data", Value::Array(vec![Value::Integer(1.into())])),
    ] {
        assert_eq!(
            Message::decode(&with(&sync, key, value.clone())),
            missing("sync", key),
            "{key} = {value:?}"
        );
    }
    let eph = ephemeral_fields();
    for value in [
        t("3"),
        Value::Integer((-1).into()),
        Value::Float(-1.0),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
        Value::Float(1e30),
        Value::Null,
    ] {
        assert_eq!(
            Message::decode(&with(&eph, "count", value.clone())),
            missing("ephemeral", "count"),
            "count = {value:?}"
        );
    }
    assert_eq!(
        Message::decode(&with(&eph, "sessionId", Value::Integer(1.into()))),
        missing("ephemeral", "sessionId")
    );
    let join = vec![
        ("type", t("join")),
        ("senderId", t("p")),
        ("supportedProtocolVersions", Value::Array(vec![t("1")])),
    ];
    assert_eq!(
        Message::decode(&with(&join, "supportedProtocolVersions", t("1"))),
        missing("join", "supportedProtocolVersions")
    );
    assert_eq!(
        Message::decode(&with(&join, "senderId", Value::Array(vec![]))),
        missing("join", "senderId")
    );
    // Non-string entries in the version list are skipped, not fatal.
    let Message::Join {
        supported_protocol_versions,
        ..
    } = Message::decode(&with(
        &join,
        "supportedProtocolVersions",
        Value::Array(vec![Value::Integer(1.into()), t("1")]),
    ))
    .unwrap()
    else {
        panic!("not join");
    };
    assert_eq!(supported_protocol_versions, vec!["1".to_owned()]);
}

#[test]
fn protocol_errors_display() {
    let errors = [
        ProtocolError::Cbor("eof".into()),
        ProtocolError::NotAMessage,
        ProtocolError::UnknownType("x".into()),
        ProtocolError::MissingField {
            kind: "sync",
            field: "data",
        },
        ProtocolError::UnsupportedVersion,
        ProtocolError::NotJoined("sync"),
        ProtocolError::AlreadyJoined,
        ProtocolError::BadSyncData {
            document: "d".into(),
            reason: "r".into(),
        },
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
    }
}

// ---------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------

fn join(versions: Option<Vec<&str>>) -> Message {
    let mut fields = vec![
        ("type", t("join")),
        ("senderId", t("peer-joiner")),
        ("peerMetadata", map(&[("isEphemeral", Value::Bool(true))])),
    ];
    if let Some(versions) = versions {
        fields.push((
            "supportedProtocolVersions",
            Value::Array(versions.into_iter().map(t).collect()),
        ));
    }
    Message::decode(&cbor(&map(&fields))).unwrap()
}

#[test]
fn answer_join_returns_peer() {
    let answer = answer_join(&join(Some(vec!["1"])), "server-peer", None).unwrap();
    let Message::Peer {
        sender_id,
        target_id,
        peer_metadata,
        selected_protocol_version,
    } = &answer
    else {
        panic!("not peer: {answer:?}");
    };
    assert_eq!(sender_id, "server-peer");
    assert_eq!(target_id, "peer-joiner");
    assert_eq!(selected_protocol_version, "1");
    assert_eq!(selected_protocol_version, PROTOCOL_VERSION);
    assert!(matches!(peer_metadata, Value::Map(_)));
    // It survives the wire.
    assert_eq!(Message::decode(&answer.encode()).unwrap(), answer);
    // The encoded form is what the JS client expects.
    let bytes = answer.encode();
    assert_eq!(field(&bytes, "type"), Some(t("peer")));
    assert_eq!(field(&bytes, "targetId"), Some(t("peer-joiner")));
    assert_eq!(field(&bytes, "selectedProtocolVersion"), Some(t("1")));
}

#[test]
fn answer_join_names_the_storage_when_given() {
    let answer = answer_join(&join(Some(vec!["1"])), "server", Some("storage-7")).unwrap();
    let bytes = answer.encode();
    let metadata = field(&bytes, "peerMetadata").expect("peer metadata");
    let entries = metadata.as_map().expect("a map");
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("storageId"), Some(t("storage-7")));
    assert_eq!(get("isEphemeral"), Some(Value::Bool(false)));
}

#[test]
fn answer_join_picks_one_among_several_versions() {
    let answer = answer_join(&join(Some(vec!["2", "1", "0"])), "server", None).unwrap();
    assert!(matches!(
        answer,
        Message::Peer { ref selected_protocol_version, .. } if selected_protocol_version == "1"
    ));
}

#[test]
fn answer_join_refuses_unsupported_versions() {
    assert_eq!(
        answer_join(&join(Some(vec!["2"])), "server", None),
        Err(ProtocolError::UnsupportedVersion)
    );
    assert_eq!(
        answer_join(&join(Some(vec![])), "server", None),
        Err(ProtocolError::UnsupportedVersion)
    );
    assert_eq!(
        answer_join(&join(Some(vec!["1.0", " 1", "01"])), "server", None),
        Err(ProtocolError::UnsupportedVersion)
    );
}

#[test]
fn a_join_without_versions_means_version_1() {
    let first = join(None);
    let Message::Join {
        supported_protocol_versions,
        ..
    } = &first
    else {
        panic!("not join");
    };
    assert_eq!(supported_protocol_versions, &vec!["1".to_owned()]);
    let answer = answer_join(&first, "server", None).unwrap();
    assert!(matches!(
        answer,
        Message::Peer { ref target_id, ref selected_protocol_version, .. }
            if target_id == "peer-joiner" && selected_protocol_version == "1"
    ));
}

#[test]
fn a_first_message_that_is_not_join_is_refused() {
    for message in all_messages() {
        if matches!(message, Message::Join { .. }) {
            continue;
        }
        assert_eq!(
            answer_join(&message, "server", None),
            Err(ProtocolError::NotJoined(message.kind())),
            "{message:?}"
        );
    }
    let ignored = Message::Ignored {
        kind: "remote-heads-changed",
    };
    assert_eq!(
        answer_join(&ignored, "server", None),
        Err(ProtocolError::NotJoined("remote-heads-changed"))
    );
}

// ---------------------------------------------------------------------------
// Document ids
// ---------------------------------------------------------------------------

#[test]
fn document_id_round_trips() {
    for _ in 0..100 {
        let id = DocumentId::random();
        let s = id.to_string();
        assert_eq!(s.parse::<DocumentId>().unwrap(), id);
        assert_eq!(DocumentId::from_url(&s).unwrap(), id);
        assert_eq!(id.url(), format!("automerge:{s}"));
        assert_eq!(DocumentId::from_url(&id.url()).unwrap(), id);
        assert_eq!(
            DocumentId::from_url(&format!("automerge:{s}#2x3y")).unwrap(),
            id
        );
        assert!(format!("{id:?}").contains(&s));
        // A UUID v4.
        let uuid = uuid::Uuid::from_bytes(*id.as_bytes());
        assert_eq!(uuid.get_version_num(), 4);
    }
    assert_ne!(DocumentId::random(), DocumentId::random());
}

#[test]
fn document_id_matches_automerge_repo_encoding() {
    // bs58check of the raw 16 bytes, as automerge-repo's `stringifyAutomergeUrl`.
    let bytes = [7u8; 16];
    let s = bs58::encode(bytes).with_check().into_string();
    let id: DocumentId = s.parse().unwrap();
    assert_eq!(id.as_bytes(), &bytes);
    assert_eq!(id.to_string(), s);
}

#[test]
fn invalid_document_ids_are_errors() {
    let good = DocumentId::random().to_string();
    // Bad checksum: change one character.
    let mut chars: Vec<char> = good.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == '2' { '3' } else { '2' };
    let bad_checksum: String = chars.into_iter().collect();
    // Wrong length: valid bs58check of 15 and 17 bytes.
    let short = bs58::encode([1u8; 15]).with_check().into_string();
    let long = bs58::encode([1u8; 17]).with_check().into_string();
    // Valid bs58 without a checksum.
    let unchecked = bs58::encode([1u8; 16]).into_string();
    for bad in [
        bad_checksum.as_str(),
        short.as_str(),
        long.as_str(),
        unchecked.as_str(),
        "",
        "0OIl0OIl0OIl0OIl0OIl", // not base58
        "hello world",
        "ééé",
        &good[1..],
    ] {
        assert!(bad.parse::<DocumentId>().is_err(), "{bad:?}");
        assert!(DocumentId::from_url(bad).is_err(), "{bad:?}");
        let err = DocumentId::from_url(&format!("automerge:{bad}")).unwrap_err();
        assert_eq!(err.0, bad);
    }
    assert!(DocumentId::from_url("automerge:").is_err());
    assert!(DocumentId::from_url("automerge:#heads").is_err());
    assert!(DocumentId::from_url(&format!("other:{good}")).is_err());
}

// ---------------------------------------------------------------------------
// Sync engine helpers
// ---------------------------------------------------------------------------

const MAX_BYTES: usize = 1 << 20;

/// An element document as the server creates it: `{ "text": Text }`.
fn element_doc(text: &str) -> (Automerge, ObjId) {
    let mut ac = AutoCommit::new();
    let obj = ac.put_object(ROOT, "text", ObjType::Text).unwrap();
    ac.splice_text(&obj, 0, 0, text).unwrap();
    ac.commit();
    let doc = Automerge::load(&ac.save()).unwrap();
    let (_, obj) = doc.get(ROOT, "text").unwrap().unwrap();
    (doc, obj)
}

fn text_server(text: &str, max_chars: usize) -> (DocSync, ObjId) {
    let (doc, obj) = element_doc(text);
    let policy = Policy::Text {
        text_obj: obj.clone(),
        max_chars,
    };
    (DocSync::new(doc, policy, MAX_BYTES), obj)
}

fn server_text(server: &DocSync, obj: &ObjId) -> String {
    server.doc().text(obj).unwrap()
}

struct Client {
    conn: ConnId,
    doc: AutoCommit,
    state: sync::State,
}

impl Client {
    /// A client that loaded the server's document (e.g. from an earlier session).
    fn loaded(conn: ConnId, server: &DocSync) -> Self {
        Self {
            conn,
            doc: AutoCommit::load(&server.doc().save()).unwrap(),
            state: sync::State::new(),
        }
    }

    /// A client that starts with nothing and syncs the document from the server.
    fn empty(conn: ConnId) -> Self {
        Self {
            conn,
            doc: AutoCommit::new(),
            state: sync::State::new(),
        }
    }

    fn text_obj(&mut self) -> ObjId {
        let (_, obj) = self.doc.get(ROOT, "text").unwrap().unwrap();
        obj
    }

    fn text(&mut self) -> String {
        let obj = self.text_obj();
        self.doc.text(&obj).unwrap()
    }

    fn splice(&mut self, pos: usize, del: isize, text: &str) {
        let obj = self.text_obj();
        self.doc.splice_text(&obj, pos, del, text).unwrap();
        self.doc.commit();
    }

    fn generate(&mut self) -> Option<Vec<u8>> {
        self.doc
            .sync()
            .generate_sync_message(&mut self.state)
            .map(sync::Message::encode)
    }

    fn receive(&mut self, bytes: &[u8]) {
        let message = sync::Message::decode(bytes).unwrap();
        self.doc
            .sync()
            .receive_sync_message(&mut self.state, message)
            .unwrap();
    }

    /// Reconnects: a fresh sync state, as the JS client after a reconnect.
    fn reconnect(&mut self, conn: ConnId) {
        self.conn = conn;
        self.state = sync::State::new();
    }

    fn heads(&mut self) -> Vec<automerge::ChangeHash> {
        self.doc.get_heads()
    }
}

/// What happened during [`run`].
#[derive(Default, Debug)]
struct Log {
    received: Vec<(ConnId, Received)>,
    /// Every server → client message, decoded.
    sent: Vec<(ConnId, sync::Message)>,
    committed: usize,
}

/// Runs rounds until nobody has anything to say: every client sends what it
/// has, the server commits what is pending, and its replies are delivered.
fn run(server: &mut DocSync, clients: &mut [&mut Client]) -> Log {
    let mut log = Log::default();
    for _ in 0..50 {
        let mut quiet = true;
        for client in clients.iter_mut() {
            if let Some(bytes) = client.generate() {
                quiet = false;
                let outcome = server.receive(client.conn, &bytes).unwrap();
                log.received.push((client.conn, outcome));
            }
        }
        log.committed += server.pending().len();
        let out = server.commit_succeeded().unwrap();
        assert!(server.pending().is_empty());
        for (conn, bytes) in out {
            quiet = false;
            log.sent
                .push((conn, sync::Message::decode(&bytes).unwrap()));
            if let Some(client) = clients.iter_mut().find(|c| c.conn == conn) {
                client.receive(&bytes);
            }
        }
        if quiet {
            return log;
        }
    }
    panic!("sync did not quiesce");
}

/// A sync message carrying exactly these change chunks.
fn message_with_chunks(heads: Vec<automerge::ChangeHash>, chunks: Vec<Vec<u8>>) -> Vec<u8> {
    sync::Message {
        heads,
        need: vec![],
        have: vec![],
        changes: chunks.into(),
        flags: None,
        version: sync::MessageVersion::V1,
    }
    .encode()
}

/// Runs `edit` on a fork of the server's document and returns the new change.
fn change_on(server: &DocSync, edit: impl FnOnce(&mut AutoCommit)) -> automerge::Change {
    let mut ac = AutoCommit::load(&server.doc().save()).unwrap();
    edit(&mut ac);
    ac.commit();
    ac.get_last_local_change().expect("the edit made a change")
}

fn has_read_only_flag(message: &sync::Message) -> bool {
    message
        .flags
        .is_some_and(|f| f.contains(MessageFlags::READ_ONLY))
}

// ---------------------------------------------------------------------------
// Sync engine: bad input
// ---------------------------------------------------------------------------

#[test]
fn garbage_sync_bytes_are_bad_sync_data() {
    let (mut server, obj) = text_server("hello", 100);
    let heads = server.heads();
    let mut rng = Rng(42);
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00],
        vec![0x42],
        vec![0x43, 0xff],
        b"hello".to_vec(),
    ];
    for _ in 0..500 {
        let len = (rng.next() % 40) as usize;
        let mut bytes = rng.bytes(len);
        if let Some(first) = bytes.first_mut() {
            *first = 0x20; // never a sync message type byte
        }
        inputs.push(bytes);
    }
    for bytes in inputs {
        assert!(
            matches!(server.receive(1, &bytes), Err(BadSyncData(_))),
            "{bytes:?}"
        );
    }
    // Truncated valid messages too.
    let mut client = Client::loaded(2, &server);
    client.splice(0, 0, "x");
    let full = message_with_chunks(
        client.heads(),
        vec![
            client
                .doc
                .get_last_local_change()
                .unwrap()
                .raw_bytes()
                .to_vec(),
        ],
    );
    for len in 1..full.len() {
        assert!(server.receive(4, &full[..len]).is_err(), "prefix {len}");
    }
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server.heads(), heads);
    assert_eq!(server_text(&server, &obj), "hello");
}

#[test]
fn a_garbage_change_chunk_is_bad_sync_data() {
    let (mut server, obj) = text_server("hello", 100);
    let heads = server.heads();
    for chunk in [vec![1, 2, 3], vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1]] {
        let bytes = message_with_chunks(vec![], vec![chunk.clone()]);
        assert!(
            matches!(server.receive(1, &bytes), Err(BadSyncData(_))),
            "{chunk:?}"
        );
    }
    // An empty chunk is an empty document: harmless, nothing new.
    let bytes = message_with_chunks(vec![], vec![vec![]]);
    assert_eq!(
        server.receive(1, &bytes),
        Ok(Received::Accepted { new_changes: 0 })
    );
    // A good change followed by a garbage chunk: nothing of it is pending.
    let good = change_on(&server, |ac| {
        let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
        ac.splice_text(&obj, 0, 0, "a").unwrap();
    });
    let bytes = message_with_chunks(
        vec![good.hash()],
        vec![good.raw_bytes().to_vec(), vec![9; 20]],
    );
    assert!(matches!(server.receive(2, &bytes), Err(BadSyncData(_))));
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server.heads(), heads);
    assert_eq!(server_text(&server, &obj), "hello");
    // A corrupted change (checksum mismatch) is bad too.
    let mut corrupt = good.raw_bytes().to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let bytes = message_with_chunks(vec![good.hash()], vec![corrupt]);
    assert!(server.receive(3, &bytes).is_err());
    assert!(server.pending().is_empty());
}

/// A bloom filter with zero bits per entry made automerge divide by zero
/// when the server computed what to send (a panic in `commit_succeeded`).
#[test]
fn a_degenerate_bloom_filter_is_bad_sync_data_not_a_panic() {
    let (mut server, _obj) = text_server("hello", 100);
    // Raw V1 sync message: no heads, no need, one `have` whose bloom claims one
    // entry, zero bits per entry and 7 probes, no changes.
    let bloom = [1u8, 0, 7];
    let mut bytes = vec![0x42, 0, 0, 1, 0, bloom.len() as u8];
    bytes.extend_from_slice(&bloom);
    bytes.push(0);
    assert!(sync::Message::decode(&bytes).is_ok());
    assert!(matches!(server.receive(1, &bytes), Err(BadSyncData(_))));
    assert!(!server.has_peer(1));
    server.commit_succeeded().unwrap();
    // An absurd probe count is refused too (it would allocate gigabytes).
    let mut bytes = vec![0x42, 0, 0, 1, 0];
    let bloom = [1u8, 10, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff];
    bytes.push(bloom.len() as u8);
    bytes.extend_from_slice(&bloom);
    bytes.push(0);
    assert!(sync::Message::decode(&bytes).is_ok());
    assert!(matches!(server.receive(2, &bytes), Err(BadSyncData(_))));
    server.commit_succeeded().unwrap();
    // Ordinary filters, as automerge builds them, pass.
    let mut a = Client::loaded(3, &server);
    a.splice(0, 0, "x");
    let mut b = Client::empty(4);
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(log.committed, 1);
    assert_eq!(b.text(), "xhello");
}

// ---------------------------------------------------------------------------
// Sync engine: end to end
// ---------------------------------------------------------------------------

#[test]
fn end_to_end_two_clients_converge_through_the_server() {
    let (mut server, obj) = text_server("Hello", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(log.committed, 0);
    assert_eq!(server.peer_count(), 2);

    a.splice(5, 0, ", world");
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(log.committed, 1);
    assert_eq!(server_text(&server, &obj), "Hello, world");
    assert_eq!(a.text(), "Hello, world");
    assert_eq!(b.text(), "Hello, world");
    assert_eq!(b.heads(), server.heads());
    assert_eq!(a.heads(), server.heads());

    // Concurrent edits from both sides merge.
    a.splice(0, 1, "J");
    b.splice(12, 0, "!");
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(log.committed, 2);
    assert_eq!(server_text(&server, &obj), "Jello, world!");
    assert_eq!(a.text(), "Jello, world!");
    assert_eq!(b.text(), "Jello, world!");
    assert_eq!(a.heads(), server.heads());
    assert_eq!(b.heads(), server.heads());
    // No message to a writable peer carries the read-only flag.
    assert!(log.sent.iter().all(|(_, m)| !has_read_only_flag(m)));
    assert!(!server.is_read_only(1) && !server.is_read_only(2));
}

#[test]
fn clients_starting_empty_sync_the_document_and_edit() {
    let (mut server, obj) = text_server("abc", 1_000);
    let mut a = Client::empty(1);
    let mut b = Client::empty(2);
    run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(a.text(), "abc");
    assert_eq!(b.text(), "abc");

    a.splice(3, 0, "def");
    run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(b.text(), "abcdef");
    b.splice(0, 3, "");
    run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(server_text(&server, &obj), "def");
    assert_eq!(a.text(), "def");
}

#[test]
fn many_small_changes_in_one_round_are_applied_together() {
    let (mut server, obj) = text_server("", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    run(&mut server, &mut [&mut a, &mut b]);
    for (i, c) in "typing".chars().enumerate() {
        a.splice(i, 0, &c.to_string());
    }
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(log.committed, 6);
    assert_eq!(server_text(&server, &obj), "typing");
    assert_eq!(b.text(), "typing");
}

#[test]
fn the_server_never_applies_before_commit() {
    let (mut server, obj) = text_server("base", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    run(&mut server, &mut [&mut a, &mut b]);
    let heads = server.heads();

    a.splice(4, 0, "-line");
    let bytes = a.generate().unwrap();
    let outcome = server.receive(1, &bytes).unwrap();
    assert_eq!(outcome, Received::Accepted { new_changes: 1 });
    // Checked and queued, not applied.
    assert_eq!(server.pending().len(), 1);
    assert_eq!(server.pending()[0].conn, 1);
    assert_eq!(
        server.pending()[0].hash,
        a.doc.get_last_local_change().unwrap().hash()
    );
    assert_eq!(
        automerge::Change::try_from(&server.pending()[0].bytes[..])
            .unwrap()
            .hash(),
        server.pending()[0].hash
    );
    assert_eq!(server_text(&server, &obj), "base");
    assert_eq!(server.heads(), heads);
    assert_eq!(server.doc().get_heads(), heads);
    // Nothing derived from the uncommitted change has been generated either:
    // b sends a message meanwhile and still nothing is applied.
    if let Some(bytes) = b.generate() {
        server.receive(2, &bytes).unwrap();
    }
    assert_eq!(server_text(&server, &obj), "base");
    assert_eq!(server.heads(), heads);

    let out = server.commit_succeeded().unwrap();
    assert!(server.pending().is_empty());
    assert_eq!(server_text(&server, &obj), "base-line");
    assert_ne!(server.heads(), heads);
    for (conn, bytes) in out {
        match conn {
            1 => a.receive(&bytes),
            2 => b.receive(&bytes),
            other => panic!("unknown conn {other}"),
        }
    }
    run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(b.text(), "base-line");
}

#[test]
fn commit_failed_drops_pending_and_returns_the_culprit() {
    let (mut server, obj) = text_server("base", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    run(&mut server, &mut [&mut a, &mut b]);
    let heads = server.heads();

    a.splice(0, 0, ">> ");
    let bytes = a.generate().unwrap();
    assert_eq!(
        server.receive(1, &bytes).unwrap(),
        Received::Accepted { new_changes: 1 }
    );
    // b's message of the same round carries no change.
    if let Some(bytes) = b.generate() {
        server.receive(2, &bytes).unwrap();
    }
    let (culprits, out) = server.commit_failed().unwrap();
    assert_eq!(culprits, vec![1]);
    assert!(!server.has_peer(1));
    assert!(server.has_peer(2));
    assert!(server.pending().is_empty());
    assert!(out.iter().all(|(conn, _)| *conn != 1));
    assert_eq!(server.heads(), heads);
    assert_eq!(server_text(&server, &obj), "base");
    for (_, bytes) in out {
        b.receive(&bytes);
    }
    run(&mut server, &mut [&mut b]);
    assert_eq!(b.text(), "base");

    // a reconnects with a fresh sync state and offers its change again.
    a.reconnect(3);
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(log.committed, 1);
    assert!(
        log.received
            .iter()
            .any(|(conn, r)| *conn == 3 && *r == Received::Accepted { new_changes: 1 })
    );
    assert_eq!(server_text(&server, &obj), ">> base");
    assert_eq!(b.text(), ">> base");
    assert_eq!(a.heads(), server.heads());
}

#[test]
fn commit_failed_with_nothing_pending_changes_nothing() {
    let (mut server, obj) = text_server("x", 10);
    let mut a = Client::loaded(1, &server);
    let bytes = a.generate().unwrap();
    server.receive(1, &bytes).unwrap();
    let (culprits, out) = server.commit_failed().unwrap();
    assert!(culprits.is_empty());
    assert!(server.has_peer(1));
    for (_, bytes) in out {
        a.receive(&bytes);
    }
    run(&mut server, &mut [&mut a]);
    assert_eq!(server_text(&server, &obj), "x");
}

#[test]
fn commit_failed_closes_every_conn_whose_change_was_dropped() {
    // The same change delivered by two connections in one round (two tabs of
    // one browser sharing storage): it is pending once, attributed to the
    // first. If the commit fails, the second connection's copy is dropped too,
    // and the change must still reach the server in the end.
    let (mut server, obj) = text_server("base", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    run(&mut server, &mut [&mut a, &mut b]);
    a.splice(0, 0, "+");
    let change = a.doc.get_last_local_change().unwrap();
    b.doc.apply_changes([change]).unwrap();
    let ma = a.generate().unwrap();
    let mb = b.generate().unwrap();
    assert_eq!(
        server.receive(1, &ma).unwrap(),
        Received::Accepted { new_changes: 1 }
    );
    assert_eq!(
        server.receive(2, &mb).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    assert_eq!(server.pending().len(), 1);
    assert_eq!(server.pending()[0].conn, 1);
    let (culprits, out) = server.commit_failed().unwrap();
    // Both are closed: a sync state that saw its change stripped would never
    // send it again (automerge remembers what it sent) and the sync would loop.
    assert_eq!(culprits, vec![1, 2]);
    assert!(!server.has_peer(1) && !server.has_peer(2));
    assert!(out.is_empty());
    assert_eq!(server_text(&server, &obj), "base");
    // b reconnects with a fresh state and offers the change again.
    b.reconnect(3);
    run(&mut server, &mut [&mut b]);
    assert_eq!(server_text(&server, &obj), "+base");
    assert_eq!(b.heads(), server.heads());
}

// ---------------------------------------------------------------------------
// Sync engine: content refusals
// ---------------------------------------------------------------------------

#[test]
fn a_change_outside_the_text_is_refused_and_the_peer_becomes_read_only() {
    let (mut server, obj) = text_server("text", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    run(&mut server, &mut [&mut a, &mut b]);
    let heads = server.heads();

    a.doc.put(ROOT, "evil", "yes").unwrap();
    a.doc.commit();
    let bytes = a.generate().unwrap();
    let outcome = server.receive(1, &bytes).unwrap();
    let Received::Refused(refusal) = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert_eq!(refusal.code, "invalid_change");
    assert!(!refusal.message.is_empty());
    assert!(server.is_read_only(1));
    assert!(!server.is_read_only(2));
    assert!(server.pending().is_empty());

    let out = server.commit_succeeded().unwrap();
    assert_eq!(server.heads(), heads);
    assert!(server.doc().get(ROOT, "evil").unwrap().is_none());
    let to_a: Vec<_> = out.iter().filter(|(c, _)| *c == 1).collect();
    assert!(
        !to_a.is_empty(),
        "the refused peer hears the read-only flag"
    );
    for (conn, bytes) in &out {
        let message = sync::Message::decode(bytes).unwrap();
        assert_eq!(has_read_only_flag(&message), *conn == 1);
        if *conn == 1 {
            a.receive(bytes);
        } else {
            b.receive(bytes);
        }
    }
    assert!(a.state.is_peer_read_only());

    // a's later messages are still processed, without error, and every
    // message to a carries the flag; b keeps syncing normally.
    b.splice(4, 0, "!");
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(server_text(&server, &obj), "text!");
    assert_eq!(a.text(), "text!");
    assert_eq!(b.text(), "text!");
    assert!(server.doc().get(ROOT, "evil").unwrap().is_none());
    for (conn, message) in &log.sent {
        assert_eq!(has_read_only_flag(message), *conn == 1, "to {conn}");
    }
    assert!(log.sent.iter().any(|(c, _)| *c == 1));
    assert!(
        log.received
            .iter()
            .all(|(c, r)| *c != 2 || matches!(r, Received::Accepted { .. }))
    );

    // a keeps its own edit; it never reaches the server.
    assert!(a.doc.get(ROOT, "evil").unwrap().is_some());
    a.splice(0, 0, "more ");
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(log.committed, 0);
    assert_eq!(server_text(&server, &obj), "text!");
    assert!(server.is_read_only(1));
}

#[test]
fn a_peer_made_read_only_is_refused_then_heard_again_once_writable() {
    let (mut server, obj) = text_server("text", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    run(&mut server, &mut [&mut a, &mut b]);
    assert!(!server.set_read_only(9, true), "not a peer");
    assert!(server.set_read_only(1, true));
    assert!(server.is_read_only(1));
    // The next messages tell a, and only a.
    for (conn, bytes) in server.generate() {
        let message = sync::Message::decode(&bytes).unwrap();
        assert_eq!(has_read_only_flag(&message), conn == 1);
        if conn == 1 {
            a.receive(&bytes);
        } else {
            b.receive(&bytes);
        }
    }
    assert!(a.state.is_peer_read_only());
    // An edit a makes anyway is refused; b's goes through.
    a.splice(0, 0, "a: ");
    b.splice(4, 0, "!");
    let log = run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(server_text(&server, &obj), "text!");
    assert!(
        log.sent
            .iter()
            .all(|(c, m)| has_read_only_flag(m) == (*c == 1))
    );
    // Writable again: a offers what it kept, and it is accepted.
    assert!(server.set_read_only(1, false));
    assert!(!server.is_read_only(1));
    for (conn, bytes) in server.generate() {
        if conn == 1 {
            a.receive(&bytes);
        } else {
            b.receive(&bytes);
        }
    }
    run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(server_text(&server, &obj), "a: text!");
    assert_eq!(b.text(), "a: text!");
}

#[test]
fn a_resent_refused_change_is_refused_again_without_error() {
    let (mut server, _obj) = text_server("text", 1_000);
    let evil = change_on(&server, |ac| {
        ac.put(ROOT, "evil", 1).unwrap();
    });
    let bytes = message_with_chunks(vec![evil.hash()], vec![evil.raw_bytes().to_vec()]);
    assert!(matches!(
        server.receive(1, &bytes),
        Ok(Received::Refused(_))
    ));
    server.commit_succeeded().unwrap();
    // The same peer sends it again: never an error, never pending.
    let again = server.receive(1, &bytes).unwrap();
    assert!(
        matches!(&again, Received::Refused(r) if r.code == "read_only"),
        "{again:?}"
    );
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert!(server.doc().get(ROOT, "evil").unwrap().is_none());
    // Another writable peer delivering the same change is refused too.
    assert!(matches!(
        server.receive(2, &bytes),
        Ok(Received::Refused(_))
    ));
    assert!(server.pending().is_empty());
}

/// An edit of a client's copy of the document.
type Edit = Box<dyn Fn(&mut AutoCommit)>;

#[test]
fn other_invalid_changes_are_refused() {
    let edits: Vec<(&str, Edit)> = vec![
        (
            "new root object",
            Box::new(|ac: &mut AutoCommit| {
                ac.put_object(ROOT, "list", ObjType::List).unwrap();
            }),
        ),
        (
            "replace the text object",
            Box::new(|ac: &mut AutoCommit| {
                ac.put_object(ROOT, "text", ObjType::Text).unwrap();
            }),
        ),
        (
            "delete the text object",
            Box::new(|ac: &mut AutoCommit| {
                ac.delete(ROOT, "text").unwrap();
            }),
        ),
        (
            "overwrite a character",
            Box::new(|ac: &mut AutoCommit| {
                let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
                ac.put(&obj, 0, "X").unwrap();
            }),
        ),
        (
            "insert a non-string into the text",
            Box::new(|ac: &mut AutoCommit| {
                let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
                ac.insert(&obj, 0, 5).unwrap();
            }),
        ),
        (
            "insert an object into the text",
            Box::new(|ac: &mut AutoCommit| {
                let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
                ac.insert_object(&obj, 0, ObjType::Map).unwrap();
            }),
        ),
        (
            "a mark on the text",
            Box::new(|ac: &mut AutoCommit| {
                let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
                ac.mark(
                    &obj,
                    automerge::marks::Mark::new("bold".into(), true, 0, 2),
                    automerge::marks::ExpandMark::None,
                )
                .unwrap();
            }),
        ),
        (
            "text edit plus a root key",
            Box::new(|ac: &mut AutoCommit| {
                let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
                ac.splice_text(&obj, 0, 0, "ok").unwrap();
                ac.put(ROOT, "x", 1).unwrap();
            }),
        ),
    ];
    for (name, edit) in edits {
        let (mut server, obj) = text_server("text", 1_000);
        let heads = server.heads();
        let change = change_on(&server, |ac| edit(ac));
        let bytes = message_with_chunks(vec![change.hash()], vec![change.raw_bytes().to_vec()]);
        let outcome = server.receive(1, &bytes).unwrap();
        assert!(
            matches!(&outcome, Received::Refused(r) if r.code == "invalid_change"),
            "{name}: {outcome:?}"
        );
        assert!(server.pending().is_empty(), "{name}");
        server.commit_succeeded().unwrap();
        assert_eq!(server.heads(), heads, "{name}");
        assert_eq!(server_text(&server, &obj), "text", "{name}");
    }
}

#[test]
fn a_message_with_one_bad_change_queues_none_of_its_changes() {
    let (mut server, obj) = text_server("text", 1_000);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    a.splice(0, 0, "good ");
    a.doc.put(ROOT, "bad", 1).unwrap();
    a.doc.commit();
    let log = run(&mut server, &mut [&mut a]);
    assert!(
        log.received
            .iter()
            .any(|(_, r)| matches!(r, Received::Refused(r) if r.code == "invalid_change"))
    );
    assert_eq!(log.committed, 0);
    assert_eq!(server_text(&server, &obj), "text");
}

#[test]
fn text_beyond_max_chars_is_too_large() {
    let (mut server, obj) = text_server("12345", 10);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    // Up to the limit is fine.
    a.splice(5, 0, "67890");
    let log = run(&mut server, &mut [&mut a]);
    assert_eq!(log.committed, 1);
    assert_eq!(server_text(&server, &obj), "1234567890");
    // One more character is too much.
    a.splice(10, 0, "!");
    let bytes = a.generate().unwrap();
    let outcome = server.receive(1, &bytes).unwrap();
    assert!(
        matches!(&outcome, Received::Refused(r) if r.code == "too_large"),
        "{outcome:?}"
    );
    assert!(server.is_read_only(1));
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "1234567890");
}

#[test]
fn max_chars_counts_code_points() {
    let (mut server, obj) = text_server("", 3);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    a.splice(0, 0, "é😀ß");
    let log = run(&mut server, &mut [&mut a]);
    assert_eq!(log.committed, 1);
    assert_eq!(server_text(&server, &obj), "é😀ß");
}

#[test]
fn pending_inserts_count_toward_max_chars_within_a_round() {
    let (mut server, obj) = text_server("", 5);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    run(&mut server, &mut [&mut a, &mut b]);
    a.splice(0, 0, "aaa");
    b.splice(0, 0, "bbb");
    let ma = a.generate().unwrap();
    let mb = b.generate().unwrap();
    assert_eq!(
        server.receive(1, &ma).unwrap(),
        Received::Accepted { new_changes: 1 }
    );
    let outcome = server.receive(2, &mb).unwrap();
    assert!(
        matches!(&outcome, Received::Refused(r) if r.code == "too_large"),
        "{outcome:?}"
    );
    assert_eq!(server.pending().len(), 1);
    let out = server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "aaa");
    for (conn, bytes) in out {
        if conn == 1 {
            a.receive(&bytes);
        } else {
            b.receive(&bytes);
        }
    }
    run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(server_text(&server, &obj), "aaa");
    assert_eq!(a.text(), "aaa");
}

#[test]
fn deleting_is_allowed_at_the_limit() {
    let (mut server, obj) = text_server("abcde", 5);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    a.splice(0, 2, "");
    let log = run(&mut server, &mut [&mut a]);
    assert_eq!(log.committed, 1);
    assert_eq!(server_text(&server, &obj), "cde");
    a.splice(3, 0, "fg");
    let log = run(&mut server, &mut [&mut a]);
    assert_eq!(log.committed, 1);
    assert_eq!(server_text(&server, &obj), "cdefg");
}

#[test]
fn a_message_beyond_max_message_bytes_is_too_large() {
    let (doc, obj) = element_doc("");
    let policy = Policy::Text {
        text_obj: obj.clone(),
        max_chars: 1_000_000,
    };
    let mut server = DocSync::new(doc, policy, 200);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    // Random text compresses badly.
    let mut rng = Rng(7);
    let text: String = (0..400)
        .map(|_| char::from(b'a' + (rng.next() % 26) as u8))
        .collect();
    a.splice(0, 0, &text);
    let bytes = a.generate().unwrap();
    let outcome = server.receive(1, &bytes).unwrap();
    assert!(
        matches!(&outcome, Received::Refused(r) if r.code == "too_large"),
        "{outcome:?}"
    );
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "");
}

#[test]
fn any_change_to_a_server_only_doc_is_refused_read_only() {
    let mut ac = AutoCommit::new();
    ac.put(ROOT, "title", "Draft").unwrap();
    ac.commit();
    let doc = Automerge::load(&ac.save()).unwrap();
    let mut server = DocSync::new(doc, Policy::ServerOnly, MAX_BYTES);
    let heads = server.heads();

    // Clients sync it read-only.
    let mut a = Client::empty(1);
    let log = run(&mut server, &mut [&mut a]);
    assert!(server.is_read_only(1));
    assert_eq!(
        a.doc
            .get(ROOT, "title")
            .unwrap()
            .unwrap()
            .0
            .into_string()
            .unwrap(),
        "Draft"
    );
    assert!(log.sent.iter().all(|(_, m)| has_read_only_flag(m)));

    // Any change offered is refused as read_only.
    let change = change_on(&server, |ac| {
        ac.put(ROOT, "title", "Hijacked").unwrap();
    });
    let bytes = message_with_chunks(vec![change.hash()], vec![change.raw_bytes().to_vec()]);
    let outcome = server.receive(2, &bytes).unwrap();
    assert!(
        matches!(&outcome, Received::Refused(r) if r.code == "read_only"),
        "{outcome:?}"
    );
    assert!(server.is_read_only(2));
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server.heads(), heads);
    assert_eq!(
        server
            .doc()
            .get(ROOT, "title")
            .unwrap()
            .unwrap()
            .0
            .into_string()
            .unwrap(),
        "Draft"
    );
    // The same from the peer already syncing.
    let outcome = server.receive(1, &bytes).unwrap();
    assert!(matches!(&outcome, Received::Refused(r) if r.code == "read_only"));
    server.commit_succeeded().unwrap();
    assert_eq!(server.heads(), heads);

    // A server's own change is applied and reaches the readers.
    let mut own = AutoCommit::load(&server.doc().save()).unwrap();
    own.put(ROOT, "title", "Draft 2").unwrap();
    own.commit();
    let own_change = own.get_last_local_change().unwrap();
    server.apply_own(&own_change).unwrap();
    let mut a = Client::empty(3);
    run(&mut server, &mut [&mut a]);
    assert_eq!(
        a.doc
            .get(ROOT, "title")
            .unwrap()
            .unwrap()
            .0
            .into_string()
            .unwrap(),
        "Draft 2"
    );
}

#[test]
fn a_read_only_peer_gets_updates_but_its_changes_are_not_applied() {
    let (mut server, obj) = text_server("abc", 100);
    server.add_peer(9, true);
    assert!(server.is_read_only(9));
    let mut reviewer = Client::loaded(9, &server);
    let mut writer = Client::loaded(1, &server);
    run(&mut server, &mut [&mut reviewer, &mut writer]);
    writer.splice(3, 0, "d");
    let log = run(&mut server, &mut [&mut reviewer, &mut writer]);
    assert_eq!(reviewer.text(), "abcd");
    for (conn, message) in &log.sent {
        assert_eq!(has_read_only_flag(message), *conn == 9);
    }
    // A change offered by the reviewer anyway is not queued.
    let change = change_on(&server, |ac| {
        let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
        ac.splice_text(&obj, 0, 0, "R").unwrap();
    });
    let bytes = message_with_chunks(vec![change.hash()], vec![change.raw_bytes().to_vec()]);
    let outcome = server.receive(9, &bytes).unwrap();
    assert!(
        matches!(&outcome, Received::Refused(r) if r.code == "read_only"),
        "{outcome:?}"
    );
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "abcd");
    // Changes the server already has are no offence.
    let known = server.doc().get_changes(&[]);
    let chunks = known.iter().map(|c| c.raw_bytes().to_vec()).collect();
    let bytes = message_with_chunks(server.heads(), chunks);
    assert_eq!(
        server.receive(9, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    // Garbage from a read-only peer is still a protocol violation.
    let bytes = message_with_chunks(vec![], vec![vec![7; 10]]);
    assert!(server.receive(9, &bytes).is_err());
}

#[test]
fn a_text_already_over_the_limit_can_still_shrink() {
    // E.g. the limit was lowered, or the server wrote the text itself.
    let (mut server, obj) = text_server("abcdef", 3);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    a.splice(0, 2, "");
    let log = run(&mut server, &mut [&mut a]);
    assert_eq!(log.committed, 1, "{:?}", log.received);
    assert_eq!(server_text(&server, &obj), "cdef");
    assert!(!server.is_read_only(1));
    // Known changes are no offence either.
    let known = server.doc().get_changes(&[]);
    let chunks = known.iter().map(|c| c.raw_bytes().to_vec()).collect();
    let bytes = message_with_chunks(server.heads(), chunks);
    assert_eq!(
        server.receive(2, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    // Growing it is still refused.
    a.splice(0, 0, "z");
    let bytes = a.generate().unwrap();
    assert!(matches!(
        server.receive(1, &bytes).unwrap(),
        Received::Refused(r) if r.code == "too_large"
    ));
}

// ---------------------------------------------------------------------------
// Sync engine: known changes
// ---------------------------------------------------------------------------

#[test]
fn a_known_change_is_not_pending_again() {
    let (mut server, obj) = text_server("abc", 100);
    let change = change_on(&server, |ac| {
        let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
        ac.splice_text(&obj, 3, 0, "d").unwrap();
    });
    let bytes = message_with_chunks(vec![change.hash()], vec![change.raw_bytes().to_vec()]);
    assert_eq!(
        server.receive(1, &bytes).unwrap(),
        Received::Accepted { new_changes: 1 }
    );
    // Resent in the same round, by the same or another connection.
    assert_eq!(
        server.receive(1, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    assert_eq!(
        server.receive(2, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    assert_eq!(server.pending().len(), 1);
    assert_eq!(server.pending()[0].conn, 1);
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "abcd");
    // Resent after the commit.
    assert_eq!(
        server.receive(2, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "abcd");
    // Twice within one message.
    let chunk = change.raw_bytes().to_vec();
    let bytes = message_with_chunks(vec![change.hash()], vec![chunk.clone(), chunk]);
    assert_eq!(
        server.receive(3, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    // The initial changes of the document are known too.
    let initial = server.doc().get_changes(&[]);
    let chunks = initial.iter().map(|c| c.raw_bytes().to_vec()).collect();
    let bytes = message_with_chunks(server.heads(), chunks);
    assert_eq!(
        server.receive(4, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    assert!(server.pending().is_empty());
}

#[test]
fn a_reconnecting_client_does_not_deliver_its_changes_twice() {
    let (mut server, _obj) = text_server("abc", 100);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    a.splice(0, 0, "x");
    let log = run(&mut server, &mut [&mut a]);
    assert_eq!(log.committed, 1);
    a.reconnect(2);
    let log = run(&mut server, &mut [&mut a]);
    assert_eq!(log.committed, 0);
    assert!(
        log.received
            .iter()
            .all(|(_, r)| *r == Received::Accepted { new_changes: 0 })
    );
}

#[test]
fn a_whole_document_chunk_attributes_only_new_changes() {
    let (mut server, obj) = text_server("abc", 100);
    let mut a = Client::loaded(1, &server);
    a.splice(3, 0, "d");
    a.splice(4, 0, "e");
    // A V2-style chunk: the client's whole document, including the server's changes.
    let whole = a.doc.save();
    let bytes = message_with_chunks(a.heads(), vec![whole]);
    assert_eq!(
        server.receive(1, &bytes).unwrap(),
        Received::Accepted { new_changes: 2 }
    );
    assert_eq!(server.pending().len(), 2);
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "abcde");
    assert_eq!(server.heads(), a.heads());
}

#[test]
fn replace_doc_and_apply_own_keep_the_known_set() {
    let (mut server, obj) = text_server("abc", 100);
    let mut ac = AutoCommit::load(&server.doc().save()).unwrap();
    ac.splice_text(&obj, 0, 0, "S").unwrap();
    ac.commit();
    let own = ac.get_last_local_change().unwrap();
    server.apply_own(&own).unwrap();
    assert_eq!(server_text(&server, &obj), "Sabc");
    let bytes = message_with_chunks(vec![own.hash()], vec![own.raw_bytes().to_vec()]);
    assert_eq!(
        server.receive(1, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    server.commit_succeeded().unwrap();

    let reloaded = Automerge::load(&server.doc().save()).unwrap();
    server.replace_doc(reloaded);
    assert_eq!(server_text(&server, &obj), "Sabc");
    assert_eq!(
        server.receive(1, &bytes).unwrap(),
        Received::Accepted { new_changes: 0 }
    );
    assert_eq!(server.peer_count(), 1);
    let doc = server.into_doc();
    assert_eq!(doc.text(&obj).unwrap(), "Sabc");
}

#[test]
fn removed_peers_are_forgotten() {
    let (mut server, _obj) = text_server("abc", 100);
    let mut a = Client::loaded(1, &server);
    let bytes = a.generate().unwrap();
    server.receive(1, &bytes).unwrap();
    server.remove_peer(1);
    assert!(!server.has_peer(1));
    let out = server.commit_succeeded().unwrap();
    assert!(out.is_empty());
    assert_eq!(server.peer_count(), 0);
    assert!(!server.is_read_only(1));
}

#[test]
fn an_entry_of_several_concatenated_changes_is_accepted() {
    // The JS client sends several changes back to back in one entry of a
    // sync message's change list.
    let (mut server, obj) = text_server("", 1_000);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    let before = a.heads();
    a.splice(0, 0, "x");
    a.splice(1, 0, "y");
    a.splice(2, 0, "z");
    let joined: Vec<u8> = a
        .doc
        .get_changes(&before)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let message = message_with_chunks(a.heads(), vec![joined]);
    let outcome = server.receive(1, &message).unwrap();
    assert_eq!(outcome, Received::Accepted { new_changes: 3 });
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "xyz");
}

#[test]
fn a_truncated_chunk_in_an_entry_is_bad_sync_data() {
    let (mut server, _) = text_server("", 1_000);
    let mut a = Client::loaded(1, &server);
    run(&mut server, &mut [&mut a]);
    let before = a.heads();
    a.splice(0, 0, "x");
    let mut bytes = a.doc.get_changes(&before)[0].raw_bytes().to_vec();
    bytes.extend_from_slice(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 0x7f]);
    let message = message_with_chunks(a.heads(), vec![bytes]);
    assert!(server.receive(1, &message).is_err());
}

#[test]
fn committed_changes_are_relayed_before_they_are_applied() {
    let (mut server, obj) = text_server("base", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    let mut w = Client::loaded(3, &server);
    run(&mut server, &mut [&mut a, &mut b, &mut w]);

    a.splice(4, 0, "!");
    let bytes = a.generate().unwrap();
    server.receive(1, &bytes).unwrap();
    let relayed = server.committed();
    // Not applied yet...
    assert_eq!(server_text(&server, &obj), "base");
    assert!(server.needs_apply());
    // ...but every peer in the relay set has it, and the author its ack.
    let to: Vec<ConnId> = {
        let mut to: Vec<ConnId> = relayed.iter().map(|(c, _)| *c).collect();
        to.sort_unstable();
        to
    };
    assert_eq!(to, vec![1, 2, 3]);
    for (conn, data) in &relayed {
        let message = sync::Message::decode(data).unwrap();
        assert_eq!(message.heads, a.heads());
        let carries = message.changes.len();
        assert_eq!(carries, if *conn == 1 { 0 } else { 1 }, "conn {conn}");
        match conn {
            1 => a.receive(data),
            2 => b.receive(data),
            _ => w.receive(data),
        }
    }
    assert_eq!(b.text(), "base!");
    assert_eq!(w.text(), "base!");
    // Applying later sends nothing more to peers in the relay set.
    let out = server.apply().unwrap();
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(server_text(&server, &obj), "base!");
    // And the regular protocol quiesces from there.
    run(&mut server, &mut [&mut a, &mut b, &mut w]);
    assert_eq!(a.heads(), server.heads());
    assert_eq!(b.heads(), server.heads());
}

#[test]
fn a_peer_that_lacks_something_leaves_the_relay_set_and_still_converges() {
    let (mut server, obj) = text_server("base", 1_000);
    let mut a = Client::loaded(1, &server);
    let mut b = Client::loaded(2, &server);
    run(&mut server, &mut [&mut a, &mut b]);
    // b misses a relayed message (as if its copy were lost): the next relay
    // depends on a change b does not have.
    a.splice(0, 0, "1");
    server.receive(1, &a.generate().unwrap()).unwrap();
    for (conn, data) in server.committed() {
        if conn == 1 {
            a.receive(&data);
        }
    }
    a.splice(0, 0, "2");
    server.receive(1, &a.generate().unwrap()).unwrap();
    for (conn, data) in server.committed() {
        if conn == 1 {
            a.receive(&data)
        } else {
            b.receive(&data)
        }
    }
    // b asks for what it lacks; the regular protocol brings it.
    run(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(server_text(&server, &obj), "21base");
    assert_eq!(b.text(), "21base");
    assert_eq!(b.heads(), server.heads());
}

#[test]
fn encode_sync_matches_the_generic_encoder() {
    for len in [0usize, 5, 23, 24, 255, 256, 65_535, 65_536, 70_000] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let message = Message::Sync(DocMessage {
            sender_id: "accord-server-x".into(),
            target_id: "peer-".repeat(len % 7 + 1),
            document_id: crate::DocumentId::random().to_string(),
            data: data.clone(),
        });
        let Message::Sync(m) = &message else {
            unreachable!()
        };
        let fast = crate::encode_sync(&m.sender_id, &m.target_id, &m.document_id, &data);
        assert_eq!(fast, message.encode(), "len {len}");
        assert_eq!(Message::decode(&fast).unwrap(), message);
    }
}

// ---------------------------------------------------------------------------
// Sync engine: actor ownership
// ---------------------------------------------------------------------------

/// A guard like the server's: the first connection to deliver an actor owns it.
fn first_claim(
    owners: &mut std::collections::HashMap<automerge::ActorId, ConnId>,
    conn: ConnId,
) -> impl FnMut(&automerge::ActorId) -> bool + '_ {
    move |actor| *owners.entry(actor.clone()).or_insert(conn) == conn
}

#[test]
fn a_change_from_an_actor_owned_by_another_is_refused_and_the_owner_keeps_syncing() {
    let (mut server, obj) = text_server("abc", 1000);
    let mut owners = std::collections::HashMap::new();
    let mut victim = Client::loaded(1, &server);
    run(&mut server, &mut [&mut victim]);
    victim.splice(3, 0, "d");
    let bytes = victim.generate().unwrap();
    let outcome = server
        .receive_guarded(1, &bytes, &mut first_claim(&mut owners, 1))
        .unwrap();
    assert_eq!(outcome, Received::Accepted { new_changes: 1 });
    assert_eq!(server.pending()[0].actor, victim.doc.get_actor().clone());
    let out = server.commit_succeeded().unwrap();
    for (conn, bytes) in out {
        if conn == 1 {
            victim.receive(&bytes);
        }
    }

    // The thief forks the victim's document, actor id included, and types
    // the victim's next change.
    let mut thief = Client::loaded(2, &server);
    run(&mut server, &mut [&mut thief]);
    thief.doc.set_actor(victim.doc.get_actor().clone());
    thief.splice(0, 0, "X");
    let bytes = thief.generate().unwrap();
    let outcome = server
        .receive_guarded(2, &bytes, &mut first_claim(&mut owners, 2))
        .unwrap();
    let Received::Refused(refusal) = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert_eq!(refusal.code, "foreign_actor");
    assert!(server.pending().is_empty());
    assert!(server.is_read_only(2));
    assert!(!server.is_read_only(1));

    // The victim's own next change is still accepted.
    victim.splice(4, 0, "e");
    let bytes = victim.generate().unwrap();
    let outcome = server
        .receive_guarded(1, &bytes, &mut first_claim(&mut owners, 1))
        .unwrap();
    assert_eq!(outcome, Received::Accepted { new_changes: 1 });
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "abcde");
}

#[test]
fn the_guard_is_asked_once_per_actor_and_only_for_changes_that_pass_the_policy() {
    let (mut server, _obj) = text_server("abc", 1000);
    let mut client = Client::loaded(1, &server);
    run(&mut server, &mut [&mut client]);
    client.splice(0, 0, "x");
    client.splice(0, 0, "y");
    let bytes = client.generate().unwrap();
    let mut asked = 0;
    let outcome = server
        .receive_guarded(1, &bytes, &mut |_| {
            asked += 1;
            true
        })
        .unwrap();
    assert_eq!(outcome, Received::Accepted { new_changes: 2 });
    assert_eq!(asked, 1, "two changes of one actor: one question");

    // A change outside the text is refused by the policy before any claim.
    server.commit_succeeded().unwrap();
    let mut other = Client::loaded(2, &server);
    run(&mut server, &mut [&mut other]);
    other.doc.put(ROOT, "title", "x").unwrap();
    other.doc.commit();
    let bytes = other.generate().unwrap();
    let mut asked = 0;
    let outcome = server
        .receive_guarded(2, &bytes, &mut |_| {
            asked += 1;
            true
        })
        .unwrap();
    assert!(matches!(outcome, Received::Refused(r) if r.code == "invalid_change"));
    assert_eq!(asked, 0);
}

#[test]
fn a_reconnecting_peer_with_offline_changes_hears_they_are_stored() {
    let (mut server, obj) = text_server("abc", 1000);
    let mut client = Client::loaded(1, &server);
    // Edits made offline, then a fresh connection (a fresh sync state).
    client.splice(3, 0, " offline one");
    client.splice(0, 0, "two ");
    client.reconnect(2);
    let log = run(&mut server, &mut [&mut client]);
    assert_eq!(server_text(&server, &obj), "two abc offline one");
    let heads = server.heads();
    assert_eq!(client.heads(), heads);
    // The last word from the server names the heads with the client's changes.
    let last = log
        .sent
        .iter()
        .rev()
        .find(|(conn, _)| *conn == 2)
        .expect("the server answered");
    assert_eq!(
        last.1.heads, heads,
        "the client hears its changes are stored"
    );
}

#[test]
fn pending_changes_count_their_characters_and_foretell_the_heads() {
    let (mut server, _obj) = text_server("abcdef", 1000);
    let mut client = Client::loaded(1, &server);
    run(&mut server, &mut [&mut client]);
    client.splice(1, 3, "XY");
    let bytes = client.generate().unwrap();
    server.receive(1, &bytes).unwrap();
    let pending = server.pending().to_vec();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].inserted, pending[0].deleted), (2, 3));
    let foretold = server.heads_after_pending().expect("computable");
    server.commit_succeeded().unwrap();
    assert_eq!(foretold, server.heads());
}

#[test]
fn a_change_from_a_peer_outside_the_relay_set_is_acknowledged_at_once() {
    let (mut server, _obj) = text_server("abc", 1000);
    // A peer whose first message already carries a change: it is not in
    // the relay set, so only a regular answer acknowledges the change.
    let change = change_on(&server, |ac| {
        let (_, text) = ac.get(ROOT, "text").unwrap().unwrap();
        ac.splice_text(&text, 3, 0, "d").unwrap();
    });
    let bytes = message_with_chunks(vec![change.hash()], vec![change.raw_bytes().to_vec()]);
    server.receive(2, &bytes).unwrap();
    assert_eq!(server.pending().len(), 1);
    let out = server.committed();
    assert!(
        out.iter().all(|(conn, _)| *conn != 2),
        "no relay to a peer outside the set"
    );
    assert!(
        server.apply_is_urgent(),
        "the author waits for its acknowledgement"
    );
    let answers = server.apply().unwrap();
    let to_author = answers
        .iter()
        .find(|(conn, _)| *conn == 2)
        .expect("an answer");
    let message = sync::Message::decode(&to_author.1).unwrap();
    assert_eq!(
        message.heads,
        server.heads(),
        "acknowledged with the new heads"
    );
}

// ---------------------------------------------------------------------------
// Sync engine: decoding bounds (decompression bombs, run-length bombs)
// ---------------------------------------------------------------------------

use crate::chunks::write_uleb as uleb;

fn sleb(out: &mut Vec<u8>, mut value: i64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0) {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A chunk of type `kind` around `data`, with the checksum of a change.
fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
    let hash = crate::chunks::change_hash(data);
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
    out.extend_from_slice(&hash.0[..4]);
    out.push(kind);
    uleb(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// The data of a change by actor 7…7 with these op columns.
fn change_data(columns: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0]; // no deps
    uleb(&mut out, 16);
    out.extend_from_slice(&[7; 16]);
    out.extend_from_slice(&[1, 1, 0, 0, 0]); // seq, start op, time, message, other actors
    uleb(&mut out, columns.len() as u64);
    for (spec, data) in columns {
        uleb(&mut out, u64::from(*spec));
        uleb(&mut out, data.len() as u64);
    }
    for (_, data) in columns {
        out.extend_from_slice(data);
    }
    out
}

/// Columns of `ops` text-insert-like operations in runs: key string, insert
/// flag, action, value metadata and predecessor count, each one run.
fn op_runs(ops: u64, preds: u64) -> Vec<(u32, Vec<u8>)> {
    let run = |value: &[u8]| {
        let mut col = Vec::new();
        sleb(&mut col, ops as i64);
        col.extend_from_slice(value);
        col
    };
    let mut insert = Vec::new();
    uleb(&mut insert, ops);
    let mut group = Vec::new();
    sleb(&mut group, ops as i64);
    uleb(&mut group, preds);
    let mut columns = vec![
        ((1 << 4) | 5, run(&[1, b'a'])),
        ((3 << 4) | 4, insert),
        ((4 << 4) | 2, run(&[1])),
        ((5 << 4) | 6, run(&[0])),
        (7 << 4, group),
    ];
    if preds > 0 {
        let total = ops * preds;
        let mut actor = Vec::new();
        sleb(&mut actor, total as i64);
        actor.push(0);
        let mut ctr = Vec::new();
        sleb(&mut ctr, total as i64);
        ctr.push(1);
        columns.push(((7 << 4) | 1, actor));
        columns.push(((7 << 4) | 3, ctr));
    }
    columns
}

fn assert_refused(outcome: Result<Received, BadSyncData>, code: &str) {
    assert!(
        matches!(&outcome, Ok(Received::Refused(r)) if r.code == code),
        "{outcome:?}"
    );
}

#[test]
fn a_compressed_change_inflating_beyond_the_limit_is_refused_too_large() {
    let (mut server, obj) = text_server("abc", 100);
    let heads = server.heads();
    // 2 MiB of zeros in a few kilobytes; the limit is 1 MiB.
    let bomb = chunk(2, &deflate(&vec![0; 2 << 20]));
    assert!(bomb.len() < 16 << 10);
    let bytes = message_with_chunks(vec![], vec![bomb]);
    let started = std::time::Instant::now();
    assert_refused(server.receive(1, &bytes), "too_large");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(server.is_read_only(1));
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server.heads(), heads);
    assert_eq!(server_text(&server, &obj), "abc");
}

#[test]
fn a_document_chunk_with_a_deflated_column_beyond_the_limit_is_refused_too_large() {
    let (mut server, _) = text_server("abc", 100);
    let column = deflate(&vec![0; 2 << 20]);
    let mut data = vec![1, 16];
    data.extend_from_slice(&[7; 16]); // one actor
    data.push(0); // no heads
    data.push(0); // no change columns
    data.push(1); // one op column: the action, deflated
    uleb(&mut data, (4 << 4) | 8 | 2);
    uleb(&mut data, column.len() as u64);
    data.extend_from_slice(&column);
    let bytes = message_with_chunks(vec![], vec![chunk(0, &data)]);
    assert_refused(server.receive(1, &bytes), "too_large");
    assert!(server.pending().is_empty());
}

#[test]
fn a_compressed_change_within_the_limit_is_accepted() {
    let (mut server, obj) = text_server("", 1_000);
    let mut change = change_on(&server, |ac| {
        let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
        ac.splice_text(&obj, 0, 0, &"compressible ".repeat(40))
            .unwrap();
    });
    let compressed = change.bytes().to_vec();
    assert_eq!(compressed[8], 2, "automerge compressed it");
    let bytes = message_with_chunks(vec![change.hash()], vec![compressed]);
    assert_eq!(
        server.receive(1, &bytes).unwrap(),
        Received::Accepted { new_changes: 1 }
    );
    assert_eq!(server.pending()[0].bytes, change.raw_bytes());
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "compressible ".repeat(40));
}

#[test]
fn a_compressed_change_with_a_wrong_checksum_is_bad_sync_data() {
    let (mut server, _) = text_server("", 1_000);
    let mut change = change_on(&server, |ac| {
        let (_, obj) = ac.get(ROOT, "text").unwrap().unwrap();
        ac.splice_text(&obj, 0, 0, &"compressible ".repeat(40))
            .unwrap();
    });
    let mut compressed = change.bytes().to_vec();
    compressed[4] ^= 1;
    let bytes = message_with_chunks(vec![], vec![compressed]);
    assert!(server.receive(1, &bytes).is_err());
}

#[test]
fn run_length_columns_describing_billions_of_ops_are_refused_at_once() {
    let (mut server, _) = text_server("abc", 100);
    let bomb = chunk(1, &change_data(&op_runs(1 << 32, 0)));
    assert!(bomb.len() < 100);
    let bytes = message_with_chunks(vec![], vec![bomb]);
    let started = std::time::Instant::now();
    assert_refused(server.receive(1, &bytes), "too_large");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert!(server.pending().is_empty());
}

#[test]
fn an_op_with_billions_of_predecessors_is_refused_at_once() {
    let (mut server, _) = text_server("abc", 100);
    let bomb = chunk(1, &change_data(&op_runs(1, 1 << 30)));
    let bytes = message_with_chunks(vec![], vec![bomb]);
    let started = std::time::Instant::now();
    assert_refused(server.receive(1, &bytes), "too_large");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn ops_within_the_row_bound_are_decoded_and_judged_by_the_policy() {
    // 1000 run-length ops on the root map: well within the rows a
    // 100-character text allows, and then refused by the policy.
    let (mut server, _) = text_server("abc", 100);
    let change = chunk(1, &change_data(&op_runs(100, 0)));
    let bytes = message_with_chunks(vec![], vec![change]);
    assert_refused(server.receive(1, &bytes), "invalid_change");
}

#[test]
fn a_read_only_peer_s_chunks_are_refused_without_decoding() {
    let (mut server, obj) = text_server("abc", 100);
    server.add_peer(9, true);
    // Even bombs: the peer is read-only, so nothing is inflated.
    let compressed = chunk(2, &deflate(&vec![0; 2 << 20]));
    let document = chunk(0, &[0xff; 64]);
    let change = chunk(1, &change_data(&op_runs(1 << 32, 0)));
    for bomb in [compressed, document, change] {
        let bytes = message_with_chunks(vec![], vec![bomb]);
        assert_refused(server.receive(9, &bytes), "read_only");
    }
    assert!(server.pending().is_empty());
    server.commit_succeeded().unwrap();
    assert_eq!(server_text(&server, &obj), "abc");
    // The same on the index document, where everyone is read-only.
    let mut index = DocSync::new(Automerge::new(), Policy::ServerOnly, MAX_BYTES);
    let bytes = message_with_chunks(vec![], vec![chunk(2, &deflate(&vec![0; 2 << 20]))]);
    assert_refused(index.receive(1, &bytes), "read_only");
    index.commit_succeeded().unwrap();
}

#[test]
fn a_refused_message_reaches_automerge_without_its_changes() {
    // A read-only peer offers a change whose dependency the server lacks.
    // Its message reaches automerge's sync state without the change, so
    // nothing of it is held (as waiting for its dependency) or applied.
    let (mut server, _) = text_server("abc", 100);
    server.add_peer(9, true);
    let mut client = Client::loaded(9, &server);
    client.splice(0, 0, "x");
    let first = client.heads();
    client.splice(0, 0, "y");
    let second = client.doc.get_changes(&first)[0].raw_bytes().to_vec();
    let bytes = message_with_chunks(client.heads(), vec![second]);
    assert_refused(server.receive(9, &bytes), "read_only");
    server.commit_succeeded().unwrap();
    assert!(server.doc().get_missing_deps(&[]).is_empty());
}

#[test]
fn too_many_haves_or_empty_change_entries_are_bad_sync_data() {
    let (mut server, _) = text_server("abc", 100);
    let message = |haves: usize, entries: Vec<Vec<u8>>| {
        sync::Message {
            heads: vec![],
            need: vec![],
            have: vec![sync::Have::default(); haves],
            changes: entries.into(),
            flags: None,
            version: sync::MessageVersion::V1,
        }
        .encode()
    };
    assert!(server.receive(1, &message(17, vec![])).is_err());
    assert!(server.receive(1, &message(0, vec![vec![]; 17])).is_err());
    assert_eq!(
        server.receive(1, &message(1, vec![vec![]; 16])),
        Ok(Received::Accepted { new_changes: 0 })
    );
}

/// Found by the `sync` fuzz target: a change whose key names an actor index
/// beyond its actors made automerge's `Change::decode` panic (an unwrap).
#[test]
fn fuzz_regression_an_actor_index_out_of_range_is_bad_sync_data_not_a_panic() {
    let input = include_bytes!("../../../fuzz/regressions/sync/actor-index-out-of-range");
    let (mut server, _) = text_server("Member States shall cooperate.", 200);
    // The fuzz input's first byte picks the document; the rest is the message.
    let outcome = server.receive(1, &input[1..]);
    assert!(matches!(outcome, Err(BadSyncData(_))), "{outcome:?}");
    server.commit_succeeded().unwrap();
}

#[test]
fn a_frame_of_millions_of_tiny_items_is_refused_before_decoding() {
    // A CBOR array of 4 million zeros: 4 MiB on the wire, gigabytes as a
    // value tree.
    let mut frame = vec![0xa1, 0x64, b't', b'y', b'p', b'e', 0x9a];
    frame.extend_from_slice(&4_000_000u32.to_be_bytes());
    frame.resize(frame.len() + 4_000_000, 0);
    let started = std::time::Instant::now();
    assert!(matches!(
        Message::decode(&frame),
        Err(ProtocolError::Cbor(_))
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // The same with indefinite-length containers.
    let mut frame = vec![0xbf, 0x64, b't', b'y', b'p', b'e', 0x9f];
    frame.resize(frame.len() + 4_000_000, 0);
    frame.extend_from_slice(&[0xff, 0xff]);
    assert!(matches!(
        Message::decode(&frame),
        Err(ProtocolError::Cbor(_))
    ));
    // Every real message is far below the limit.
    for message in all_messages() {
        assert_eq!(Message::decode(&message.encode()).unwrap(), message);
    }
}
