//! Who is connected to which draft, and in which elements — from the
//! server's own knowledge of each connection's session, never from what
//! clients claim. Each change is pushed to the draft's index document peers
//! as a server `ephemeral` message (`type: "accord-presence"`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use accord_protocol::{ConnId, DocumentId};
use accord_store::{DocKind, Store};
use ciborium::Value;
use serde::Serialize;

use crate::auth::User;
use crate::conn::ConnHandle;
use crate::docs::{DocCmd, Docs};

/// Where a document belongs.
#[derive(Debug, Clone)]
pub struct DocInfo {
    pub draft_id: String,
    pub index_doc: DocumentId,
    /// The element's id for an element document; `None` for the index.
    pub element_id: Option<String>,
    /// The draft's participating entities.
    pub participants: Vec<String>,
}

impl DocInfo {
    /// Delegates see the drafts their entity takes part in; chairs and
    /// reviewers see every draft.
    pub fn visible_to(&self, user: &User) -> bool {
        match (&user.role, &user.entity) {
            (accord_store::Role::Delegate, Some(entity)) => self.participants.contains(entity),
            (accord_store::Role::Delegate, None) => false,
            _ => true,
        }
    }
}

/// Documents the server created, by id, with their draft (cached: a
/// document never moves).
#[derive(Default)]
pub struct Directory(Mutex<HashMap<DocumentId, Arc<DocInfo>>>);

impl Directory {
    pub async fn lookup(
        &self,
        store: &Store,
        id: DocumentId,
    ) -> Result<Option<Arc<DocInfo>>, accord_store::Error> {
        if let Some(info) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(Some(info.clone()));
        }
        let Some(row) = store.document(&id.to_string()).await? else {
            return Ok(None);
        };
        let Some(draft) = store.draft(&row.draft_id).await? else {
            return Ok(None);
        };
        let Ok(index_doc) = draft.index_doc.parse::<DocumentId>() else {
            return Ok(None);
        };
        let element_id = match row.kind {
            DocKind::Index => None,
            DocKind::Element => store
                .all_elements(&row.draft_id)
                .await?
                .into_iter()
                .find(|e| e.doc_id == row.id)
                .map(|e| e.id),
        };
        let participants = store
            .draft_entities(&row.draft_id)
            .await?
            .into_iter()
            .map(|e| e.code)
            .collect();
        let info = Arc::new(DocInfo {
            draft_id: row.draft_id,
            index_doc,
            element_id,
            participants,
        });
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, info.clone());
        Ok(Some(info))
    }
}

/// One connection present in a draft.
#[derive(Debug, Clone, Serialize)]
pub struct Present {
    pub user_id: String,
    pub name: String,
    pub role: &'static str,
    pub entity: Option<String>,
    /// The connection's peer id, to match cursors and selections that
    /// clients relay with the user the server vouches for.
    pub peer_id: String,
    /// The elements the connection syncs.
    pub elements: Vec<String>,
    /// Unix ms.
    pub since: i64,
}

struct Entry {
    user: Arc<User>,
    peer_id: String,
    elements: BTreeSet<String>,
    since: i64,
}

struct DraftPresence {
    index_doc: DocumentId,
    entries: HashMap<ConnId, Entry>,
}

/// Connections per draft.
#[derive(Default)]
pub struct Presence(Mutex<HashMap<String, DraftPresence>>);

impl Presence {
    /// Records that `conn` syncs a document of the draft; true when that
    /// changed what others see.
    pub fn joined(&self, conn: &ConnHandle, info: &DocInfo) -> bool {
        let mut drafts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entries = &mut drafts
            .entry(info.draft_id.clone())
            .or_insert_with(|| DraftPresence {
                index_doc: info.index_doc,
                entries: HashMap::new(),
            })
            .entries;
        let is_new = !entries.contains_key(&conn.id);
        let entry = entries.entry(conn.id).or_insert_with(|| Entry {
            user: conn.user.clone(),
            peer_id: conn.peer_id.clone(),
            elements: BTreeSet::new(),
            since: crate::auth::now_ms(),
        });
        let new_element = match &info.element_id {
            Some(element) => entry.elements.insert(element.clone()),
            None => false,
        };
        is_new || new_element
    }

    /// Forgets a connection; returns the drafts whose presence changed,
    /// with their index documents.
    pub fn left(&self, conn: ConnId) -> Vec<(String, DocumentId)> {
        let mut drafts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut changed = Vec::new();
        drafts.retain(|draft, presence| {
            if presence.entries.remove(&conn).is_some() {
                changed.push((draft.clone(), presence.index_doc));
            }
            !presence.entries.is_empty()
        });
        changed
    }

    /// Everyone present in a draft, by name.
    pub fn list(&self, draft_id: &str) -> Vec<Present> {
        let drafts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Present> = drafts
            .get(draft_id)
            .map(|presence| {
                presence
                    .entries
                    .values()
                    .map(|e| Present {
                        user_id: e.user.id.clone(),
                        name: e.user.name.clone(),
                        role: e.user.role.as_str(),
                        entity: e.user.entity.clone(),
                        peer_id: e.peer_id.clone(),
                        elements: e.elements.iter().cloned().collect(),
                        since: e.since,
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| (&a.name, &a.peer_id).cmp(&(&b.name, &b.peer_id)));
        out
    }

    /// Sends the draft's presence to the peers of its index document.
    pub async fn broadcast(&self, docs: &Docs, draft_id: &str, index_doc: DocumentId) {
        let data = encode(draft_id, &self.list(draft_id));
        docs.send_if_loaded(index_doc, DocCmd::Broadcast { data })
            .await;
    }
}

/// CBOR `{ type: "accord-presence", draftId, present: [...] }`.
fn encode(draft_id: &str, present: &[Present]) -> Vec<u8> {
    let text = |s: &str| Value::Text(s.to_owned());
    let entries = present
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
        .collect();
    let body = Value::Map(vec![
        (text("type"), text("accord-presence")),
        (text("draftId"), text(draft_id)),
        (text("present"), Value::Array(entries)),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&body, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}
