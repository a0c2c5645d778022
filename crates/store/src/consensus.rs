//! Consensus: the ledger of positions, silence procedures and adoptions.

use crate::{
    BeginWrite, Error, NewEvent, Result, Store, VersionRow, conflict_if_unique, json_opt_string,
    json_prepend_members, json_string, no_element,
};

/// A position to append to the ledger, see [`Store::record_position`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPosition {
    /// The draft.
    pub draft_id: String,
    /// The element the position is on (of that draft).
    pub element_id: String,
    /// The entity holding the position.
    pub entity_code: String,
    /// `support`, `support_ad_ref`, `reservation`, `abstain` or `object`.
    pub stance: String,
    /// The reservation's note or the objection's reason.
    pub note: Option<String>,
    /// Wording proposed with an objection.
    pub wording: Option<String>,
    /// Lowercase hex SHA-256 of the element text the position was given on.
    pub text_hash: String,
    /// JSON array of the element document's hex heads the delegate read.
    pub heads: String,
    /// Who recorded it (`None`: recorded by silence).
    pub user_id: Option<String>,
    /// Recorded by a silence procedure's deadline.
    pub by_silence: bool,
    /// Unix ms.
    pub at: i64,
}

/// A position of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PositionRow {
    /// Ledger order, increasing over all drafts.
    pub seq: i64,
    /// The draft.
    pub draft_id: String,
    /// The element.
    pub element_id: String,
    /// The entity holding the position.
    pub entity_code: String,
    /// `support`, `support_ad_ref`, `reservation`, `abstain` or `object`.
    pub stance: String,
    /// The reservation's note or the objection's reason.
    pub note: Option<String>,
    /// Wording proposed with an objection.
    pub wording: Option<String>,
    /// Lowercase hex SHA-256 of the element text the position was given on.
    pub text_hash: String,
    /// JSON array of hex heads.
    pub heads: String,
    /// Who recorded it (`None`: recorded by silence).
    pub user_id: Option<String>,
    /// Recorded by a silence procedure's deadline.
    pub by_silence: bool,
    /// Unix ms.
    pub at: i64,
}

/// A silence procedure to start, see [`Store::start_silence`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSilence {
    /// The draft.
    pub draft_id: String,
    /// The element put under silence (of that draft).
    pub element_id: String,
    /// Unix ms.
    pub deadline: i64,
    /// The element text locked while the silence is active.
    pub locked_text: String,
    /// Lowercase hex SHA-256 of `locked_text`.
    pub locked_text_hash: String,
    /// JSON array of the element document's hex heads at the start.
    pub locked_heads: String,
    /// The user who started it.
    pub started_by: String,
    /// Unix ms.
    pub started_at: i64,
    /// JSON array of the ledger `seq`s of the stale objections the chair
    /// confirmed when starting it (`[]` for none).
    pub confirmed_stale: String,
}

/// A stored silence procedure.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SilenceRow {
    /// Increasing over all drafts.
    pub id: i64,
    /// The draft.
    pub draft_id: String,
    /// The element under silence.
    pub element_id: String,
    /// Unix ms.
    pub deadline: i64,
    /// The locked element text.
    pub locked_text: String,
    /// Lowercase hex SHA-256 of `locked_text`.
    pub locked_text_hash: String,
    /// JSON array of hex heads.
    pub locked_heads: String,
    /// The user who started it.
    pub started_by: String,
    /// Unix ms.
    pub started_at: i64,
    /// `active`, `fired`, `broken` or `cancelled`.
    pub state: String,
    /// When it stopped being active (unix ms).
    pub ended_at: Option<i64>,
    /// Who broke or cancelled it (`None` when fired).
    pub ended_by: Option<String>,
    /// Why it was broken (the objection's note).
    pub reason: Option<String>,
    /// JSON array of the ledger `seq`s of the stale objections the chair
    /// confirmed when starting it (`[]` for none, and for silences started
    /// before confirmations were kept).
    pub confirmed_stale: String,
}

