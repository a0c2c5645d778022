//! Documents in memory: a registry that loads them on demand, and one actor
//! task per loaded document that runs its sync rounds (check, commit, apply)
//! and is evicted when idle.

pub mod commit;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_protocol::{ConnId, DocSync, DocumentId, Policy, Received};
use accord_store::{DocKind, NewChange, Role, Store};
use automerge::transaction::Transaction;
use automerge::{ActorId, Automerge, ChangeHash};
use futures::future::BoxFuture;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::documents::commit::Committer;
use crate::metrics::Metrics;
use crate::sync::conn::ConnHandle;

/// Commands a document actor takes, in order.
pub enum DocCmd {
    /// A `request` or `sync` message's data from a connection.
    Sync {
        conn: Arc<ConnHandle>,
        data: Vec<u8>,
    },
    /// The connection has gone.
    Leave { conn: ConnId },
    /// A read of the committed state; `check` names heads whose presence
    /// in the document the reply reports (`DocView::missing`).
    Read {
        check: Vec<ChangeHash>,
        reply: oneshot::Sender<DocView>,
    },
    /// Locks the element's text (silence procedure, adoption) or unlocks it.
    /// While locked, any change that reaches it is stored, then undone by a
    /// server change restoring the locked text, and its author is told why.
    SetLock {
        lock: Option<Lock>,
        reply: oneshot::Sender<()>,
    },
    /// A change the server makes with its own actor (structure edits to the
    /// index document): `edit` builds it on a copy of the committed
    /// document, `persist` stores it (with whatever else belongs in the same
    /// transaction), and only then is it applied and sent to the peers.
    Write {
        edit: Edit,
        persist: Persist,
        reply: oneshot::Sender<Result<Vec<ChangeHash>, WriteError>>,
    },
    /// Runs a read of the committed, applied document (history, compare,
    /// attribution); the closure sends its own answer.
    Inspect { f: Inspection },
}

/// A read of the committed document run by its actor.
pub type Inspection = Box<dyn FnOnce(&Automerge) + Send>;

/// Builds a server change; an `Err` is a refusal for people.
pub type Edit = Box<dyn FnOnce(&mut Transaction<'_>) -> Result<(), String> + Send>;
/// Stores a server change (`None` when the edit changed nothing).
pub type Persist = Box<
    dyn FnOnce(Option<NewChange>) -> BoxFuture<'static, Result<(), accord_store::Error>> + Send,
>;

/// Why a server write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Refused(String),
    #[error("storage: {0}")]
    Store(#[from] accord_store::Error),
    #[error("the document cannot be changed: {0}")]
    Broken(String),
}

/// Which user owns each Automerge actor id: the first who delivered a change
/// from it. Loaded from storage at start; a new claim is made when a
/// change is checked and stored with the change.
pub struct ActorOwners(std::sync::Mutex<HashMap<ActorId, Arc<str>>>);

impl ActorOwners {
    pub fn new(owners: impl IntoIterator<Item = (ActorId, String)>) -> Self {
        Self(std::sync::Mutex::new(
            owners.into_iter().map(|(a, u)| (a, u.into())).collect(),
        ))
    }

    /// Claims `actor` for `user` if nobody owns it; true if `user` owns it.
    pub fn may_use(&self, actor: &ActorId, user: &str) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(actor) {
            Some(owner) => &**owner == user,
            None => {
                map.insert(actor.clone(), user.into());
                true
            }
        }
    }
}

/// The committed state of a document, for the API.
#[derive(Debug, Clone)]
pub struct DocView {
    pub heads: Vec<ChangeHash>,
    /// The element's text; `None` for the index document.
    pub text: Option<String>,
    /// The checked heads the document does not hold.
    pub missing: Vec<ChangeHash>,
}

/// A locked element text and what its authors are told when an edit is undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub text: String,
    pub message: String,
}

/// What an element's actor reports after its text changed (checked when
/// committed changes are applied, so at most about once a second).
#[derive(Debug, Clone)]
pub struct TextChanged {
    pub doc: DocumentId,
    pub text_hash: String,
    pub bracketed: bool,
}

/// The message for edits undone by a lock loaded from storage.
const LOCKED: &str =
    "this element is locked (under a silence procedure or adopted): your edit was undone";

