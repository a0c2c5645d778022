//! The automerge-repo websocket messages: one CBOR map per binary frame.
//!
//! Decoding is lenient where the JS client is loose (numbers may arrive as
//! floats, unknown fields are ignored) and strict where it matters (a known
//! `type` and its required fields).

use ciborium::Value;

use crate::error::{ProtocolError, Result};

/// The only protocol version this server speaks.
pub const PROTOCOL_VERSION: &str = "1";

/// A peer id as claimed by a client. It proves nothing.
pub type PeerId = String;

/// A message addressed to one document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocMessage {
    pub sender_id: PeerId,
    pub target_id: PeerId,
    /// The document id as sent: not necessarily valid.
    pub document_id: String,
    pub data: Vec<u8>,
}

/// An `ephemeral` message; relayed, never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Ephemeral {
    pub sender_id: PeerId,
    pub target_id: PeerId,
    pub document_id: String,
    pub count: u64,
    pub session_id: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Join {
        sender_id: PeerId,
        peer_metadata: Option<Value>,
        supported_protocol_versions: Vec<String>,
    },
    Peer {
        sender_id: PeerId,
        target_id: PeerId,
        peer_metadata: Value,
        selected_protocol_version: String,
    },
    Error {
        message: String,
    },
    Leave {
        sender_id: PeerId,
    },
    Request(DocMessage),
    Sync(DocMessage),
    DocUnavailable {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: String,
    },
    Ephemeral(Ephemeral),
    /// `remote-subscription-change` and `remote-heads-changed`: optional
    /// gossip this server does not take part in.
    Ignored {
        kind: &'static str,
    },
}

impl Message {
    /// The wire name of the message type.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            Message::Error { .. } => "error",
            Message::Leave { .. } => "leave",
            Message::Request(_) => "request",
            Message::Sync(_) => "sync",
            Message::DocUnavailable { .. } => "doc-unavailable",
            Message::Ephemeral(_) => "ephemeral",
            Message::Ignored { kind } => kind,
        }
    }

    /// Decodes one frame.
    pub fn decode(bytes: &[u8]) -> Result<Message> {
        check_cbor_items(bytes)?;
        let value: Value =
            ciborium::from_reader(bytes).map_err(|e| ProtocolError::Cbor(e.to_string()))?;
        let Value::Map(entries) = value else {
            return Err(ProtocolError::NotAMessage);
        };
        let map = Fields(entries);
        let kind = map
            .get("type")
            .and_then(Value::as_text)
            .ok_or(ProtocolError::NotAMessage)?;
        Ok(match kind {
            "join" => Message::Join {
                sender_id: map.text("join", "senderId")?,
                peer_metadata: map.get("peerMetadata").cloned(),
                supported_protocol_versions: match map.get("supportedProtocolVersions") {
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(|v| v.as_text().map(str::to_owned))
                        .collect(),
                    // automerge-repo before 1.0 sent no list and meant "1".
                    None => vec![PROTOCOL_VERSION.to_owned()],
                    Some(_) => {
                        return Err(ProtocolError::MissingField {
                            kind: "join",
                            field: "supportedProtocolVersions",
                        });
                    }
                },
            },
            "peer" => Message::Peer {
                sender_id: map.text("peer", "senderId")?,
                target_id: map.text("peer", "targetId")?,
                peer_metadata: map
                    .get("peerMetadata")
                    .cloned()
                    .unwrap_or(Value::Map(vec![])),
                selected_protocol_version: map.text("peer", "selectedProtocolVersion")?,
            },
            "error" => Message::Error {
                message: map.text("error", "message")?,
            },
            "leave" => Message::Leave {
                sender_id: map.text("leave", "senderId")?,
            },
            "request" => Message::Request(map.doc_message("request")?),
            "sync" => Message::Sync(map.doc_message("sync")?),
            "doc-unavailable" => Message::DocUnavailable {
                sender_id: map.text("doc-unavailable", "senderId")?,
                target_id: map.text("doc-unavailable", "targetId")?,
                document_id: map.text("doc-unavailable", "documentId")?,
            },
            "ephemeral" => Message::Ephemeral(Ephemeral {
                sender_id: map.text("ephemeral", "senderId")?,
                target_id: map.text("ephemeral", "targetId")?,
                document_id: map.text("ephemeral", "documentId")?,
                count: map.number("ephemeral", "count")?,
                session_id: map.text("ephemeral", "sessionId")?,
                data: map.bytes("ephemeral", "data")?,
            }),
            "remote-subscription-change" => Message::Ignored {
                kind: "remote-subscription-change",
            },
            "remote-heads-changed" => Message::Ignored {
                kind: "remote-heads-changed",
            },
            other => return Err(ProtocolError::UnknownType(truncate(other))),
        })
    }

    /// Encodes one frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut m: Vec<(Value, Value)> = vec![(text("type"), text(self.kind()))];
        let mut put = |k: &str, v: Value| m.push((text(k), v));
        match self {
            Message::Join {
                sender_id,
                peer_metadata,
                supported_protocol_versions,
            } => {
                put("senderId", text(sender_id));
                if let Some(meta) = peer_metadata {
                    put("peerMetadata", meta.clone());
                }
                put(
                    "supportedProtocolVersions",
                    Value::Array(
                        supported_protocol_versions
                            .iter()
                            .map(|v| text(v))
                            .collect(),
                    ),
                );
            }
            Message::Peer {
                sender_id,
                target_id,
                peer_metadata,
                selected_protocol_version,
            } => {
                put("senderId", text(sender_id));
                put("targetId", text(target_id));
                put("peerMetadata", peer_metadata.clone());
                put("selectedProtocolVersion", text(selected_protocol_version));
            }
            Message::Error { message } => put("message", text(message)),
            Message::Leave { sender_id } => put("senderId", text(sender_id)),
            Message::Request(d) | Message::Sync(d) => {
                put("senderId", text(&d.sender_id));
                put("targetId", text(&d.target_id));
                put("documentId", text(&d.document_id));
                put("data", Value::Bytes(d.data.clone()));
            }
            Message::DocUnavailable {
                sender_id,
                target_id,
                document_id,
            } => {
                put("senderId", text(sender_id));
                put("targetId", text(target_id));
                put("documentId", text(document_id));
            }
            Message::Ephemeral(e) => {
                put("senderId", text(&e.sender_id));
                put("targetId", text(&e.target_id));
                put("documentId", text(&e.document_id));
                put("count", Value::Integer(e.count.into()));
                put("sessionId", text(&e.session_id));
                put("data", Value::Bytes(e.data.clone()));
            }
            Message::Ignored { .. } => {}
        }
        let mut out = Vec::new();
        ciborium::into_writer(&Value::Map(m), &mut out).expect("writing CBOR to a Vec cannot fail");
        out
    }
}

