//! One document in memory: its actor task runs the sync rounds (check,
//! commit, apply), applies in bulk when something waits for it, snapshots,
//! and leaves memory when idle.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_protocol::{ConnId, DocSync, DocumentId, Received};
use accord_store::{NewChange, Role};
use automerge::ChangeHash;
use tokio::sync::mpsc;

use super::{
    Companion, DocCmd, DocView, Docs, Edit, Inspection, Lock, TextChanged, WriteError, heads_json,
};
use crate::peer::ConnHandle;

/// What a delegate typing into an element that takes amendments only is told.
const AMENDMENTS_ONLY: &str =
    "this element takes amendments only: propose your change as an amendment";

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One loaded document.
pub(super) struct DocActor {
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
    pub(super) lock: Option<Lock>,
    /// The element takes amendments only: delegates sync it read-only.
    pub(super) amendments_only: bool,
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
    pub(super) fn new(
        id: DocumentId,
        sync: DocSync,
        docs: Docs,
        rx: mpsc::Receiver<DocCmd>,
    ) -> Self {
        Self {
            id,
            sync,
            conns: HashMap::new(),
            docs,
            rx,
            unsnapshotted: 0,
            apply_due: Instant::now(),
            lock: None,
            amendments_only: false,
            reported: None,
        }
    }