/// Heads as stored with a commit: a JSON array of sorted lowercase hex hashes.
pub fn heads_json(heads: &[ChangeHash]) -> String {
    let mut hex = accord_model::heads_hex(heads);
    hex.sort();
    serde_json::to_string(&hex).unwrap_or_else(|_| "[]".into())
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Settings every actor shares.
#[derive(Clone)]
pub struct DocSettings {
    /// The server's clock (commit times).
    pub clock: Arc<crate::clock::Clock>,
    /// The actor the server writes with.
    pub server_actor: ActorId,
    pub max_text_chars: usize,
    pub max_change_bytes: usize,
    pub evict_after: std::time::Duration,
    pub snapshot_every: usize,
}

/// What `Docs::send` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The server did not create this document.
    Unknown,
}

struct Shared {
    store: Store,
    committer: Committer,
    metrics: Arc<Metrics>,
    settings: DocSettings,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    actors: Arc<ActorOwners>,
    /// Where element actors report text changes (the consensus service).
    text_watch: std::sync::OnceLock<mpsc::UnboundedSender<TextChanged>>,
    loaded: Mutex<HashMap<DocumentId, mpsc::Sender<DocCmd>>>,
}

/// The registry of loaded documents.
#[derive(Clone)]
pub struct Docs(Arc<Shared>);

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("storage: {0}")]
    Store(#[from] accord_store::Error),
    #[error("stored document {0} cannot be loaded: {1}")]
    Corrupt(DocumentId, String),
}

impl Docs {
    pub fn new(
        store: Store,
        committer: Committer,
        metrics: Arc<Metrics>,
        settings: DocSettings,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        actors: Arc<ActorOwners>,
    ) -> Self {
        Self(Arc::new(Shared {
            store,
            committer,
            metrics,
            settings,
            shutdown,
            tracker,
            actors,
            text_watch: std::sync::OnceLock::new(),
            loaded: Mutex::new(HashMap::new()),
        }))
    }

    /// Delivers a command to a document's actor, loading the document first
    /// if needed.
    pub async fn send(&self, id: DocumentId, mut cmd: DocCmd) -> Result<Delivery, LoadError> {
        // An actor that is being evicted closes its queue; the second try
        // loads the document afresh.
        for _ in 0..3 {
            let Some(tx) = self.actor(id).await? else {
                return Ok(Delivery::Unknown);
            };
            match tx.send(cmd).await {
                Ok(()) => return Ok(Delivery::Delivered),
                Err(mpsc::error::SendError(back)) => cmd = back,
            }
        }
        Err(LoadError::Corrupt(
            id,
            "document actor keeps stopping".into(),
        ))
    }

    /// Like [`Docs::send`], through a connection's cache of actor queues, so
    /// the registry lock is taken once per document, not once per message.
    pub async fn send_cached(
        &self,
        cache: &mut HashMap<DocumentId, mpsc::Sender<DocCmd>>,
        id: DocumentId,
        cmd: DocCmd,
    ) -> Result<Delivery, LoadError> {
        let cmd = match cache.get(&id) {
            Some(tx) => match tx.send(cmd).await {
                Ok(()) => return Ok(Delivery::Delivered),
                Err(mpsc::error::SendError(back)) => {
                    cache.remove(&id);
                    back
                }
            },
            None => cmd,
        };
        let delivery = self.send(id, cmd).await?;
        if delivery == Delivery::Delivered
            && let Some(tx) = self.0.loaded.lock().await.get(&id)
        {
            cache.insert(id, tx.clone());
        }
        Ok(delivery)
    }

    /// Delivers a command only if the document is in memory.
    pub async fn send_if_loaded(&self, id: DocumentId, cmd: DocCmd) {
        let tx = self.0.loaded.lock().await.get(&id).cloned();
        if let Some(tx) = tx {
            let _ = tx.send(cmd).await;
        }
    }

    /// The committed state of a document, if the server created it.
    pub async fn read(&self, id: DocumentId) -> Result<Option<DocView>, LoadError> {
        self.read_checked(id, Vec::new()).await
    }

    /// Like [`Docs::read`], reporting which of `check` the document lacks.
    pub async fn read_checked(
        &self,
        id: DocumentId,
        check: Vec<ChangeHash>,
    ) -> Result<Option<DocView>, LoadError> {
        let (reply, wait) = oneshot::channel();
        match self.send(id, DocCmd::Read { check, reply }).await? {
            Delivery::Unknown => Ok(None),
            Delivery::Delivered => Ok(wait.await.ok()),
        }
    }

