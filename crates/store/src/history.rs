//! History: the procedural timeline (events), named versions, revisions and
//! the documents' heads over time.

use sqlx::QueryBuilder;

use crate::{BeginWrite, Error, PositionRow, Result, Store, conflict_if_unique, json_string};

/// An entry of a draft's procedural timeline, to record.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// What happened, e.g. `"element_added"`.
    pub kind: String,
    /// The element concerned, if any.
    pub element_id: Option<String>,
    /// Who did it, if a user.
    pub user_id: Option<String>,
    /// The entity of who did it, if any.
    pub entity_code: Option<String>,
    /// Details as JSON text.
    pub data: String,
}

/// A recorded entry of a draft's procedural timeline.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRow {
    /// Increasing over all drafts' events.
    pub seq: i64,
    /// The draft.
    pub draft_id: String,
    /// What happened.
    pub kind: String,
    /// The element concerned, if any.
    pub element_id: Option<String>,
    /// Who did it, if a user.
    pub user_id: Option<String>,
    /// The entity of who did it, if any.
    pub entity_code: Option<String>,
    /// Details as JSON text.
    pub data: String,
    /// Unix ms.
    pub at: i64,
}

/// A named version of a draft, see [`Store::create_version`].
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct VersionRow {
    /// Increasing over all drafts.
    pub id: i64,
    /// The draft.
    pub draft_id: String,
    /// Unique within the draft.
    pub name: String,
    /// JSON object: document id -> array of hex heads.
    pub heads: String,
    /// Who named it (`None`: the server).
    pub created_by: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// The final version recorded when the draft was adopted.
    pub final_version: bool,
}

/// Which history to list, see [`Store::revisions`], [`Store::events_between`]
/// and [`Store::positions_between`]. Every `None` is "any".
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    /// Only this element.
    pub element_id: Option<String>,
    /// Only this entity.
    pub entity_code: Option<String>,
    /// Only this user.
    pub user_id: Option<String>,
    /// From this time on (unix ms, inclusive).
    pub from: Option<i64>,
    /// Before this time (unix ms, exclusive).
    pub to: Option<i64>,
}

/// A revision: one user's run of changes on one element, with no gap of
/// [`REVISION_GAP_MS`] or more between that user's own changes (whatever
/// others committed in between). Maintained by [`Store::commit_at`].
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RevisionRow {
    /// Increasing over all drafts.
    pub id: i64,
    /// The draft.
    pub draft_id: String,
    /// The element's document.
    pub doc_id: String,
    /// The element.
    pub element_id: String,
    /// The author.
    pub user_id: String,
    /// The author's name, if the user is known.
    pub user_name: Option<String>,
    /// The author's entity (of the revision's first changes), if any.
    pub entity_code: Option<String>,
    /// Commit time of the revision's first batch (unix ms).
    pub start_at: i64,
    /// Commit time of its last batch (unix ms).
    pub end_at: i64,
    /// Seq of its first change.
    pub first_seq: i64,
    /// Seq of its last change.
    pub last_seq: i64,
    /// How many of the author's changes it holds.
    pub changes: i64,
    /// Characters those changes inserted.
    pub inserted: i64,
    /// Characters those changes deleted.
    pub deleted: i64,
    /// JSON array of the document's hex heads before the revision's first
    /// batch (`"[]"` if no heads were recorded before it).
    pub before_heads: String,
    /// JSON array of the document's hex heads after its latest batch that
    /// gave them (`None`: never given).
    pub after_heads: Option<String>,
}

/// Appends to `$qb` (a query whose WHERE clause is open) the conditions of
/// the [`HistoryFilter`] `$filter` (`$p`: the table's alias prefix, e.g.
/// `"r."`; the time range on column `$time`), the cursor `$after` (rows
/// strictly after `(time, $id)`), the order `($time, $id)` and `LIMIT $limit`.
macro_rules! push_history_filter {
    ($qb:expr, $filter:expr, $after:expr, $limit:expr, $p:literal, $time:literal, $id:literal) => {{
        let filter: &HistoryFilter = $filter;
        if let Some(element_id) = &filter.element_id {
            $qb.push(concat!(" AND ", $p, "element_id = "))
                .push_bind(element_id.clone());
        }
        if let Some(entity_code) = &filter.entity_code {
            $qb.push(concat!(" AND ", $p, "entity_code = "))
                .push_bind(entity_code.clone());
        }
        if let Some(user_id) = &filter.user_id {
            $qb.push(concat!(" AND ", $p, "user_id = "))
                .push_bind(user_id.clone());
        }
        if let Some(from) = filter.from {
            $qb.push(concat!(" AND ", $p, $time, " >= "))
                .push_bind(from);
        }
        if let Some(to) = filter.to {
            $qb.push(concat!(" AND ", $p, $time, " < ")).push_bind(to);
        }
        let after: Option<(i64, i64)> = $after;
        if let Some((at, id)) = after {
            // The first condition alone is a range on the index.
            $qb.push(concat!(" AND ", $p, $time, " >= "))
                .push_bind(at)
                .push(concat!(" AND (", $p, $time, " > "))
                .push_bind(at)
                .push(concat!(" OR ", $p, $id, " > "))
                .push_bind(id)
                .push(")");
        }
        $qb.push(concat!(" ORDER BY ", $p, $time, ", ", $p, $id, " LIMIT "))
            .push_bind($limit);
    }};
}

