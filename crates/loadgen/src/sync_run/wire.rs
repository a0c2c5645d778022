//! The websocket side of a client: connecting and the `join`/`peer`
//! handshake, the writer task, outgoing messages, and reading incoming frames
//! (in place where they have the usual shape).

use std::borrow::Cow;
use std::time::Duration;

use accord_protocol::wire::{DocMessage, Message};
use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::Shared;
use crate::stats::add;

pub(super) type Sink = mpsc::UnboundedSender<Vec<u8>>;

/// Opens a websocket and does the handshake; returns the outgoing queue
/// (served by a writer task) and the incoming stream.
pub(super) async fn connect(
    s: &Shared,
    peer_id: &str,
) -> anyhow::Result<(
    Sink,
    futures::stream::SplitStream<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    >,
    String,
)> {
    // Reads fill (and first zero) at most `read_buffer_size` bytes of the
    // buffer: the 128 KiB default zeroed 128 KiB per read, for ~1 KB frames.
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(&s.url, Some(config), true)
        .await
        .with_context(|| format!("connecting to {}", s.url))?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let join = Message::Join {
        sender_id: peer_id.to_owned(),
        peer_metadata: Some(ciborium_meta()),
        supported_protocol_versions: vec!["1".into()],
    };
    sink.send(Ws::Binary(join.encode().into())).await?;
    let server_id = loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .context("no answer to join")?;
        match frame {
            Some(Ok(Ws::Binary(b))) => match Message::decode(&b)? {
                Message::Peer {
                    sender_id,
                    selected_protocol_version,
                    ..
                } if selected_protocol_version == "1" => break sender_id,
                other => bail!("unexpected answer to join: {other:?}"),
            },
            Some(Ok(Ws::Close(f))) => bail!("closed during handshake: {f:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("websocket error during handshake: {e}"),
            None => bail!("connection ended during handshake"),
        }
    };
    tokio::spawn(async move {
        // Everything queued goes out with one flush (one write syscall where
        // the frames fit the write buffer), not one flush per frame.
        'outer: while let Some(mut bytes) = rx.recv().await {
            loop {
                if bytes.is_empty() {
                    let _ = sink.send(Ws::Close(None)).await;
                    break 'outer;
                }
                if sink.feed(Ws::Binary(bytes.into())).await.is_err() {
                    break 'outer;
                }
                match rx.try_recv() {
                    Ok(b) => bytes = b,
                    Err(_) => break,
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    Ok((tx, stream, server_id))
}

fn ciborium_meta() -> ciborium::Value {
    ciborium::Value::Map(vec![(
        ciborium::Value::Text("isEphemeral".into()),
        ciborium::Value::Bool(true),
    )])
}

pub(super) fn send(s: &Shared, tx: &Sink, m: &Message) {
    send_bytes(s, tx, m.encode());
}

pub(super) fn send_bytes(s: &Shared, tx: &Sink, bytes: Vec<u8>) {
    add(&s.counters.frames_out, 1);
    add(&s.counters.bytes_out, bytes.len() as u64);
    let _ = tx.send(bytes);
}

pub(super) fn sync_message(
    peer: &str,
    server: &str,
    doc: &str,
    data: Vec<u8>,
    request: bool,
) -> Message {
    let m = DocMessage {
        sender_id: peer.to_owned(),
        target_id: server.to_owned(),
        document_id: doc.to_owned(),
        data,
    };
    if request {
        Message::Request(m)
    } else {
        Message::Sync(m)
    }
}

/// An incoming frame: a sync or request message, read in place where the
/// frame has the usual shape, or any other message.
pub(super) enum Frame<'a> {
    Doc {
        document_id: Cow<'a, str>,
        data: Cow<'a, [u8]>,
    },
    Other(Message),
}

pub(super) fn read_frame(bytes: &[u8]) -> Result<Frame<'_>, accord_protocol::ProtocolError> {
    if let Some((document_id, data)) = fast_doc_message(bytes) {
        return Ok(Frame::Doc {
            document_id: Cow::Borrowed(document_id),
            data: Cow::Borrowed(data),
        });
    }
    Ok(match Message::decode(bytes)? {
        Message::Sync(m) | Message::Request(m) => Frame::Doc {
            document_id: Cow::Owned(m.document_id),
            data: Cow::Owned(m.data),
        },
        other => Frame::Other(other),
    })
}

/// Reads a `sync`/`request` frame without building a CBOR value tree: a
/// definite-length map of text keys to text or byte-string values, with
/// `type`, `senderId`, `targetId`, `documentId` and `data`. Anything else
/// (other messages, other shapes) returns `None` for the general decoder.
pub(crate) fn fast_doc_message(bytes: &[u8]) -> Option<(&str, &[u8])> {
    fn head(b: &[u8], at: &mut usize) -> Option<(u8, u64)> {
        let first = *b.get(*at)?;
        *at += 1;
        let (major, info) = (first >> 5, first & 0x1f);
        let n = match info {
            0..=23 => info as u64,
            24..=27 => {
                let len = 1usize << (info - 24);
                let raw = b.get(*at..*at + len)?;
                *at += len;
                raw.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
            }
            _ => return None,
        };
        Some((major, n))
    }
    fn item<'a>(b: &'a [u8], at: &mut usize) -> Option<(u8, &'a [u8])> {
        let (major, len) = head(b, at)?;
        if major != 2 && major != 3 {
            return None;
        }
        let len = usize::try_from(len).ok()?;
        let v = b.get(*at..at.checked_add(len)?)?;
        *at += len;
        Some((major, v))
    }
    let mut at = 0;
    let (major, pairs) = head(bytes, &mut at)?;
    if major != 5 {
        return None;
    }
    let (mut kind, mut doc, mut data) = (None, None, None);
    let (mut sender, mut target) = (false, false);
    for _ in 0..pairs {
        let (km, key) = item(bytes, &mut at)?;
        let (vm, value) = item(bytes, &mut at)?;
        if km != 3 {
            return None;
        }
        match (key, vm) {
            (b"type", 3) => kind = Some(value),
            (b"senderId", 3) => sender = true,
            (b"targetId", 3) => target = true,
            (b"documentId", 3) => doc = Some(std::str::from_utf8(value).ok()?),
            (b"data", 2) => data = Some(value),
            _ => return None,
        }
    }
    if at != bytes.len() || !sender || !target {
        return None;
    }
    match kind? {
        b"sync" | b"request" => Some((doc?, data?)),
        _ => None,
    }
}

pub(super) fn notice_text(data: &[u8]) -> String {
    match ciborium::from_reader::<ciborium::Value, _>(data) {
        Ok(v) => format!("{v:?}"),
        Err(_) => format!("{} bytes", data.len()),
    }
}