    /// Runs `f` on the committed document (everything applied first);
    /// `None` when the server did not create it.
    pub async fn inspect<T: Send + 'static>(
        &self,
        id: DocumentId,
        f: impl FnOnce(&Automerge) -> T + Send + 'static,
    ) -> Result<Option<T>, LoadError> {
        let (reply, wait) = oneshot::channel();
        let f = Box::new(move |doc: &Automerge| {
            let _ = reply.send(f(doc));
        });
        match self.send(id, DocCmd::Inspect { f }).await? {
            Delivery::Unknown => Ok(None),
            Delivery::Delivered => Ok(wait.await.ok()),
        }
    }

    /// Sets or lifts an element's lock; returns once the actor has it (and
    /// has restored the locked text if it differed).
    pub async fn set_lock(&self, id: DocumentId, lock: Option<Lock>) -> Result<(), LoadError> {
        let (reply, wait) = oneshot::channel();
        if self.send(id, DocCmd::SetLock { lock, reply }).await? == Delivery::Delivered {
            let _ = wait.await;
        }
        Ok(())
    }

    /// Element actors report text changes to `tx` from now on.
    pub fn watch_texts(&self, tx: mpsc::UnboundedSender<TextChanged>) {
        let _ = self.0.text_watch.set(tx);
    }

    /// Makes a server change to a document (see [`DocCmd::Write`]); returns
    /// the document's heads after it.
    pub async fn write(
        &self,
        id: DocumentId,
        edit: Edit,
        persist: Persist,
    ) -> Result<Vec<ChangeHash>, WriteError> {
        let (reply, wait) = oneshot::channel();
        let cmd = DocCmd::Write {
            edit,
            persist,
            reply,
        };
        match self.send(id, cmd).await {
            Ok(Delivery::Delivered) => wait
                .await
                .unwrap_or_else(|_| Err(WriteError::Broken("the document actor stopped".into()))),
            Ok(Delivery::Unknown) => Err(WriteError::Broken(format!("unknown document {id}"))),
            Err(LoadError::Store(e)) => Err(WriteError::Store(e)),
            Err(e) => Err(WriteError::Broken(e.to_string())),
        }
    }

    async fn actor(&self, id: DocumentId) -> Result<Option<mpsc::Sender<DocCmd>>, LoadError> {
        let mut loaded = self.0.loaded.lock().await;
        if let Some(tx) = loaded.get(&id)
            && !tx.is_closed()
        {
            return Ok(Some(tx.clone()));
        }
        let Some(sync) = self.load(id).await? else {
            return Ok(None);
        };
        let lock = self
            .0
            .store
            .element_lock(&id.to_string())
            .await?
            .map(|text| Lock {
                text,
                message: LOCKED.into(),
            });
        let (tx, rx) = mpsc::channel(1024);
        loaded.insert(id, tx.clone());
        self.0.metrics.documents_loaded.set(loaded.len() as i64);
        let mut actor = DocActor::new(id, sync, self.clone(), rx);
        actor.lock = lock;
        self.0.tracker.spawn(actor.run());
        Ok(Some(tx))
    }

    /// Loads a document the server created: its snapshot and later changes.
    async fn load(&self, id: DocumentId) -> Result<Option<DocSync>, LoadError> {
        let key = id.to_string();
        let Some(row) = self.0.store.document(&key).await? else {
            return Ok(None);
        };
        let doc = self.load_doc(id).await?;
        let settings = &self.0.settings;
        let policy = match row.kind {
            DocKind::Index => Policy::ServerOnly,
            DocKind::Element => Policy::Text {
                text_obj: accord_model::text_obj(&doc)
                    .map_err(|e| LoadError::Corrupt(id, e.to_string()))?,
                max_chars: settings.max_text_chars,
            },
        };
        Ok(Some(DocSync::new(doc, policy, settings.max_change_bytes)))
    }

    async fn load_doc(&self, id: DocumentId) -> Result<Automerge, LoadError> {
        load_stored(&self.0.store, id).await
    }
}