/// The `versions` columns read into a [`VersionRow`].
macro_rules! version_columns {
    () => {
        "id, draft_id, name, heads, created_by, created_at, final AS final_version"
    };
}

/// The `revisions` columns (alias `r`) and the author's name (alias `u`),
/// read into a [`RevisionRow`].
macro_rules! revision_columns {
    () => {
        "r.id, r.draft_id, r.doc_id, r.element_id, r.user_id, u.name AS user_name, r.entity_code, \
         r.start_at, r.end_at, r.first_seq, r.last_seq, r.changes, r.inserted, r.deleted, \
         r.before_heads, r.after_heads"
    };
}

impl Store {
    /// The draft's timeline entries with `seq > after_seq`, in seq order, at
    /// most `limit`.
    #[cfg(test)]
    pub async fn events(
        &self,
        draft_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        let rows: Vec<EventRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, draft_id, kind, element_id, user_id, entity_code, data, at \
                 FROM events WHERE draft_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(draft_id)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Records one timeline entry at time `now`. [`Error::NotFound`] if the
    /// draft does not exist.
    pub async fn record_event_at(
        &self,
        draft_id: &str,
        event: &NewEvent,
        now: i64,
    ) -> Result<EventRow> {
        let seq = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_draft!(tx, draft_id);
            let seq = insert_event!(tx, draft_id, event, now);
            tx.commit().await?;
            seq
        });
        Ok(EventRow {
            seq,
            draft_id: draft_id.to_owned(),
            kind: event.kind.clone(),
            element_id: event.element_id.clone(),
            user_id: event.user_id.clone(),
            entity_code: event.entity_code.clone(),
            data: event.data.clone(),
            at: now,
        })
    }

    /// Names a version of the draft and records an event `version_named`
    /// (data `{"version": id, "name": name}`) at `now`, one transaction.
    /// [`Error::Conflict`] if the draft has a version of that name;
    /// [`Error::NotFound`] if the draft does not exist.
    pub async fn create_version(
        &self,
        draft_id: &str,
        name: &str,
        heads: &str,
        by: Option<&str>,
        final_version: bool,
        now: i64,
    ) -> Result<VersionRow> {
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_draft!(tx, draft_id);
            let id = insert_version!(tx, draft_id, name, heads, by, final_version, now);
            let event = NewEvent {
                kind: "version_named".into(),
                element_id: None,
                user_id: by.map(str::to_owned),
                entity_code: None,
                data: format!(r#"{{"version":{id},"name":{}}}"#, json_string(name)),
            };
            insert_event!(tx, draft_id, &event, now);
            tx.commit().await?;
            id
        });
        Ok(VersionRow {
            id,
            draft_id: draft_id.to_owned(),
            name: name.to_owned(),
            heads: heads.to_owned(),
            created_by: by.map(str::to_owned),
            created_at: now,
            final_version,
        })
    }

    /// Everyone who appears in the draft's history — authors of revisions,
    /// delegates who recorded positions, chairs who acted — as `(user id,
    /// user name, entity code)`, by name. Positions recorded by silence have
    /// no user and are left out; a user who acted for two entities appears
    /// once per entity.
    pub async fn history_people(
        &self,
        draft_id: &str,
    ) -> Result<Vec<(String, Option<String>, Option<String>)>> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT p.user_id, u.name, p.entity_code FROM ( \
                 SELECT user_id, entity_code FROM revisions WHERE draft_id = $1 \
                 UNION SELECT user_id, entity_code FROM positions \
                 WHERE draft_id = $1 AND user_id IS NOT NULL \
                 UNION SELECT user_id, entity_code FROM events \
                 WHERE draft_id = $1 AND user_id IS NOT NULL) p \
                 LEFT JOIN users u ON u.id = p.user_id",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        let mut rows: Vec<(String, Option<String>, Option<String>)> = rows;
        rows.sort_by(|a, b| {
            let key = |r: &(String, Option<String>, Option<String>)| {
                (
                    r.1.clone().unwrap_or_else(|| r.0.clone()),
                    r.0.clone(),
                    r.2.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        Ok(rows)
    }

    /// The draft's named versions, oldest first.
    pub async fn versions(&self, draft_id: &str) -> Result<Vec<VersionRow>> {
        let rows: Vec<VersionRow> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                version_columns!(),
                " FROM versions WHERE draft_id = $1 ORDER BY created_at, id"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The revision holding the latest change of element document `doc_id`
    /// by a user (the server's own changes make none), if any.
    pub async fn latest_revision(&self, doc_id: &str) -> Result<Option<RevisionRow>> {
        let row: Option<RevisionRow> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                revision_columns!(),
                " FROM revisions r LEFT JOIN users u ON u.id = r.user_id WHERE r.doc_id = $1 \
                 ORDER BY r.last_seq DESC, r.id DESC LIMIT 1"
            ))
            .bind(doc_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// Revisions of a draft matching `filter` (its time range on `start_at`:
    /// `from` inclusive, `to` exclusive), ordered by `(start_at, id)`, those
    /// strictly after `after = Some((start_at, id))`, at most `limit`.
    pub async fn revisions(
        &self,
        draft_id: &str,
        filter: &HistoryFilter,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<RevisionRow>> {
        let rows: Vec<RevisionRow> = with_pool!(self, |pool| {
            let mut qb = QueryBuilder::new(concat!(
                "SELECT ",
                revision_columns!(),
                " FROM revisions r LEFT JOIN users u ON u.id = r.user_id WHERE r.draft_id = "
            ));
            qb.push_bind(draft_id.to_owned());
            push_history_filter!(qb, filter, after, limit, "r.", "start_at", "id");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The document's heads (JSON array of hex hashes) as of time `at`: those
    /// of the latest `doc_heads` row with `committed_at <= at`; `None` if
    /// none was recorded by then.
    #[cfg(test)]
    pub async fn doc_heads_at(&self, doc_id: &str, at: i64) -> Result<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT heads FROM doc_heads WHERE doc_id = $1 AND committed_at <= $2 \
                 ORDER BY committed_at DESC, id DESC LIMIT 1",
            )
            .bind(doc_id)
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(heads,)| heads))
    }

    /// `(document id, heads)` of every document of the draft (index and
    /// elements, archived ones included) as of time `at` (the heads of each
    /// one's latest `doc_heads` row with `committed_at <= at`): the index
    /// document first, then elements in [`Store::all_elements`] order.
    /// Documents without heads recorded by then are left out.
    pub async fn draft_heads_at(&self, draft_id: &str, at: i64) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, Option<String>)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT d.id, (SELECT h.heads FROM doc_heads h \
                 WHERE h.doc_id = d.id AND h.committed_at <= $2 \
                 ORDER BY h.committed_at DESC, h.id DESC LIMIT 1) \
                 FROM documents d LEFT JOIN elements el ON el.doc_id = d.id \
                 WHERE d.draft_id = $1 \
                 ORDER BY CASE WHEN d.kind = 'index' THEN 0 ELSE 1 END, \
                 el.archived, el.position, d.id",
            )
            .bind(draft_id)
            .bind(at)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(doc_id, heads)| Some((doc_id, heads?)))
            .collect())
    }

    /// Every change of a document as `(hash, user_id, entity_code,
    /// committed_at)`, in seq order: for attributing operations to users.
    #[cfg(test)]
    pub async fn change_authors(
        &self,
        doc_id: &str,
    ) -> Result<Vec<(Vec<u8>, Option<String>, Option<String>, i64)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT hash, user_id, entity_code, committed_at FROM changes \
                 WHERE doc_id = $1 ORDER BY seq",
            )
            .bind(doc_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The draft's timeline entries matching `filter` (time range on `at`;
    /// element, entity and user of the entry), ordered by `(at, seq)`, those
    /// strictly after `after = Some((at, seq))`, at most `limit`.
    pub async fn events_between(
        &self,
        draft_id: &str,
        filter: &HistoryFilter,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        let rows: Vec<EventRow> = with_pool!(self, |pool| {
            let mut qb = QueryBuilder::new(
                "SELECT seq, draft_id, kind, element_id, user_id, entity_code, data, at \
                 FROM events WHERE draft_id = ",
            );
            qb.push_bind(draft_id.to_owned());
            push_history_filter!(qb, filter, after, limit, "", "at", "seq");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The draft's ledger rows matching `filter` (time range on `at`;
    /// element, entity holding the position, recording user), ordered by
    /// `(at, seq)`, those strictly after `after = Some((at, seq))`, at most
    /// `limit`.
    pub async fn positions_between(
        &self,
        draft_id: &str,
        filter: &HistoryFilter,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<PositionRow>> {
        let rows: Vec<PositionRow> = with_pool!(self, |pool| {
            let mut qb = QueryBuilder::new(concat!(
                "SELECT ",
                position_columns!(),
                " FROM positions WHERE draft_id = "
            ));
            qb.push_bind(draft_id.to_owned());
            push_history_filter!(qb, filter, after, limit, "", "at", "seq");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows)
    }
}
