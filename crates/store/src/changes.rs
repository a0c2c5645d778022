//! Committed changes: the change log, grouped commits with the history they
//! add, snapshots and loading a document.

use std::collections::{BTreeMap, HashSet};

use sqlx::QueryBuilder;

use crate::{BeginWrite, CHANGES_PER_INSERT, REVISION_GAP_MS, Result, Store, now_ms};

/// One Automerge change: its hash and its encoded bytes.
#[derive(Clone, Debug)]
pub struct NewChangeData {
    pub hash: Vec<u8>,
    pub data: Vec<u8>,
}

/// A change delivered by a peer, with its attribution.
#[derive(Clone, Debug, Default)]
pub struct NewChange {
    pub doc_id: String,
    pub hash: Vec<u8>,
    pub data: Vec<u8>,
    /// The change's Automerge actor id; its first delivering user owns it
    /// (see [`Store::claim_actor`]).
    pub actor: Vec<u8>,
    /// automerge-repo peer id of the delivering connection.
    pub peer_id: Option<String>,
    /// Server-local connection number of the delivering connection.
    pub conn_id: Option<i64>,
    /// The authenticated user who delivered it (`None`: the server's own).
    pub user_id: Option<String>,
    /// The user's entity, if the user has one.
    pub entity_code: Option<String>,
    /// Characters this change inserts into the element text (`None`: not
    /// counted, e.g. index documents; counts as 0 in revisions).
    pub inserted: Option<i64>,
    /// Characters this change deletes from the element text.
    pub deleted: Option<i64>,
    /// JSON array of the document's sorted lowercase hex heads once this
    /// change, and everything before it in the batch for that document, is
    /// committed. Set on the LAST change of a document in a batch (`None`
    /// elsewhere); a document whose changes carry none gets no `doc_heads`
    /// row for the batch. If several of a document's changes carry one, the
    /// last in batch order wins.
    pub heads_after: Option<String>,
}

/// What a successful [`Store::commit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitReceipt {
    /// The batch's commit time (unix ms), the same for every change in it.
    pub committed_at: i64,
    /// Rows actually inserted: changes already stored are not counted.
    pub stored: usize,
}

/// Everything needed to rebuild a document in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDoc {
    /// The compacted `Automerge::save()`, if one was taken.
    pub snapshot: Option<Vec<u8>>,
    /// The snapshot covers every change with `seq <= snapshot_through` (0 without snapshot).
    pub snapshot_through: i64,
    /// The changes after the snapshot, in commit (seq) order.
    pub changes: Vec<Vec<u8>>,
    /// Highest seq of this document's changes (or `snapshot_through`).
    pub last_seq: i64,
}

/// A stored change of a draft, for listing (without its bytes).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ChangeInfo {
    /// Commit order over all documents.
    pub seq: i64,
    /// The Automerge change hash.
    pub hash: Vec<u8>,
    /// The document changed.
    pub doc_id: String,
    /// The element whose document it is; `None` for the index document.
    pub element_id: Option<String>,
    /// Who delivered it (`None`: the server's own).
    pub user_id: Option<String>,
    /// That user's name, if the user is known.
    pub user_name: Option<String>,
    /// The deliverer's entity, if any.
    pub entity_code: Option<String>,
    /// Unix ms.
    pub committed_at: i64,
}

/// A row just inserted into `changes` (the `RETURNING` columns of
/// `insert_changes!`).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct InsertedChange {
    pub(crate) seq: i64,
    pub(crate) doc_id: String,
    pub(crate) user_id: Option<String>,
    pub(crate) entity_code: Option<String>,
    pub(crate) inserted: Option<i64>,
    pub(crate) deleted: Option<i64>,
}

/// One row for `INSERT INTO changes`.
pub(crate) struct ChangeRow<'a> {
    pub(crate) doc_id: &'a str,
    pub(crate) hash: &'a [u8],
    pub(crate) data: &'a [u8],
    pub(crate) peer_id: Option<&'a str>,
    pub(crate) conn_id: Option<i64>,
    pub(crate) user_id: Option<&'a str>,
    pub(crate) entity_code: Option<&'a str>,
    pub(crate) inserted: Option<i64>,
    pub(crate) deleted: Option<i64>,
}

impl<'a> ChangeRow<'a> {
    /// The row of a delivered (or server-applied) change.
    pub(crate) fn delivered(c: &'a NewChange) -> Self {
        ChangeRow {
            doc_id: &c.doc_id,
            hash: &c.hash,
            data: &c.data,
            peer_id: c.peer_id.as_deref(),
            conn_id: c.conn_id,
            user_id: c.user_id.as_deref(),
            entity_code: c.entity_code.as_deref(),
            inserted: c.inserted,
            deleted: c.deleted,
        }
    }