/// An adoption of an element, see [`Store::adopt_element`].
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AdoptionRow {
    /// Increasing over all drafts.
    pub id: i64,
    /// The draft.
    pub draft_id: String,
    /// The adopted element.
    pub element_id: String,
    /// The adopted (locked) text.
    pub text: String,
    /// Lowercase hex SHA-256 of `text`.
    pub text_hash: String,
    /// JSON array of hex heads.
    pub heads: String,
    /// The adopting user.
    pub adopted_by: String,
    /// Unix ms.
    pub adopted_at: i64,
    /// Who reopened it, if reopened.
    pub reopened_by: Option<String>,
    /// When it was reopened (unix ms).
    pub reopened_at: Option<i64>,
}

/// Fails with [`Error::NotFound`] unless element `$element_id` of draft
/// `$draft_id` exists (within `$tx`).
macro_rules! require_element {
    ($tx:expr, $draft_id:expr, $element_id:expr) => {{
        let (draft_id, element_id): (&str, &str) = ($draft_id, $element_id);
        let found: Option<(String,)> =
            sqlx::query_as("SELECT id FROM elements WHERE id = $1 AND draft_id = $2")
                .bind(element_id)
                .bind(draft_id)
                .fetch_optional(&mut *$tx)
                .await?;
        if found.is_none() {
            return Err(no_element(element_id, draft_id));
        }
    }};
}

/// Appends the [`NewPosition`] `$position` to the ledger within transaction
/// `$tx`. Evaluates to the position's seq.
macro_rules! insert_position {
    ($tx:expr, $position:expr) => {{
        let p: &NewPosition = $position;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO positions (draft_id, element_id, entity_code, stance, note, wording, \
             text_hash, heads, user_id, by_silence, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq",
        )
        .bind(&p.draft_id)
        .bind(&p.element_id)
        .bind(&p.entity_code)
        .bind(&p.stance)
        .bind(&p.note)
        .bind(&p.wording)
        .bind(&p.text_hash)
        .bind(&p.heads)
        .bind(&p.user_id)
        .bind(p.by_silence)
        .bind(p.at)
        .fetch_one(&mut *$tx)
        .await?;
        seq
    }};
}

/// The `silences` columns read into a [`SilenceRow`].
macro_rules! silence_columns {
    () => {
        "id, draft_id, element_id, deadline, locked_text, locked_text_hash, locked_heads, \
         started_by, started_at, state, ended_at, ended_by, reason, confirmed_stale"
    };
}

/// The `adoptions` columns read into an [`AdoptionRow`].
macro_rules! adoption_columns {
    () => {
        "id, draft_id, element_id, text, text_hash, heads, adopted_by, adopted_at, \
         reopened_by, reopened_at"
    };
}

