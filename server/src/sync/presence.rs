//! Who is connected to which draft, and in which elements — from the
//! server's own knowledge of each connection's session, never from what
//! clients claim. A connection that starts syncing a draft's index document
//! gets the whole list as a server `ephemeral` message
//! (`type: "accord-presence"`), then each change (`accord-presence-change`).
//! Also who syncs each document ([`Subscribers`]), to relay clients' own
//! ephemeral messages.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_protocol::{ConnId, DocumentId};
use ciborium::Value;
use serde::Serialize;

use crate::auth::User;
use crate::drafts::access::DocInfo;
use crate::peer::ConnHandle;

/// The connections that sync each document. Clients' ephemeral messages
/// (cursors) are relayed from here by the sender's own reader task, so one
/// connection's messages reach everyone in the order it sent them, whatever
/// documents they are about (the stock client drops a message whose count
/// is not above the last one it saw from that session).
#[derive(Default)]
pub struct Subscribers(Mutex<HashMap<DocumentId, HashMap<ConnId, Arc<ConnHandle>>>>);

impl Subscribers {
    pub fn add(&self, doc: DocumentId, conn: &Arc<ConnHandle>) {
        let mut docs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        docs.entry(doc).or_default().insert(conn.id, conn.clone());
    }

    pub fn remove(&self, doc: &DocumentId, conn: ConnId) {
        let mut docs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(conns) = docs.get_mut(doc) {
            conns.remove(&conn);
            if conns.is_empty() {
                docs.remove(doc);
            }
        }
    }

    /// Relays `from`'s ephemeral `data` about `doc` to the document's other
    /// subscribers, under the sender and session the server vouches for.
    pub fn relay(&self, from: &ConnHandle, doc: &DocumentId, data: &[u8]) {
        let count = from.next_relay_count();
        let document_id = doc.to_string();
        let docs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (id, to) in docs.get(doc).into_iter().flatten() {
            if *id != from.id {
                from.relay_ephemeral(to, &document_id, data, count);
            }
        }
    }
}

/// One connection present in a draft.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Present {
    pub user_id: String,
    pub name: String,
    #[schema(schema_with = role_schema)]
    pub role: &'static str,
    #[schema(required = true)]
    pub entity: Option<String>,
    /// The connection's sync peer id, to match cursors and selections that
    /// clients relay with the user the server vouches for.
    pub peer_id: String,
    /// The elements the connection syncs.
    pub elements: Vec<String>,
    /// Unix ms.
    pub since: i64,
}

/// `role` is one of the `Role` schema's values (`Role::as_str`).
fn role_schema() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("Role")
}

struct Entry {
    user: Arc<User>,
    peer_id: String,
    elements: BTreeSet<String>,
    since: i64,
}

impl Entry {
    fn present(&self) -> Present {
        Present {
            user_id: self.user.id.clone(),
            name: self.user.name.clone(),
            role: self.user.role.as_str(),
            entity: self.user.entity.clone(),
            peer_id: self.peer_id.clone(),
            elements: self.elements.iter().cloned().collect(),
            since: self.since,
        }
    }
}

struct DraftPresence {
    index_doc: DocumentId,
    entries: HashMap<ConnId, Entry>,
    /// Connections whose entry changed since the watchers last heard.
    changed: BTreeSet<ConnId>,
    /// A flush of `changed` is scheduled.
    flush_due: bool,
    /// The connections that sync the draft's index document: they hear
    /// about presence.
    watchers: HashMap<ConnId, Arc<ConnHandle>>,
}

impl DraftPresence {
    fn list(&self) -> Vec<Present> {
        let mut out: Vec<Present> = self.entries.values().map(Entry::present).collect();
        out.sort_by(|a, b| (&a.name, &a.peer_id).cmp(&(&b.name, &b.peer_id)));
        out
    }

    /// Tells every watcher about a change.
    fn tell(&self, data: &[u8]) {
        for watcher in self.watchers.values() {
            watcher.server_ephemeral(&self.index_doc, data.to_vec());
        }
    }
}

/// How long entry changes wait to go out together: a client opens its
/// documents one after another as it starts.
const COALESCE: Duration = Duration::from_millis(150);

/// Connections per draft. Watchers get the whole list once, when they
/// start syncing the index document, and then only what changes: a
/// connection that comes and goes costs each of the others a couple of
/// small messages, whatever the number present. Every message is queued
/// under the lock, so each watcher hears the changes in the order they
/// happened.
#[derive(Default)]
pub struct Presence(Mutex<HashMap<String, DraftPresence>>);