    /// The row of one of a new document's initial changes (no attribution).
    pub(crate) fn initial(doc_id: &'a str, c: &'a NewChangeData) -> Self {
        ChangeRow {
            doc_id,
            hash: &c.hash,
            data: &c.data,
            peer_id: None,
            conn_id: None,
            user_id: None,
            entity_code: None,
            inserted: None,
            deleted: None,
        }
    }
}

/// The rows of `changes` to insert, without repeats of a (document, hash).
pub(crate) fn delivered_rows(changes: &[NewChange]) -> Vec<ChangeRow<'_>> {
    let mut seen = HashSet::with_capacity(changes.len());
    changes
        .iter()
        .filter(|c| seen.insert((c.doc_id.as_str(), c.hash.as_slice())))
        .map(ChangeRow::delivered)
        .collect()
}

/// What one committed batch adds to one document's history.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DocBatch<'a> {
    pub(crate) doc_id: String,
    /// Highest seq among the batch's new rows of the document.
    pub(crate) through_seq: i64,
    /// The document's heads after the batch, if the caller gave them.
    pub(crate) heads_after: Option<&'a str>,
    /// The batch's new rows of the document, per delivering user (rows
    /// without a user are the server's own: no revision).
    pub(crate) runs: Vec<UserRun>,
}

/// One user's new rows of one document in a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UserRun {
    pub(crate) user_id: String,
    /// The entity of the user's first row.
    pub(crate) entity_code: Option<String>,
    pub(crate) first_seq: i64,
    pub(crate) last_seq: i64,
    pub(crate) changes: i64,
    pub(crate) inserted: i64,
    pub(crate) deleted: i64,
}

/// Groups the rows a batch inserted by document (then user), with each
/// document's last given `heads_after`. Documents none of whose changes
/// were new are left out: the batch did not change them.
pub(crate) fn batch_history(
    changes: &[NewChange],
    mut inserted: Vec<InsertedChange>,
) -> Vec<DocBatch<'_>> {
    let mut heads: BTreeMap<&str, &str> = BTreeMap::new();
    for c in changes {
        if let Some(h) = c.heads_after.as_deref() {
            heads.insert(&c.doc_id, h);
        }
    }
    inserted.sort_by_key(|row| row.seq);
    let mut docs: BTreeMap<String, (i64, BTreeMap<String, UserRun>)> = BTreeMap::new();
    for InsertedChange {
        seq,
        doc_id,
        user_id,
        entity_code,
        inserted: ins,
        deleted: del,
    } in inserted
    {
        let (through, runs) = docs.entry(doc_id).or_insert_with(|| (seq, BTreeMap::new()));
        *through = (*through).max(seq);
        let Some(user_id) = user_id else { continue };
        let run = runs.entry(user_id.clone()).or_insert_with(|| UserRun {
            user_id,
            entity_code,
            first_seq: seq,
            last_seq: seq,
            changes: 0,
            inserted: 0,
            deleted: 0,
        });
        run.first_seq = run.first_seq.min(seq);
        run.last_seq = run.last_seq.max(seq);
        run.changes += 1;
        run.inserted += ins.unwrap_or(0);
        run.deleted += del.unwrap_or(0);
    }
    docs.into_iter()
        .map(|(doc_id, (through_seq, runs))| DocBatch {
            heads_after: heads.get(doc_id.as_str()).copied(),
            doc_id,
            through_seq,
            runs: runs.into_values().collect(),
        })
        .collect()
}