impl Store {
    /// Appends a position to the ledger (never updated afterwards).
    /// [`Error::NotFound`] if the element is not one of the draft's.
    ///
    /// If `break_silence` is `Some(silence_id)`, in the same transaction that
    /// silence goes from `active` to `broken` (`ended_at` = the position's
    /// `at`, `ended_by` its user, `reason` its note), only if it is still
    /// active and on the position's element, and then an event
    /// `silence_broken` (element, user and entity of the position, data
    /// `{"silence": id, "reason": note}`) is recorded at the position's `at`.
    /// Returns the row and whether this call broke the silence.
    pub async fn record_position(
        &self,
        position: &NewPosition,
        break_silence: Option<i64>,
    ) -> Result<(PositionRow, bool)> {
        let p = position;
        let (seq, broken) = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_element!(tx, &p.draft_id, &p.element_id);
            let seq = insert_position!(tx, p);
            let mut broken = false;
            if let Some(silence_id) = break_silence {
                broken = sqlx::query(
                    "UPDATE silences SET state = 'broken', ended_at = $1, ended_by = $2, \
                     reason = $3 WHERE id = $4 AND element_id = $5 AND state = 'active'",
                )
                .bind(p.at)
                .bind(&p.user_id)
                .bind(&p.note)
                .bind(silence_id)
                .bind(&p.element_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if broken {
                    let event = NewEvent {
                        kind: "silence_broken".into(),
                        element_id: Some(p.element_id.clone()),
                        user_id: p.user_id.clone(),
                        entity_code: Some(p.entity_code.clone()),
                        data: format!(
                            r#"{{"silence":{silence_id},"reason":{}}}"#,
                            json_opt_string(p.note.as_deref())
                        ),
                    };
                    insert_event!(tx, &p.draft_id, &event, p.at);
                }
            }
            tx.commit().await?;
            (seq, broken)
        });
        let row = PositionRow {
            seq,
            draft_id: p.draft_id.clone(),
            element_id: p.element_id.clone(),
            entity_code: p.entity_code.clone(),
            stance: p.stance.clone(),
            note: p.note.clone(),
            wording: p.wording.clone(),
            text_hash: p.text_hash.clone(),
            heads: p.heads.clone(),
            user_id: p.user_id.clone(),
            by_silence: p.by_silence,
            at: p.at,
        };
        Ok((row, broken))
    }

    /// The draft's whole ledger in seq order.
    pub async fn positions(&self, draft_id: &str) -> Result<Vec<PositionRow>> {
        let rows: Vec<PositionRow> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                position_columns!(),
                " FROM positions WHERE draft_id = $1 ORDER BY seq"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Starts a silence and, in the same transaction, records `event`
    /// (normally of kind `silence_started`, with the starting user and
    /// entity) at `started_at`: its element defaults to the silence's, and
    /// its data becomes `{"silence": id, "deadline": ms}` followed by the
    /// members of `event.data` if that is a non-empty JSON object.
    /// [`Error::Conflict`] if the element already has an active silence;
    /// [`Error::NotFound`] if the element is not one of the draft's.
    pub async fn start_silence(
        &self,
        silence: &NewSilence,
        event: &NewEvent,
    ) -> Result<SilenceRow> {
        let s = silence;
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_element!(tx, &s.draft_id, &s.element_id);
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO silences (draft_id, element_id, deadline, locked_text, \
                 locked_text_hash, locked_heads, started_by, started_at, state, confirmed_stale) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9) RETURNING id",
            )
            .bind(&s.draft_id)
            .bind(&s.element_id)
            .bind(s.deadline)
            .bind(&s.locked_text)
            .bind(&s.locked_text_hash)
            .bind(&s.locked_heads)
            .bind(&s.started_by)
            .bind(s.started_at)
            .bind(&s.confirmed_stale)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                conflict_if_unique(e, || {
                    format!("element {:?} is already under silence", s.element_id)
                })
            })?;
            let event = NewEvent {
                element_id: event
                    .element_id
                    .clone()
                    .or_else(|| Some(s.element_id.clone())),
                data: json_prepend_members(
                    &format!(r#""silence":{id},"deadline":{}"#, s.deadline),
                    &event.data,
                ),
                ..event.clone()
            };
            insert_event!(tx, &s.draft_id, &event, s.started_at);
            tx.commit().await?;
            id
        });
        Ok(SilenceRow {
            id,
            draft_id: s.draft_id.clone(),
            element_id: s.element_id.clone(),
            deadline: s.deadline,
            locked_text: s.locked_text.clone(),
            locked_text_hash: s.locked_text_hash.clone(),
            locked_heads: s.locked_heads.clone(),
            started_by: s.started_by.clone(),
            started_at: s.started_at,
            state: "active".into(),
            ended_at: None,
            ended_by: None,
            reason: None,
            confirmed_stale: s.confirmed_stale.clone(),
        })
    }

    /// Active silences of every draft, by deadline (for the scheduler at start).
    pub async fn active_silences(&self) -> Result<Vec<SilenceRow>> {
        let rows: Vec<SilenceRow> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                silence_columns!(),
                " FROM silences WHERE state = 'active' ORDER BY deadline, id"
            ))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Every silence of a draft, newest first.
    pub async fn silences(&self, draft_id: &str) -> Result<Vec<SilenceRow>> {
        let rows: Vec<SilenceRow> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                silence_columns!(),
                " FROM silences WHERE draft_id = $1 ORDER BY id DESC"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Fires a silence exactly once. In one transaction: marks it `fired`
    /// (`ended_at = now`) only if it is active and `deadline <= now`; if that
    /// changed the row, appends `entries` (the positions recorded by silence)
    /// and an event `silence_fired` (no user; data `{"silence": id,
    /// "recorded": n}`) at `now`, commits and returns true. Otherwise nothing
    /// is written and it returns false, so of concurrent callers (even on
    /// several server instances) exactly one gets true. [`Error::Invalid`]
    /// (nothing written) if an entry is for another element.
    pub async fn fire_silence(
        &self,
        silence_id: i64,
        now: i64,
        entries: &[NewPosition],
    ) -> Result<bool> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let fired: Vec<(String, String)> = sqlx::query_as(
                "UPDATE silences SET state = 'fired', ended_at = $1 \
                 WHERE id = $2 AND state = 'active' AND deadline <= $1 \
                 RETURNING draft_id, element_id",
            )
            .bind(now)
            .bind(silence_id)
            .fetch_all(&mut *tx)
            .await?;
            let [(draft_id, element_id)] = fired.as_slice() else {
                tx.rollback().await?;
                return Ok(false);
            };
            for entry in entries {
                if entry.draft_id != *draft_id || entry.element_id != *element_id {
                    return Err(Error::Invalid(format!(
                        "silence {silence_id} is on element {element_id:?}, not on {:?}",
                        entry.element_id
                    )));
                }
                insert_position!(tx, entry);
            }
            let event = NewEvent {
                kind: "silence_fired".into(),
                element_id: Some(element_id.clone()),
                user_id: None,
                entity_code: None,
                data: format!(r#"{{"silence":{silence_id},"recorded":{}}}"#, entries.len()),
            };
            insert_event!(tx, draft_id.as_str(), &event, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Cancels an active silence (state `cancelled`, `ended_by`, `ended_at`)
    /// and records an event `silence_cancelled` (data `{"silence": id}`) at
    /// `now`, one transaction; false (nothing written) if it was not active.
    pub async fn cancel_silence(&self, silence_id: i64, by: &str, now: i64) -> Result<bool> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let cancelled: Option<(String, String)> = sqlx::query_as(
                "UPDATE silences SET state = 'cancelled', ended_at = $1, ended_by = $2 \
                 WHERE id = $3 AND state = 'active' RETURNING draft_id, element_id",
            )
            .bind(now)
            .bind(by)
            .bind(silence_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((draft_id, element_id)) = cancelled else {
                tx.rollback().await?;
                return Ok(false);
            };
            let event = NewEvent {
                kind: "silence_cancelled".into(),
                element_id: Some(element_id),
                user_id: Some(by.to_owned()),
                entity_code: None,
                data: format!(r#"{{"silence":{silence_id}}}"#),
            };
            insert_event!(tx, draft_id.as_str(), &event, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Adopts an element (its text locked until reopened) and records an
    /// event `element_adopted` (data `{"adoption": id, "text_hash": hash}`)
    /// at `now`, one transaction. [`Error::Conflict`] if it is already
    /// adopted (and not reopened); [`Error::NotFound`] if the element is not
    /// one of the draft's.
    #[allow(clippy::too_many_arguments)]
    pub async fn adopt_element(
        &self,
        draft_id: &str,
        element_id: &str,
        text: &str,
        text_hash: &str,
        heads: &str,
        by: &str,
        now: i64,
    ) -> Result<AdoptionRow> {
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_element!(tx, draft_id, element_id);
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO adoptions (draft_id, element_id, text, text_hash, heads, \
                 adopted_by, adopted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(draft_id)
            .bind(element_id)
            .bind(text)
            .bind(text_hash)
            .bind(heads)
            .bind(by)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                conflict_if_unique(e, || format!("element {element_id:?} is already adopted"))
            })?;
            let event = NewEvent {
                kind: "element_adopted".into(),
                element_id: Some(element_id.to_owned()),
                user_id: Some(by.to_owned()),
                entity_code: None,
                data: format!(
                    r#"{{"adoption":{id},"text_hash":{}}}"#,
                    json_string(text_hash)
                ),
            };
            insert_event!(tx, draft_id, &event, now);
            tx.commit().await?;
            id
        });
        Ok(AdoptionRow {
            id,
            draft_id: draft_id.to_owned(),
            element_id: element_id.to_owned(),
            text: text.to_owned(),
            text_hash: text_hash.to_owned(),
            heads: heads.to_owned(),
            adopted_by: by.to_owned(),
            adopted_at: now,
            reopened_by: None,
            reopened_at: None,
        })
    }

    /// Reopens an adopted element (the adoption row is kept, marked
    /// reopened) and records an event `element_reopened` (data
    /// `{"adoption": id}`) at `now`, one transaction; false (nothing
    /// written) if the element was not adopted.
    pub async fn reopen_element(
        &self,
        draft_id: &str,
        element_id: &str,
        by: &str,
        now: i64,
    ) -> Result<bool> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let reopened: Option<(i64,)> = sqlx::query_as(
                "UPDATE adoptions SET reopened_by = $1, reopened_at = $2 \
                 WHERE draft_id = $3 AND element_id = $4 AND reopened_at IS NULL \
                 RETURNING id",
            )
            .bind(by)
            .bind(now)
            .bind(draft_id)
            .bind(element_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = reopened else {
                tx.rollback().await?;
                return Ok(false);
            };
            let event = NewEvent {
                kind: "element_reopened".into(),
                element_id: Some(element_id.to_owned()),
                user_id: Some(by.to_owned()),
                entity_code: None,
                data: format!(r#"{{"adoption":{id}}}"#),
            };
            insert_event!(tx, draft_id, &event, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The draft's current (not reopened) adoptions, oldest first.
    pub async fn adoptions(&self, draft_id: &str) -> Result<Vec<AdoptionRow>> {
        let rows: Vec<AdoptionRow> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                adoption_columns!(),
                " FROM adoptions WHERE draft_id = $1 AND reopened_at IS NULL ORDER BY id"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The lock of the element whose document is `doc_id`, if any: the text
    /// of its current adoption, else the locked text of its active silence.
    pub async fn element_lock(&self, doc_id: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT text FROM ( \
                 SELECT 0 AS priority, a.text AS text FROM adoptions a \
                 JOIN elements el ON el.id = a.element_id \
                 WHERE el.doc_id = $1 AND a.reopened_at IS NULL \
                 UNION ALL \
                 SELECT 1 AS priority, s.locked_text AS text FROM silences s \
                 JOIN elements el ON el.id = s.element_id \
                 WHERE el.doc_id = $1 AND s.state = 'active' \
                 ) AS locks ORDER BY priority LIMIT 1",
            )
            .bind(doc_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(text,)| text))
    }

    /// Adopts the whole draft in one transaction: sets `drafts.adopted_at`
    /// and `adopted_by`, names the final version (`final_version = true`)
    /// and records an event `draft_adopted` (data `{"version": id, "name":
    /// name}`) at `now`. [`Error::Conflict`] if the draft is already adopted
    /// or has a version of that name; [`Error::NotFound`] if it does not
    /// exist. Nothing is written on error.
    pub async fn adopt_draft(
        &self,
        draft_id: &str,
        by: &str,
        version_name: &str,
        heads: &str,
        now: i64,
    ) -> Result<VersionRow> {
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE drafts SET adopted_at = $1, adopted_by = $2 \
                 WHERE id = $3 AND adopted_at IS NULL",
            )
            .bind(now)
            .bind(by)
            .bind(draft_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                require_draft!(tx, draft_id);
                return Err(Error::Conflict(format!(
                    "draft {draft_id:?} is already adopted"
                )));
            }
            let id = insert_version!(tx, draft_id, version_name, heads, Some(by), true, now);
            let event = NewEvent {
                kind: "draft_adopted".into(),
                element_id: None,
                user_id: Some(by.to_owned()),
                entity_code: None,
                data: format!(r#"{{"version":{id},"name":{}}}"#, json_string(version_name)),
            };
            insert_event!(tx, draft_id, &event, now);
            tx.commit().await?;
            id
        });
        Ok(VersionRow {
            id,
            draft_id: draft_id.to_owned(),
            name: version_name.to_owned(),
            heads: heads.to_owned(),
            created_by: Some(by.to_owned()),
            created_at: now,
            final_version: true,
        })
    }
}
