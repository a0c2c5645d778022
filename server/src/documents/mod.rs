//! Documents in memory: a registry that loads them on demand, and one actor
//! task per loaded document that runs its sync rounds (check, commit, apply)
//! and is evicted when idle.

mod actor;
pub mod commit;
pub mod owners;

use std::collections::HashMap;
use std::sync::Arc;

use accord_protocol::{ConnId, DocSync, DocumentId, Policy};
use accord_store::{Decision, DocKind, Store, StructureEdit};
use automerge::transaction::Transaction;
use automerge::{ActorId, Automerge, ChangeHash};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::documents::commit::Committer;
pub use crate::documents::owners::ActorOwners;
use crate::metrics::Metrics;
use crate::peer::ConnHandle;
use actor::DocActor;

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
    /// Sets the element's editing mode: with `amendments_only`, delegates
    /// sync it read-only and are told to propose amendments instead.
    SetMode {
        amendments_only: bool,
        reply: oneshot::Sender<()>,
    },
    /// A change the server makes with its own actor (structure edits and
    /// projections to the index document): `edit` builds it on a copy of
    /// the committed document, the commit task stores it with `with`, and
    /// only then is it applied and sent to the peers.
    Write {
        edit: Edit,
        with: Companion,
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
/// What the commit task stores with a server change, in the same
/// transaction.
pub enum Companion {
    /// The change alone (a consensus projection, a restored locked text).
    Alone,
    /// A structure edit's rows and events, the change being its index
    /// change, attributed to the chair who made the edit.
    Structure {
        edit: Box<StructureEdit>,
        user_id: String,
        entity_code: Option<String>,
    },
    /// An accepted amendment's decision, the change being the amendment
    /// applied: written with `actor` (a new actor owned by the proposer) and
    /// attributed to the proposer and their entity.
    Amendment {
        decision: Box<Decision>,
        actor: ActorId,
        user_id: String,
        entity_code: String,
    },
}

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

/// The committed state of a document, for the API.
#[derive(Debug, Clone)]
pub struct DocView {
    pub heads: Vec<ChangeHash>,
    /// The element's text; `None` for the index document.
    pub text: Option<String>,
    /// The checked heads the document does not hold.
    pub missing: Vec<ChangeHash>,
}

/// An element's committed text with its hash (what positions are given
/// on) and the document's heads.
#[derive(Debug, Clone)]
pub struct ElementText {
    pub text: String,
    pub text_hash: String,
    pub heads: Vec<ChangeHash>,
}

impl ElementText {
    pub fn new(text: String, heads: Vec<ChangeHash>) -> Self {
        Self {
            text_hash: accord_model::text_hash(&text),
            text,
            heads,
        }
    }

    /// The element document `id`'s committed text; an error when the
    /// server has no such document.
    pub async fn live(docs: &Docs, id: DocumentId) -> Result<Self, crate::error::ApiError> {
        let view = docs.read(id).await?.ok_or_else(|| {
            crate::error::ApiError::internal(format!("element document {id} is missing"))
        })?;
        Ok(Self::new(view.text.unwrap_or_default(), view.heads))
    }

    /// The element document `id`'s text as stored (without a server).
    pub async fn stored(store: &Store, id: DocumentId) -> anyhow::Result<Self> {
        let doc = load_stored(store, id).await?;
        Ok(Self::new(
            accord_model::element_text(&doc)?,
            doc.get_heads(),
        ))
    }
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

/// Settings every actor shares.
#[derive(Clone)]
pub struct DocSettings {
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

/// A document that could not be loaded is the server's failure.
impl From<LoadError> for crate::error::ApiError {
    fn from(e: LoadError) -> Self {
        Self::internal(e)
    }
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
        with: Companion,
    ) -> Result<Vec<ChangeHash>, WriteError> {
        let (reply, wait) = oneshot::channel();
        let cmd = DocCmd::Write { edit, with, reply };
        match self.send(id, cmd).await {
            Ok(Delivery::Delivered) => wait
                .await
                .unwrap_or_else(|_| Err(WriteError::Broken("the document actor stopped".into()))),
            Ok(Delivery::Unknown) => Err(WriteError::Broken(format!("unknown document {id}"))),
            Err(LoadError::Store(e)) => Err(WriteError::Store(e)),
            Err(e) => Err(WriteError::Broken(e.to_string())),
        }
    }

    /// Sets an element's editing mode in its loaded actor (a document not
    /// loaded reads it from storage when it loads).
    pub async fn set_mode(&self, id: DocumentId, amendments_only: bool) -> Result<(), LoadError> {
        let (reply, wait) = oneshot::channel();
        let cmd = DocCmd::SetMode {
            amendments_only,
            reply,
        };
        if self.send(id, cmd).await? == Delivery::Delivered {
            let _ = wait.await;
        }
        Ok(())
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
        let amendments_only = self
            .0
            .store
            .element_mode(&id.to_string())
            .await?
            .is_some_and(|mode| mode == "amendments");
        let (tx, rx) = mpsc::channel(1024);
        loaded.insert(id, tx.clone());
        self.0.metrics.documents_loaded.set(loaded.len() as i64);
        let mut actor = DocActor::new(id, sync, self.clone(), rx);
        actor.lock = lock;
        actor.amendments_only = amendments_only;
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