impl Presence {
    /// Records that `conn` syncs a document of the draft; the watchers hear
    /// what that changed within [`COALESCE`], together with the other
    /// changes of that moment.
    pub fn joined(self: &Arc<Self>, conn: &Arc<ConnHandle>, info: &DocInfo) {
        let mut drafts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let draft = drafts
            .entry(info.draft_id.clone())
            .or_insert_with(|| DraftPresence {
                index_doc: info.index_doc,
                entries: HashMap::new(),
                changed: BTreeSet::new(),
                flush_due: false,
                watchers: HashMap::new(),
            });
        let is_new = !draft.entries.contains_key(&conn.id);
        let entry = draft.entries.entry(conn.id).or_insert_with(|| Entry {
            user: conn.user.clone(),
            peer_id: conn.peer_id.clone(),
            elements: BTreeSet::new(),
            since: crate::clock::now_ms(),
        });
        let new_element = match &info.element_id {
            Some(element) => entry.elements.insert(element.clone()),
            None => false,
        };
        let changed = is_new || new_element;
        let new_watcher = info.element_id.is_none() && !draft.watchers.contains_key(&conn.id) && {
            draft.watchers.insert(conn.id, conn.clone());
            true
        };
        if new_watcher {
            conn.server_ephemeral(&info.index_doc, encode_list(&info.draft_id, &draft.list()));
        }
        if changed {
            draft.changed.insert(conn.id);
            if !std::mem::replace(&mut draft.flush_due, true) {
                let presence = self.clone();
                let draft_id = info.draft_id.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(COALESCE).await;
                    presence.flush(&draft_id);
                });
            }
        }
    }

    /// Tells a draft's watchers about the entries changed since they last
    /// heard, in one message.
    fn flush(&self, draft_id: &str) {
        let mut drafts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(draft) = drafts.get_mut(draft_id) else {
            return;
        };
        draft.flush_due = false;
        let upsert: Vec<Present> = std::mem::take(&mut draft.changed)
            .iter()
            .filter_map(|conn| draft.entries.get(conn).map(Entry::present))
            .collect();
        if !upsert.is_empty() {
            draft.tell(&encode_change(draft_id, &upsert, &[]));
        }
    }

    /// Forgets a connection and tells the watchers of its drafts.
    pub fn left(&self, conn: ConnId) {
        let mut drafts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        drafts.retain(|draft_id, presence| {
            presence.watchers.remove(&conn);
            presence.changed.remove(&conn);
            if let Some(entry) = presence.entries.remove(&conn)
                && !presence.watchers.is_empty()
            {
                let data = encode_change(draft_id, &[], &[entry.peer_id]);
                presence.tell(&data);
            }
            !presence.entries.is_empty() || !presence.watchers.is_empty()
        });
    }

    /// Everyone present in a draft, by name.
    pub fn list(&self, draft_id: &str) -> Vec<Present> {
        let drafts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        drafts
            .get(draft_id)
            .map(DraftPresence::list)
            .unwrap_or_default()
    }
}

/// CBOR `{ type: "accord-presence", draftId, present: [...] }`: the whole list.
fn encode_list(draft_id: &str, present: &[Present]) -> Vec<u8> {
    cbor(vec![
        (text("type"), text("accord-presence")),
        (text("draftId"), text(draft_id)),
        (text("present"), entries(present)),
    ])
}

/// CBOR `{ type: "accord-presence-change", draftId, upsert: [...], left:
/// [peerId, ...] }`: entries new or changed, and connections gone.
fn encode_change(draft_id: &str, upsert: &[Present], left: &[String]) -> Vec<u8> {
    cbor(vec![
        (text("type"), text("accord-presence-change")),
        (text("draftId"), text(draft_id)),
        (text("upsert"), entries(upsert)),
        (
            text("left"),
            Value::Array(left.iter().map(|p| text(p)).collect()),
        ),
    ])
}

fn entries(present: &[Present]) -> Value {
    Value::Array(
        present
            .iter()
            .map(|p| {
                Value::Map(vec![
                    (text("userId"), text(&p.user_id)),
                    (text("name"), text(&p.name)),
                    (text("role"), text(p.role)),
                    (
                        text("entity"),
                        p.entity.as_deref().map(text).unwrap_or(Value::Null),
                    ),
                    (text("peerId"), text(&p.peer_id)),
                    (
                        text("elements"),
                        Value::Array(p.elements.iter().map(|e| text(e)).collect()),
                    ),
                    (text("since"), Value::Integer(p.since.into())),
                ])
            })
            .collect(),
    )
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn cbor(map: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(&Value::Map(map), &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}