impl Store {
    /// The hashes of a document's changes that may delete characters (a
    /// positive `deleted` count, or uncounted changes the server made), in
    /// commit order: the only changes worth decoding to find who removed
    /// what.
    pub async fn deleting_changes(&self, doc_id: &str) -> Result<Vec<Vec<u8>>> {
        let rows: Vec<(Vec<u8>,)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT hash FROM changes WHERE doc_id = $1 \
                 AND (deleted > 0 OR (deleted IS NULL AND user_id IS NULL)) ORDER BY seq",
            )
            .bind(doc_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(h,)| h).collect())
    }

    /// The document's snapshot, if any, and every change after it in seq
    /// order; `None` if the document is unknown.
    pub async fn load_document(&self, id: &str) -> Result<Option<StoredDoc>> {
        with_pool!(self, |pool| {
            // The snapshot is read before the changes: a snapshot saved in
            // between can only cover less than what the changes query returns.
            let mut tx = pool.begin().await?;
            let exists: Option<(String,)> =
                sqlx::query_as("SELECT id FROM documents WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Ok(None);
            }
            let snapshot: Option<(Vec<u8>, i64)> =
                sqlx::query_as("SELECT data, through_seq FROM snapshots WHERE doc_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let through = snapshot.as_ref().map_or(0, |(_, t)| *t);
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, data FROM changes WHERE doc_id = $1 AND seq > $2 ORDER BY seq",
            )
            .bind(id)
            .bind(through)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let last_seq = rows.last().map_or(through, |(seq, _)| (*seq).max(through));
            Ok(Some(StoredDoc {
                snapshot: snapshot.map(|(data, _)| data),
                snapshot_through: through,
                changes: rows.into_iter().map(|(_, data)| data).collect(),
                last_seq,
            }))
        })
    }

    /// [`Store::commit_at`] now (the server's clock).
    pub async fn commit(&self, changes: &[NewChange]) -> Result<CommitReceipt> {
        self.commit_at(changes, now_ms()).await
    }

    /// Commits a batch of changes, possibly of many documents, in ONE
    /// transaction (one fsync for the batch), stamped `now` (unix ms). A
    /// change already stored (same document and hash) is skipped, keeping
    /// its first attribution. Either the whole batch is stored or, on error,
    /// none of it. In the same transaction:
    /// - each actor of a change with a `user_id` that has no owner yet is
    ///   recorded as owned by that user (the first in the batch);
    /// - each document with new rows whose changes carry a `heads_after`
    ///   gets a `doc_heads` row (`through_seq` = its highest new seq,
    ///   `committed_at = now`), see [`Store::draft_heads_at`];
    /// - on element documents, each user's new rows extend that user's
    ///   latest revision of the element if it ended less than
    ///   [`REVISION_GAP_MS`] before `now` and no version of the draft was
    ///   named at or after its end, or start a new one (see
    ///   [`Store::revisions`]). Rows without a user make no revision.
    pub async fn commit_at(&self, changes: &[NewChange], now: i64) -> Result<CommitReceipt> {
        let rows = delivered_rows(changes);
        if rows.is_empty() {
            return Ok(CommitReceipt {
                committed_at: now,
                stored: 0,
            });
        }
        // The first user in the batch to deliver from an actor claims it.
        let mut claimed = HashSet::new();
        let owners: Vec<(&[u8], &str)> = changes
            .iter()
            .filter_map(|c| Some((c.actor.as_slice(), c.user_id.as_deref()?)))
            .filter(|(actor, _)| claimed.insert(*actor))
            .collect();
        let stored = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let inserted = insert_changes!(tx, rows, now);
            let stored = inserted.len();
            record_history!(tx, &batch_history(changes, inserted), now);
            for chunk in owners.chunks(CHANGES_PER_INSERT) {
                let mut qb = QueryBuilder::new("INSERT INTO actors (actor, user_id, first_seen) ");
                qb.push_values(chunk, |mut b, (actor, user_id)| {
                    b.push_bind(*actor).push_bind(*user_id).push_bind(now);
                });
                qb.push(" ON CONFLICT (actor) DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            stored
        });
        Ok(CommitReceipt {
            committed_at: now,
            stored,
        })
    }

    /// Stores the compacted document covering its changes with
    /// `seq <= through_seq`. Never replaces a snapshot that covers more.
    pub async fn save_snapshot(&self, doc_id: &str, data: &[u8], through_seq: i64) -> Result<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO snapshots (doc_id, data, through_seq, saved_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (doc_id) DO UPDATE SET data = excluded.data, \
                 through_seq = excluded.through_seq, saved_at = excluded.saved_at \
                 WHERE snapshots.through_seq <= excluded.through_seq",
            )
            .bind(doc_id)
            .bind(data)
            .bind(through_seq)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Highest seq among the document's stored changes, 0 if it has none
    /// (the `through_seq` of a snapshot of everything committed so far).
    pub async fn max_seq(&self, doc_id: &str) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE doc_id = $1")
                .bind(doc_id)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// How many changes of the document are stored (tests, metrics).
    #[cfg(test)]
    pub async fn changes_count(&self, doc_id: &str) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM changes WHERE doc_id = $1")
                .bind(doc_id)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// The draft's stored changes (index and element documents) with
    /// `seq > after_seq`, in seq order, at most `limit`; with the element
    /// whose document each changes and the delivering user's name.
    pub async fn draft_changes(
        &self,
        draft_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<ChangeInfo>> {
        let rows: Vec<ChangeInfo> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT c.seq, c.hash, c.doc_id, el.id AS element_id, c.user_id, \
                 u.name AS user_name, c.entity_code, c.committed_at FROM changes c \
                 JOIN documents d ON d.id = c.doc_id \
                 LEFT JOIN elements el ON el.doc_id = c.doc_id \
                 LEFT JOIN users u ON u.id = c.user_id \
                 WHERE d.draft_id = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3",
            )
            .bind(draft_id)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}