/// A document as storage holds it: its snapshot and the changes after it.
pub async fn load_stored(store: &Store, id: DocumentId) -> Result<Automerge, LoadError> {
    let stored = store
        .load_document(&id.to_string())
        .await?
        .ok_or_else(|| LoadError::Corrupt(id, "document row vanished".into()))?;
    tokio::task::block_in_place(|| {
        let mut doc = match &stored.snapshot {
            Some(bytes) => Automerge::load(bytes),
            None => Ok(Automerge::new()),
        }
        .map_err(|e| LoadError::Corrupt(id, e.to_string()))?;
        doc.load_incremental(&stored.changes.concat())
            .map_err(|e| LoadError::Corrupt(id, e.to_string()))?;
        Ok(doc)
    })
}

/// One loaded document.
struct DocActor {
    id: DocumentId,
    sync: DocSync,
    /// The connections syncing this document, to address replies and relays.
    conns: HashMap<ConnId, Arc<ConnHandle>>,
    docs: Docs,
    rx: mpsc::Receiver<DocCmd>,
    /// Changes committed since the last snapshot.
    unsnapshotted: usize,
    /// When the next bulk apply is due if nothing makes it urgent.
    apply_due: Instant,
    /// The locked text, if the element is locked.
    lock: Option<Lock>,
    /// The heads of the text last reported to the text watcher.
    reported: Option<Vec<ChangeHash>>,
}

/// Bulk applies are spaced by at least this long...
const APPLY_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// ...and by this many times the last apply's duration, so applying (whose
/// cost grows with history) takes a bounded share of the CPU (1/33 of one
/// core per busy document). Nothing waits for it but peers outside the
/// relay set, API reads and snapshots, which ask for it at once.
const APPLY_SPACING_FACTOR: u32 = 32;

impl DocActor {
    fn new(id: DocumentId, sync: DocSync, docs: Docs, rx: mpsc::Receiver<DocCmd>) -> Self {
        Self {
            id,
            sync,
            conns: HashMap::new(),
            docs,
            rx,
            unsnapshotted: 0,
            apply_due: Instant::now(),
            lock: None,
            reported: None,
        }
    }