/// The most data items a frame may hold. A message has a dozen or so; a
/// value tree costs tens of bytes per item, and an item can be one byte.
const MAX_CBOR_ITEMS: usize = 4096;

/// Counts a frame's CBOR data items from their headers, before ciborium
/// builds a value tree: a frame at the transport's limit of one-byte items
/// would otherwise take gigabytes. Bytes after the first item are ignored,
/// as ciborium does.
fn check_cbor_items(mut input: &[u8]) -> Result<()> {
    const INDEFINITE: u64 = u64::MAX;
    let bad = || ProtocolError::Cbor("truncated or malformed data item".into());
    // Items still to read in each open container (the frame: one item).
    let mut open: Vec<u64> = vec![1];
    let mut items = 0usize;
    while let Some(remaining) = open.last_mut() {
        if *remaining == 0 {
            open.pop();
            continue;
        }
        let (&initial, rest) = input.split_first().ok_or_else(bad)?;
        input = rest;
        if initial == 0xff {
            if *remaining != INDEFINITE {
                return Err(bad());
            }
            open.pop();
            continue;
        }
        if *remaining != INDEFINITE {
            *remaining -= 1;
        }
        items += 1;
        if items > MAX_CBOR_ITEMS {
            return Err(ProtocolError::Cbor(format!(
                "more than {MAX_CBOR_ITEMS} data items"
            )));
        }
        let info = initial & 0x1f;
        let argument = match info {
            0..=23 => Some(u64::from(info)),
            24..=27 => {
                let n = 1usize << (info - 24);
                let bytes = input.get(..n).ok_or_else(bad)?;
                input = &input[n..];
                Some(bytes.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
            }
            31 => None,
            _ => return Err(bad()),
        };
        match (initial >> 5, argument) {
            (0 | 1, Some(_)) | (7, _) => {}
            (2 | 3, Some(len)) => {
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= input.len())
                    .ok_or_else(bad)?;
                input = &input[len..];
            }
            (2..=5, None) => open.push(INDEFINITE),
            (4, Some(n)) => open.push(n),
            (5, Some(n)) => open.push(n.checked_mul(2).ok_or_else(bad)?),
            (6, Some(_)) => open.push(1),
            _ => return Err(bad()),
        }
    }
    Ok(())
}