    #[tracing::instrument(skip_all, fields(doc = %self.id))]
    pub(super) async fn run(mut self) {
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
        let mut modes = Vec::new();
        let mut inspections: Vec<Inspection> = Vec::new();
        for cmd in batch {
            match cmd {
                DocCmd::Sync { conn, data } => {
                    if conn.is_closing() {
                        continue;
                    }
                    self.conns.entry(conn.id).or_insert_with(|| conn.clone());
                    // Reviewers sync read-only, and delegates on an element
                    // taking amendments only; so does everyone on the index
                    // document (its policy).
                    if !self.sync.has_peer(conn.id) && self.amendment_bound(&conn) {
                        // Why it syncs read-only, from the start.
                        conn.notice(&self.id, "amendments_only", AMENDMENTS_ONLY);
                    }
                    let read_only = self.read_only_for(&conn);
                    self.sync.add_peer(conn.id, read_only);
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
                            if refusal.code == "read_only" && self.amendment_bound(&conn) {
                                conn.notice(&self.id, "amendments_only", AMENDMENTS_ONLY);
                            } else {
                                conn.notice(&self.id, refusal.code, &refusal.message);
                            }
                        }
                        Ok(Received::Accepted { .. }) => {}
                    }
                }
                DocCmd::Leave { conn } => self.drop_conn(conn),
                DocCmd::Read { check, reply } => reads.push((check, reply)),
                DocCmd::SetLock { lock, reply } => locks.push((lock, reply)),
                DocCmd::SetMode {
                    amendments_only,
                    reply,
                } => modes.push((amendments_only, reply)),
                DocCmd::Inspect { f } => inspections.push(f),
                DocCmd::Write { edit, with, reply } => writes.push((edit, with, reply)),
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
                    if !self.commit_failed(&error.to_string()).await {
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
        for (amendments_only, reply) in modes {
            if !self.set_mode(amendments_only).await {
                return false;
            }
            let _ = reply.send(());
        }
        for (edit, with, reply) in writes {
            let result = self.write(edit, with).await;
            let stop = matches!(result, Err(WriteError::Broken(_)));
            let _ = reply.send(result);
            if stop {
                return false;
            }
        }
        true
    }

    /// Whether `conn` syncs this document read-only: a reviewer, or a
    /// delegate while the element takes amendments only.
    fn read_only_for(&self, conn: &ConnHandle) -> bool {
        conn.user.role == Role::Reviewer || self.amendment_bound(conn)
    }

    /// A delegate on an element taking amendments only (chairs still type).
    fn amendment_bound(&self, conn: &ConnHandle) -> bool {
        self.amendments_only && conn.user.role == Role::Delegate
    }

    /// Switches the element's editing mode: delegates' sync states become
    /// read-only (told at once, with the `amendments_only` notice) or
    /// writable again.
    async fn set_mode(&mut self, amendments_only: bool) -> bool {
        if self.amendments_only == amendments_only {
            return true;
        }
        if self.sync.needs_apply() && !self.apply().await {
            return false;
        }
        self.amendments_only = amendments_only;
        let delegates: Vec<Arc<ConnHandle>> = self
            .conns
            .values()
            .filter(|c| c.user.role == Role::Delegate)
            .cloned()
            .collect();
        for conn in &delegates {
            self.sync.set_read_only(conn.id, amendments_only);
        }
        let out = self.sync.generate();
        self.send(out);
        if amendments_only {
            for conn in &delegates {
                conn.notice(&self.id, "amendments_only", AMENDMENTS_ONLY);
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
                Companion::Alone,
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
            bracketed: accord_consensus::has_brackets(&text),
        });
    }

    /// A server change: built on a copy of the committed document, stored,
    /// then applied and sent.
    async fn write(&mut self, edit: Edit, with: Companion) -> Result<Vec<ChangeHash>, WriteError> {
        if self.sync.needs_apply() && !self.apply().await {
            return Err(WriteError::Broken("committed changes do not apply".into()));
        }
        let shared = self.docs.0.clone();
        let actor = match &with {
            Companion::Amendment { actor, .. } => actor.clone(),
            _ => shared.settings.server_actor.clone(),
        };
        let before = accord_model::element_text(self.sync.doc()).ok();
        let change = tokio::task::block_in_place(|| {
            let mut copy = self.sync.doc().clone();
            copy.set_actor(actor);
            let mut tx = copy.transaction();
            edit(&mut tx).map_err(WriteError::Refused)?;
            let (hash, _) = tx.commit();
            let change = hash.and_then(|h| automerge::ReadDoc::get_change_by_hash(&copy, &h));
            let after = accord_model::element_text(&copy).ok();
            Ok::<_, WriteError>((change.map(|c| (c, copy.get_heads())), after))
        })?;
        let (change, after) = change;
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
        let committer = &shared.committer;
        match with {
            Companion::Alone => {
                if let Some(record) = record {
                    committer.commit(vec![record]).await?;
                }
            }
            Companion::Structure {
                mut edit,
                user_id,
                entity_code,
            } => {
                edit.index_changes = record
                    .into_iter()
                    .map(|c| NewChange {
                        user_id: Some(user_id.clone()),
                        entity_code: entity_code.clone(),
                        ..c
                    })
                    .collect();
                committer.commit_structure(*edit).await?;
            }
            Companion::Amendment {
                mut decision,
                actor,
                user_id,
                entity_code,
            } => {
                // The proposer owns the actor the amendment is written with.
                shared.actors.may_use(&actor, &user_id);
                let (inserted, deleted) = match (&before, &after) {
                    (Some(before), Some(after)) => text_delta(before, after),
                    _ => (0, 0),
                };
                decision.change = record.map(|c| NewChange {
                    user_id: Some(user_id.clone()),
                    entity_code: Some(entity_code.clone()),
                    inserted: Some(inserted as i64),
                    deleted: Some(deleted as i64),
                    ..c
                });
                committer.decide_amendment(*decision).await?;
            }
        }
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

/// Characters an edit from `before` to `after` inserted and deleted, taking
/// the text both share at either end as unchanged.
fn text_delta(before: &str, after: &str) -> (usize, usize) {
    let b: Vec<char> = before.chars().collect();
    let a: Vec<char> = after.chars().collect();
    let prefix = b.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let suffix = b[prefix..]
        .iter()
        .rev()
        .zip(a[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (a.len() - prefix - suffix, b.len() - prefix - suffix)
}