    #[tracing::instrument(skip_all, fields(doc = %self.id))]
    async fn run(mut self) {
        let shared = self.docs.0.clone();
        let mut idle_since = Instant::now();
        loop {
            let apply_at = self
                .sync
                .needs_apply()
                .then_some(tokio::time::Instant::from_std(self.apply_due));
            let first = tokio::select! {
                cmd = self.rx.recv() => cmd,
                () = shared.shutdown.cancelled() => None,
                () = sleep_until(apply_at) => {
                    if !self.apply().await {
                        break;
                    }
                    continue;
                }
                () = tokio::time::sleep(shared.settings.evict_after) => {
                    if self.conns.is_empty()
                        && idle_since.elapsed() >= shared.settings.evict_after
                        && self.try_evict().await
                    {
                        break;
                    }
                    continue;
                }
            };
            let Some(first) = first else {
                // Shutting down: finish what is queued, then stop.
                self.rx.close();
                let mut rest = vec![];
                while let Ok(cmd) = self.rx.try_recv() {
                    rest.push(cmd);
                }
                if !rest.is_empty() {
                    self.round(rest).await;
                }
                break;
            };
            let mut batch = vec![first];
            while batch.len() < 4096 {
                match self.rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            if !self.round(batch).await {
                break;
            }
            if self.conns.is_empty() {
                idle_since = Instant::now();
            }
            if self.unsnapshotted >= shared.settings.snapshot_every {
                self.snapshot().await;
            }
        }
        if self.unsnapshotted > 0 || self.sync.needs_apply() {
            self.snapshot().await;
        }
        self.rx.close();
        let mut loaded = shared.loaded.lock().await;
        if loaded.get(&self.id).is_some_and(|tx| tx.is_closed()) {
            loaded.remove(&self.id);
        }
        shared.metrics.documents_loaded.set(loaded.len() as i64);
    }

    /// Leaves memory if nobody asked for the document meanwhile.
    async fn try_evict(&mut self) -> bool {
        let shared = self.docs.0.clone();
        let mut loaded = shared.loaded.lock().await;
        if !self.rx.is_empty() || !self.conns.is_empty() {
            return false;
        }
        loaded.remove(&self.id);
        self.rx.close();
        // `documents_loaded` drops when the actor ends, after its last
        // snapshot is written.
        drop(loaded);
        tracing::debug!("evicting idle document");
        // A command sent between the check and the close is still ours: run
        // it, then close its connections so they resync with a fresh actor.
        let mut rest = vec![];
        while let Ok(cmd) = self.rx.try_recv() {
            rest.push(cmd);
        }
        if !rest.is_empty() {
            self.round(rest).await;
            self.close_all("document reloaded: reconnect");
        }
        true
    }

    /// One sync round: check, commit, relay; apply when something waits for
    /// it. Returns false when the actor must stop.
    async fn round(&mut self, batch: Vec<DocCmd>) -> bool {
        let shared = self.docs.0.clone();
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        let mut locks = Vec::new();
        let mut inspections: Vec<Inspection> = Vec::new();
        for cmd in batch {
            match cmd {
                DocCmd::Sync { conn, data } => {
                    if conn.is_closing() {
                        continue;
                    }
                    self.conns.entry(conn.id).or_insert_with(|| conn.clone());
                    // Reviewers sync read-only; so does everyone on the index
                    // document (its policy).
                    self.sync
                        .add_peer(conn.id, conn.user.role == Role::Reviewer);
                    let user = conn.user.id.as_str();
                    let actors = &shared.actors;
                    let received = self
                        .sync
                        .receive_guarded(conn.id, &data, &mut |actor| actors.may_use(actor, user));
                    tracing::debug!(conn = conn.id, bytes = data.len(), outcome = ?received, "sync message");
                    match received {
                        Err(bad) => {
                            conn.protocol_error(&format!("document {}: {bad}", self.id));
                            self.drop_conn(conn.id);
                        }
                        Ok(Received::Refused(refusal)) => {
                            shared.metrics.changes_refused.inc();
                            tracing::info!(conn = conn.id, code = refusal.code, "changes refused");
                            conn.notice(&self.id, refusal.code, &refusal.message);
                        }
                        Ok(Received::Accepted { .. }) => {}
                    }
                }
                DocCmd::Leave { conn } => self.drop_conn(conn),
                DocCmd::Read { check, reply } => reads.push((check, reply)),
                DocCmd::SetLock { lock, reply } => locks.push((lock, reply)),
                DocCmd::Inspect { f } => inspections.push(f),
                DocCmd::Write {
                    edit,
                    persist,
                    reply,
                } => writes.push((edit, persist, reply)),
            }
        }

        // The document's heads once this round commits, stored with it (for
        // reading at a time); `None` when a change waits for dependencies.
        let heads_after = self
            .sync
            .heads_after_pending()
            .map(|heads| heads_json(&heads));
        let count = self.sync.pending().len();
        let pending: Vec<NewChange> = self
            .sync
            .pending()
            .iter()
            .enumerate()
            .map(|(i, change)| {
                let conn = self.conns.get(&change.conn);
                NewChange {
                    doc_id: self.id.to_string(),
                    hash: change.hash.0.to_vec(),
                    data: change.bytes.clone(),
                    peer_id: conn.map(|c| c.peer_id.clone()),
                    conn_id: Some(change.conn as i64),
                    user_id: conn.map(|c| c.user.id.clone()),
                    entity_code: conn.and_then(|c| c.user.entity.clone()),
                    actor: change.actor.to_bytes().to_vec(),
                    inserted: Some(change.inserted as i64),
                    deleted: Some(change.deleted as i64),
                    heads_after: if i + 1 == count {
                        heads_after.clone()
                    } else {
                        None
                    },
                }
            })
            .collect();
        // The authors of this round's changes, to tell them if a lock undoes them.
        let authors: Vec<ConnId> = if self.lock.is_some() {
            let mut authors: Vec<ConnId> = self.sync.pending().iter().map(|c| c.conn).collect();
            authors.dedup();
            authors
        } else {
            Vec::new()
        };
        if !pending.is_empty() {
            let count = pending.len();
            tracing::debug!(count, "committing");
            match shared.committer.commit(pending).await {
                Ok(()) => {
                    tracing::debug!(count, "committed");
                    self.unsnapshotted += count;
                    let out = self.sync.committed();
                    shared.metrics.relayed_messages.inc_by(out.len() as u64);
                    self.send(out);
                    if self.lock.is_some() && !self.enforce_lock(&authors).await {
                        return false;
                    }
                }
                Err(error) => {
                    if !self.commit_failed(&error).await {
                        return false;
                    }
                }
            }
        }
        if !reads.is_empty()
            || !inspections.is_empty()
            || self.sync.apply_is_urgent()
            || Instant::now() >= self.apply_due
        {
            if !self.apply().await {
                return false;
            }
            for (check, reply) in reads {
                let doc = self.sync.doc();
                let view = DocView {
                    heads: self.sync.heads(),
                    text: accord_model::element_text(doc).ok(),
                    missing: check
                        .into_iter()
                        .filter(|h| automerge::ReadDoc::get_change_by_hash(doc, h).is_none())
                        .collect(),
                };
                let _ = reply.send(view);
            }
        }
        if !inspections.is_empty() {
            let doc = self.sync.doc();
            tokio::task::block_in_place(|| {
                for f in inspections {
                    f(doc);
                }
            });
        }
        for (lock, reply) in locks {
            self.lock = lock;
            if self.lock.is_some() && !self.enforce_lock(&[]).await {
                return false;
            }
            let _ = reply.send(());
        }
        for (edit, persist, reply) in writes {
            let result = self.write(edit, persist).await;
            let stop = matches!(result, Err(WriteError::Broken(_)));
            let _ = reply.send(result);
            if stop {
                return false;
            }
        }
        true
    }

    /// Restores the locked text if committed changes altered it, and tells
    /// their authors. The offending changes stay stored and attributed.
    async fn enforce_lock(&mut self, authors: &[ConnId]) -> bool {
        let Some(lock) = self.lock.clone() else {
            return true;
        };
        if self.sync.needs_apply() && !self.apply().await {
            return false;
        }
        if accord_model::element_text(self.sync.doc()).ok().as_deref() == Some(&lock.text) {
            return true;
        }
        let store = self.docs.0.store.clone();
        let clock = self.docs.0.settings.clock.clone();
        let locked = lock.text.clone();
        let result = self
            .write(
                Box::new(move |tx| {
                    let text = match automerge::ReadDoc::get(tx, automerge::ROOT, "text") {
                        Ok(Some((automerge::Value::Object(automerge::ObjType::Text), id))) => id,
                        _ => return Err("the element has no text".into()),
                    };
                    automerge::transaction::Transactable::update_text(tx, &text, &locked)
                        .map_err(|e| e.to_string())
                }),
                Box::new(move |change| {
                    Box::pin(async move {
                        match change {
                            Some(change) => {
                                store.commit_at(&[change], clock.now()).await.map(|_| ())
                            }
                            None => Ok(()),
                        }
                    })
                }),
            )
            .await;
        match result {
            Ok(_) => {
                self.docs.0.metrics.changes_reverted.inc();
                for conn in authors {
                    if let Some(handle) = self.conns.get(conn) {
                        handle.notice(&self.id, "locked", &lock.message);
                    }
                }
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "restoring a locked text failed");
                !matches!(e, WriteError::Broken(_))
            }
        }
    }