/// Encodes a `sync` message without building a CBOR value tree: the server
/// sends one per peer for every relayed change, so this is a hot path. The
/// bytes are the same as `Message::Sync(..).encode()`.
pub fn encode_sync(sender_id: &str, target_id: &str, document_id: &str, data: &[u8]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(64 + sender_id.len() + target_id.len() + document_id.len() + data.len());
    out.push(0xa5); // map of 5 pairs
    cbor_text(&mut out, "type");
    cbor_text(&mut out, "sync");
    cbor_text(&mut out, "senderId");
    cbor_text(&mut out, sender_id);
    cbor_text(&mut out, "targetId");
    cbor_text(&mut out, target_id);
    cbor_text(&mut out, "documentId");
    cbor_text(&mut out, document_id);
    cbor_text(&mut out, "data");
    cbor_head(&mut out, 2, data.len() as u64);
    out.extend_from_slice(data);
    out
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A CBOR item head: major type and length, in the shortest form.
fn cbor_head(out: &mut Vec<u8>, major: u8, len: u64) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, len as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The fields of a decoded CBOR map, looked up by string key.
struct Fields(Vec<(Value, Value)>);

impl Fields {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }

    fn text(&self, kind: &'static str, field: &'static str) -> Result<String> {
        self.get(field)
            .and_then(Value::as_text)
            .map(str::to_owned)
            .ok_or(ProtocolError::MissingField { kind, field })
    }

    fn bytes(&self, kind: &'static str, field: &'static str) -> Result<Vec<u8>> {
        match self.get(field) {
            Some(Value::Bytes(b)) => Ok(b.clone()),
            // A tagged typed array (cbor-x with tagUint8Array) still carries bytes.
            Some(Value::Tag(_, inner)) => match inner.as_ref() {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(ProtocolError::MissingField { kind, field }),
            },
            _ => Err(ProtocolError::MissingField { kind, field }),
        }
    }

    fn number(&self, kind: &'static str, field: &'static str) -> Result<u64> {
        match self.get(field) {
            Some(Value::Integer(i)) => {
                u64::try_from(*i).map_err(|_| ProtocolError::MissingField { kind, field })
            }
            Some(Value::Float(f)) if f.is_finite() && *f >= 0.0 && *f <= u64::MAX as f64 => {
                Ok(*f as u64)
            }
            _ => Err(ProtocolError::MissingField { kind, field }),
        }
    }

    fn doc_message(&self, kind: &'static str) -> Result<DocMessage> {
        Ok(DocMessage {
            sender_id: self.text(kind, "senderId")?,
            target_id: self.text(kind, "targetId")?,
            document_id: self.text(kind, "documentId")?,
            data: self.bytes(kind, "data")?,
        })
    }
}

/// Answers a client's first message: `peer` when it offers version "1",
/// otherwise the protocol error to send before closing. With a
/// `storage_id`, the peer metadata names the server's durable storage, so
/// clients track which of their changes the server holds (automerge-repo's
/// remote heads).
pub fn answer_join(
    first: &Message,
    server_peer_id: &str,
    storage_id: Option<&str>,
) -> Result<Message> {
    match first {
        Message::Join {
            sender_id,
            supported_protocol_versions,
            ..
        } => {
            if !supported_protocol_versions
                .iter()
                .any(|v| v == PROTOCOL_VERSION)
            {
                return Err(ProtocolError::UnsupportedVersion);
            }
            Ok(Message::Peer {
                sender_id: server_peer_id.to_owned(),
                target_id: sender_id.clone(),
                peer_metadata: Value::Map(
                    std::iter::once((text("isEphemeral"), Value::Bool(false)))
                        .chain(storage_id.map(|id| (text("storageId"), text(id))))
                        .collect(),
                ),
                selected_protocol_version: PROTOCOL_VERSION.to_owned(),
            })
        }
        other => Err(ProtocolError::NotJoined(other.kind())),
    }
}