    /// Reports the element's text to the watcher when its heads moved.
    fn report_text(&mut self) {
        let Some(watch) = self.docs.0.text_watch.get() else {
            return;
        };
        let heads = self.sync.heads();
        if self.reported.as_ref() == Some(&heads) {
            return;
        }
        let Ok(text) = accord_model::element_text(self.sync.doc()) else {
            return;
        };
        self.reported = Some(heads);
        let _ = watch.send(TextChanged {
            doc: self.id,
            text_hash: accord_model::text_hash(&text),
            bracketed: text.contains(['[', ']']),
        });
    }

    /// A server change: built on a copy of the committed document, stored,
    /// then applied and sent.
    async fn write(&mut self, edit: Edit, persist: Persist) -> Result<Vec<ChangeHash>, WriteError> {
        if self.sync.needs_apply() && !self.apply().await {
            return Err(WriteError::Broken("committed changes do not apply".into()));
        }
        let shared = self.docs.0.clone();
        let change = tokio::task::block_in_place(|| {
            let mut copy = self.sync.doc().clone();
            copy.set_actor(shared.settings.server_actor.clone());
            let mut tx = copy.transaction();
            edit(&mut tx).map_err(WriteError::Refused)?;
            let (hash, _) = tx.commit();
            let change = hash.and_then(|h| automerge::ReadDoc::get_change_by_hash(&copy, &h));
            Ok::<_, WriteError>(change.map(|c| (c, copy.get_heads())))
        })?;
        let record = change.as_ref().map(|(c, heads)| NewChange {
            doc_id: self.id.to_string(),
            hash: c.hash().0.to_vec(),
            data: c.raw_bytes().to_vec(),
            peer_id: None,
            conn_id: None,
            user_id: None,
            entity_code: None,
            actor: c.actor_id().to_bytes().to_vec(),
            inserted: None,
            deleted: None,
            heads_after: Some(heads_json(heads)),
        });
        let change = change.map(|(c, _)| c);
        persist(record).await?;
        if let Some(change) = change {
            self.unsnapshotted += 1;
            self.sync
                .apply_own(&change)
                .map_err(|e| WriteError::Broken(e.to_string()))?;
            let out = self.sync.generate();
            self.send(out);
            self.report_text();
        }
        Ok(self.sync.heads())
    }

    /// The round's changes did not commit: forget them, close the peers that
    /// delivered them, reload the document from storage.
    async fn commit_failed(&mut self, error: &str) -> bool {
        let shared = self.docs.0.clone();
        tracing::error!(%error, "commit failed: reloading the document");
        let result = tokio::task::block_in_place(|| self.sync.commit_failed());
        let out = match result {
            Ok((culprits, out)) => {
                for conn in culprits {
                    if let Some(handle) = self.conns.remove(&conn) {
                        shared.metrics.close("storage_failure");
                        handle.close(
                            1011,
                            "storage failure: reconnect to offer your changes again",
                        );
                    }
                }
                out
            }
            Err(e) => {
                tracing::error!(error = %e, "applying committed changes failed");
                self.close_all("document cannot be applied");
                return false;
            }
        };
        match self.docs.load_doc(self.id).await {
            Ok(doc) => self.sync.replace_doc(doc),
            Err(e) => {
                tracing::error!(error = %e, "reload failed: closing every peer");
                self.close_all("storage failure");
                return false;
            }
        }
        self.send(out);
        true
    }

    /// Applies everything committed and answers the peers outside the relay
    /// set. Returns false when the actor must stop.
    async fn apply(&mut self) -> bool {
        let shared = self.docs.0.clone();
        let started = Instant::now();
        let result = tokio::task::block_in_place(|| self.sync.apply());
        let took = started.elapsed();
        shared.metrics.apply_seconds.observe(took.as_secs_f64());
        self.apply_due = Instant::now() + APPLY_MIN_INTERVAL.max(took * APPLY_SPACING_FACTOR);
        match result {
            Ok(out) => {
                shared.metrics.regular_messages.inc_by(out.len() as u64);
                self.send(out);
                self.report_text();
                true
            }
            Err(e) => {
                // The committed changes do not apply: the stored document is
                // broken. Close everyone; the next load reports it.
                tracing::error!(error = %e, "applying committed changes failed");
                self.close_all("document cannot be applied");
                false
            }
        }
    }

    fn send(&self, out: Vec<(ConnId, Vec<u8>)>) {
        let document = self.id.to_string();
        for (conn, data) in out {
            if let Some(handle) = self.conns.get(&conn) {
                handle.send_sync(&document, &data);
            }
        }
    }

    fn drop_conn(&mut self, conn: ConnId) {
        self.sync.remove_peer(conn);
        self.conns.remove(&conn);
    }

    fn close_all(&mut self, reason: &str) {
        for (_, conn) in self.conns.drain() {
            conn.close(1011, reason);
        }
    }

    async fn snapshot(&mut self) {
        if self.sync.needs_apply() && !self.apply().await {
            return;
        }
        let shared = self.docs.0.clone();
        let key = self.id.to_string();
        // Every change of this document that is committed is applied: rounds
        // are serial, so the highest stored seq is covered by the save.
        let through = match shared.store.max_seq(&key).await {
            Ok(seq) => seq,
            Err(e) => {
                tracing::warn!(error = %e, "snapshot skipped");
                return;
            }
        };
        let bytes = tokio::task::block_in_place(|| self.sync.doc().save());
        match shared.store.save_snapshot(&key, &bytes, through).await {
            Ok(()) => self.unsnapshotted = 0,
            Err(e) => tracing::warn!(error = %e, "snapshot failed"),
        }
    }
}
