//! Amendments (with their sponsors and objections), comments and elements'
//! editing modes. Every write here is one transaction with its timeline
//! event; state changes are conditional on the state they start from, so
//! two decisions on one amendment cannot both succeed.

use sqlx::QueryBuilder;

use crate::changes::{ChangeRow, DocBatch, InsertedChange, batch_history, delivered_rows};
use crate::{
    BeginWrite, CHANGES_PER_INSERT, Error, NewChange, NewEvent, REVISION_GAP_MS, Result, Store,
    json_prepend_members, json_string, no_element,
};

/// A passage anchored in an element's text: what it read and the
/// Automerge cursors (text form) that follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The passage as it read when anchored (empty: an insertion point).
    pub original: String,
    /// The passage's first character, or for a point the one before it
    /// (`s`: the start of the text).
    pub start_cursor: String,
    /// The passage's last character, or for a point the one after it
    /// (`e`: the end of the text).
    pub end_cursor: String,
    /// JSON array of the element document's hex heads it was read at.
    pub heads: String,
}

/// An amendment to propose, see [`Store::propose_amendment`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAmendment {
    pub draft_id: String,
    pub element_id: String,
    /// The proposing entity (its first sponsor).
    pub entity_code: String,
    /// The proposing user.
    pub user_id: String,
    pub anchor: Anchor,
    /// The replacement (empty: delete the passage).
    pub text: String,
    pub reason: String,
}

/// A stored amendment.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AmendmentRow {
    pub id: i64,
    pub draft_id: String,
    pub element_id: String,
    pub entity_code: String,
    pub user_id: String,
    pub original: String,
    pub start_cursor: String,
    pub end_cursor: String,
    pub heads: String,
    pub text: String,
    pub reason: String,
    /// `open`, `accepted`, `rejected` or `withdrawn`.
    pub state: String,
    pub created_at: i64,
    pub anchored_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    /// Hex hash of the change that applied it (accepted).
    pub applied_change: Option<String>,
}

/// An entity's sponsorship of, or objection to, an amendment.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AmendmentStand {
    pub amendment_id: i64,
    pub entity_code: String,
    pub user_id: String,
    /// The objection's reason (`None` for a sponsorship).
    pub reason: Option<String>,
    pub at: i64,
}

/// A decision on an open amendment, see [`Store::decide_amendment_at`].
#[derive(Clone, Debug)]
pub struct Decision {
    pub draft_id: String,
    pub amendment_id: i64,
    /// `accepted`, `rejected` or `withdrawn`.
    pub state: String,
    pub by: String,
    pub reason: Option<String>,
    /// For an acceptance: the change applying it to the element document,
    /// stored like [`Store::commit_at`] stores changes (attributed to its
    /// `user_id`, its actor claimed for that user, history recorded).
    pub change: Option<NewChange>,
    pub event: NewEvent,
}

/// A comment to add, see [`Store::add_comment`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewComment {
    pub draft_id: String,
    pub element_id: String,
    pub user_id: String,
    pub entity_code: Option<String>,
    pub text: String,
    /// The thread's first comment, for a reply.
    pub reply_to: Option<i64>,
    pub anchor: Option<Anchor>,
    /// JSON `{"entities": [codes], "users": [ids]}`.
    pub mentions: String,
}

/// A stored comment.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CommentRow {
    pub id: i64,
    pub draft_id: String,
    pub element_id: String,
    pub user_id: String,
    pub entity_code: Option<String>,
    pub text: String,
    pub reply_to: Option<i64>,
    pub original: Option<String>,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
    pub heads: Option<String>,
    pub mentions: String,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
}

/// The `amendments` columns read into an [`AmendmentRow`].
macro_rules! amendment_columns {
    () => {
        "id, draft_id, element_id, entity_code, user_id, original, start_cursor, end_cursor, \
         heads, text, reason, state, created_at, anchored_at, decided_at, decided_by, \
         decision_reason, applied_change"
    };
}

/// The `comments` columns read into a [`CommentRow`].
macro_rules! comment_columns {
    () => {
        "id, draft_id, element_id, user_id, entity_code, text, reply_to, original, \
         start_cursor, end_cursor, heads, mentions, created_at, resolved_at, resolved_by"
    };
}

/// Fails with [`Error::NotFound`] unless amendment `$id` of draft
/// `$draft_id` exists, and with [`Error::Conflict`] unless it is open.
macro_rules! require_open_amendment {
    ($tx:expr, $draft_id:expr, $id:expr) => {{
        let (draft_id, id): (&str, i64) = ($draft_id, $id);
        let found: Option<(String,)> =
            sqlx::query_as("SELECT state FROM amendments WHERE id = $1 AND draft_id = $2")
                .bind(id)
                .bind(draft_id)
                .fetch_optional(&mut *$tx)
                .await?;
        match found {
            None => return Err(no_amendment(id, draft_id)),
            Some((state,)) if state != "open" => {
                return Err(Error::Conflict(format!("amendment {id} is {state}")));
            }
            Some(_) => {}
        }
    }};
}

fn no_amendment(id: i64, draft_id: &str) -> Error {
    Error::NotFound(format!("no amendment {id} in draft {draft_id:?}"))
}

impl Store {
    /// Stores a new open amendment with its proposing entity as first
    /// sponsor and its `amendment_proposed` event (whose data gets the
    /// amendment's id as `"amendment"`). The element must be a live element
    /// of the draft.
    pub async fn propose_amendment(
        &self,
        a: &NewAmendment,
        event: &NewEvent,
        now: i64,
    ) -> Result<AmendmentRow> {
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let live: Option<(bool,)> =
                sqlx::query_as("SELECT archived FROM elements WHERE id = $1 AND draft_id = $2")
                    .bind(&a.element_id)
                    .bind(&a.draft_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if !matches!(live, Some((false,))) {
                return Err(no_element(&a.element_id, &a.draft_id));
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO amendments (draft_id, element_id, entity_code, user_id, original, \
                 start_cursor, end_cursor, heads, text, reason, state, created_at, anchored_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $11) RETURNING id",
            )
            .bind(&a.draft_id)
            .bind(&a.element_id)
            .bind(&a.entity_code)
            .bind(&a.user_id)
            .bind(&a.anchor.original)
            .bind(&a.anchor.start_cursor)
            .bind(&a.anchor.end_cursor)
            .bind(&a.anchor.heads)
            .bind(&a.text)
            .bind(&a.reason)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO amendment_sponsors (amendment_id, entity_code, user_id, at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(&a.entity_code)
            .bind(&a.user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let event = with_id(event, "amendment", id);
            insert_event!(tx, &a.draft_id, &event, now);
            tx.commit().await?;
            id
        });
        self.amendment(&a.draft_id, id)
            .await?
            .ok_or_else(|| no_amendment(id, &a.draft_id))
    }

    /// One amendment of a draft.
    pub async fn amendment(&self, draft_id: &str, id: i64) -> Result<Option<AmendmentRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                amendment_columns!(),
                " FROM amendments WHERE id = $1 AND draft_id = $2"
            ))
            .bind(id)
            .bind(draft_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// A draft's amendments, oldest first.
    pub async fn amendments(&self, draft_id: &str) -> Result<Vec<AmendmentRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                amendment_columns!(),
                " FROM amendments WHERE draft_id = $1 ORDER BY id"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// A draft's sponsorships (reason `None`) and objections (with their
    /// reason), by amendment, then in the order they were made.
    pub async fn amendment_stands(
        &self,
        draft_id: &str,
    ) -> Result<(Vec<AmendmentStand>, Vec<AmendmentStand>)> {
        let (sponsors, objections) = with_pool!(self, |pool| {
            let sponsors: Vec<AmendmentStand> = sqlx::query_as(
                "SELECT s.amendment_id, s.entity_code, s.user_id, NULL AS reason, s.at \
                 FROM amendment_sponsors s JOIN amendments a ON a.id = s.amendment_id \
                 WHERE a.draft_id = $1 ORDER BY s.amendment_id, s.at, s.entity_code",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?;
            let objections: Vec<AmendmentStand> = sqlx::query_as(
                "SELECT o.amendment_id, o.entity_code, o.user_id, o.reason, o.at \
                 FROM amendment_objections o JOIN amendments a ON a.id = o.amendment_id \
                 WHERE a.draft_id = $1 ORDER BY o.amendment_id, o.at, o.entity_code",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?;
            (sponsors, objections)
        });
        Ok((sponsors, objections))
    }

    /// Adds (`sponsor`) or withdraws an entity's sponsorship of an open
    /// amendment, with its event. [`Error::Conflict`] if the entity already
    /// sponsors it (adding), does not (withdrawing), or objects to it.
    pub async fn set_sponsorship(
        &self,
        draft_id: &str,
        id: i64,
        stand: &AmendmentStand,
        sponsor: bool,
        event: &NewEvent,
    ) -> Result<()> {
        let now = stand.at;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_open_amendment!(tx, draft_id, id);
            let objecting: Option<(String,)> = sqlx::query_as(
                "SELECT entity_code FROM amendment_objections \
                 WHERE amendment_id = $1 AND entity_code = $2",
            )
            .bind(id)
            .bind(&stand.entity_code)
            .fetch_optional(&mut *tx)
            .await?;
            if sponsor && objecting.is_some() {
                return Err(Error::Conflict(format!(
                    "{} objects to amendment {id}",
                    stand.entity_code
                )));
            }
            let changed = if sponsor {
                sqlx::query(
                    "INSERT INTO amendment_sponsors (amendment_id, entity_code, user_id, at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (amendment_id, entity_code) DO NOTHING",
                )
                .bind(id)
                .bind(&stand.entity_code)
                .bind(&stand.user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            } else {
                sqlx::query(
                    "DELETE FROM amendment_sponsors WHERE amendment_id = $1 AND entity_code = $2",
                )
                .bind(id)
                .bind(&stand.entity_code)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            };
            if changed == 0 {
                let does = if sponsor {
                    "already sponsors"
                } else {
                    "does not sponsor"
                };
                return Err(Error::Conflict(format!(
                    "{} {does} amendment {id}",
                    stand.entity_code
                )));
            }
            insert_event!(tx, draft_id, event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records (`Some(reason)` in `stand`) or withdraws (`None`) an entity's
    /// objection to an open amendment, with its event. An objection
    /// replaces the entity's earlier one. [`Error::Conflict`] if the entity
    /// sponsors the amendment, or withdraws an objection it has not made.
    pub async fn set_objection(
        &self,
        draft_id: &str,
        id: i64,
        stand: &AmendmentStand,
        event: &NewEvent,
    ) -> Result<()> {
        let now = stand.at;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_open_amendment!(tx, draft_id, id);
            match &stand.reason {
                Some(reason) => {
                    let sponsoring: Option<(String,)> = sqlx::query_as(
                        "SELECT entity_code FROM amendment_sponsors \
                         WHERE amendment_id = $1 AND entity_code = $2",
                    )
                    .bind(id)
                    .bind(&stand.entity_code)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if sponsoring.is_some() {
                        return Err(Error::Conflict(format!(
                            "{} sponsors amendment {id}",
                            stand.entity_code
                        )));
                    }
                    sqlx::query(
                        "INSERT INTO amendment_objections \
                         (amendment_id, entity_code, user_id, reason, at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (amendment_id, entity_code) \
                         DO UPDATE SET user_id = excluded.user_id, reason = excluded.reason, \
                         at = excluded.at",
                    )
                    .bind(id)
                    .bind(&stand.entity_code)
                    .bind(&stand.user_id)
                    .bind(reason)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    let deleted = sqlx::query(
                        "DELETE FROM amendment_objections \
                         WHERE amendment_id = $1 AND entity_code = $2",
                    )
                    .bind(id)
                    .bind(&stand.entity_code)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if deleted == 0 {
                        return Err(Error::Conflict(format!(
                            "{} does not object to amendment {id}",
                            stand.entity_code
                        )));
                    }
                }
            }
            insert_event!(tx, draft_id, event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Moves an open amendment's anchor (and, if given, its text), with its
    /// event.
    pub async fn reanchor_amendment(
        &self,
        draft_id: &str,
        id: i64,
        anchor: &Anchor,
        text: Option<&str>,
        event: &NewEvent,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_open_amendment!(tx, draft_id, id);
            sqlx::query(
                "UPDATE amendments SET original = $1, start_cursor = $2, end_cursor = $3, \
                 heads = $4, text = COALESCE($5, text), anchored_at = $6 \
                 WHERE id = $7 AND state = 'open'",
            )
            .bind(&anchor.original)
            .bind(&anchor.start_cursor)
            .bind(&anchor.end_cursor)
            .bind(&anchor.heads)
            .bind(text)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            insert_event!(tx, draft_id, event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Decides an open amendment (accepted, rejected, withdrawn) with its
    /// event and, for an acceptance, the change that applies it, all in one
    /// transaction: [`Error::Conflict`] (and nothing written) if it is no
    /// longer open.
    pub async fn decide_amendment_at(&self, d: &Decision, now: i64) -> Result<()> {
        if !matches!(d.state.as_str(), "accepted" | "rejected" | "withdrawn") {
            return Err(Error::Invalid(format!("{:?} is not a decision", d.state)));
        }
        let changes: Vec<NewChange> = d.change.iter().cloned().collect();
        let rows = delivered_rows(&changes);
        let applied = d.change.as_ref().map(|c| hex(&c.hash));
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_open_amendment!(tx, &d.draft_id, d.amendment_id);
            let updated = sqlx::query(
                "UPDATE amendments SET state = $1, decided_at = $2, decided_by = $3, \
                 decision_reason = $4, applied_change = $5 WHERE id = $6 AND state = 'open'",
            )
            .bind(&d.state)
            .bind(now)
            .bind(&d.by)
            .bind(&d.reason)
            .bind(&applied)
            .bind(d.amendment_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(Error::Conflict(format!(
                    "amendment {} is no longer open",
                    d.amendment_id
                )));
            }
            if !rows.is_empty() {
                let inserted = insert_changes!(tx, rows, now);
                record_history!(tx, &batch_history(&changes, inserted), now);
                for c in changes.iter() {
                    if let Some(user) = &c.user_id {
                        sqlx::query(
                            "INSERT INTO actors (actor, user_id, first_seen) \
                             VALUES ($1, $2, $3) ON CONFLICT (actor) DO NOTHING",
                        )
                        .bind(&c.actor)
                        .bind(user)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            insert_event!(tx, &d.draft_id, &d.event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Sets an element's editing mode (`open` or `amendments`) with its
    /// event; false (nothing written) when it already had that mode.
    pub async fn set_element_mode(
        &self,
        draft_id: &str,
        element_id: &str,
        mode: &str,
        event: &NewEvent,
        now: i64,
    ) -> Result<bool> {
        if !matches!(mode, "open" | "amendments") {
            return Err(Error::Invalid(format!("{mode:?} is not an editing mode")));
        }
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let current: Option<(String,)> =
                sqlx::query_as("SELECT mode FROM elements WHERE id = $1 AND draft_id = $2")
                    .bind(element_id)
                    .bind(draft_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match current {
                None => return Err(no_element(element_id, draft_id)),
                Some((current,)) if current == mode => return Ok(false),
                Some(_) => {}
            }
            sqlx::query("UPDATE elements SET mode = $1 WHERE id = $2")
                .bind(mode)
                .bind(element_id)
                .execute(&mut *tx)
                .await?;
            insert_event!(tx, draft_id, event, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// An element document's editing mode (`None`: not an element's).
    pub async fn element_mode(&self, doc_id: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT mode FROM elements WHERE doc_id = $1")
                .bind(doc_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(m,)| m))
    }

    /// Stores a comment with its `comment_added` event (whose data gets the
    /// comment's id as `"comment"`). A reply must answer a thread's first
    /// comment on the same element.
    pub async fn add_comment(
        &self,
        c: &NewComment,
        event: &NewEvent,
        now: i64,
    ) -> Result<CommentRow> {
        let anchor = c.anchor.as_ref();
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let live: Option<(bool,)> =
                sqlx::query_as("SELECT archived FROM elements WHERE id = $1 AND draft_id = $2")
                    .bind(&c.element_id)
                    .bind(&c.draft_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if live.is_none() {
                return Err(no_element(&c.element_id, &c.draft_id));
            }
            if let Some(parent) = c.reply_to {
                let found: Option<(String, Option<i64>)> = sqlx::query_as(
                    "SELECT element_id, reply_to FROM comments WHERE id = $1 AND draft_id = $2",
                )
                .bind(parent)
                .bind(&c.draft_id)
                .fetch_optional(&mut *tx)
                .await?;
                match found {
                    None => {
                        return Err(Error::NotFound(format!(
                            "no comment {parent} in draft {:?}",
                            c.draft_id
                        )));
                    }
                    Some((element, reply_to)) if element != c.element_id || reply_to.is_some() => {
                        return Err(Error::Invalid(format!(
                            "comment {parent} does not start a thread on this element"
                        )));
                    }
                    Some(_) => {}
                }
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO comments (draft_id, element_id, user_id, entity_code, text, \
                 reply_to, original, start_cursor, end_cursor, heads, mentions, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(&c.draft_id)
            .bind(&c.element_id)
            .bind(&c.user_id)
            .bind(&c.entity_code)
            .bind(&c.text)
            .bind(c.reply_to)
            .bind(anchor.map(|a| &a.original))
            .bind(anchor.map(|a| &a.start_cursor))
            .bind(anchor.map(|a| &a.end_cursor))
            .bind(anchor.map(|a| &a.heads))
            .bind(&c.mentions)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let event = with_id(event, "comment", id);
            insert_event!(tx, &c.draft_id, &event, now);
            tx.commit().await?;
            id
        });
        self.comment(&c.draft_id, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no comment {id}")))
    }

    /// One comment of a draft.
    pub async fn comment(&self, draft_id: &str, id: i64) -> Result<Option<CommentRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                comment_columns!(),
                " FROM comments WHERE id = $1 AND draft_id = $2"
            ))
            .bind(id)
            .bind(draft_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// A draft's comments, oldest first.
    pub async fn comments(&self, draft_id: &str) -> Result<Vec<CommentRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                comment_columns!(),
                " FROM comments WHERE draft_id = $1 ORDER BY id"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Resolves a thread (its first comment), with its event.
    /// [`Error::Conflict`] if it is resolved already or is a reply.
    pub async fn resolve_comment(
        &self,
        draft_id: &str,
        id: i64,
        by: &str,
        event: &NewEvent,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let found: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
                "SELECT reply_to, resolved_at FROM comments WHERE id = $1 AND draft_id = $2",
            )
            .bind(id)
            .bind(draft_id)
            .fetch_optional(&mut *tx)
            .await?;
            match found {
                None => {
                    return Err(Error::NotFound(format!(
                        "no comment {id} in draft {draft_id:?}"
                    )));
                }
                Some((Some(_), _)) => {
                    return Err(Error::Conflict(format!(
                        "comment {id} is a reply: resolve its thread"
                    )));
                }
                Some((None, Some(_))) => {
                    return Err(Error::Conflict(format!("comment {id} is resolved already")));
                }
                Some((None, None)) => {}
            }
            sqlx::query(
                "UPDATE comments SET resolved_at = $1, resolved_by = $2 \
                 WHERE id = $3 AND resolved_at IS NULL",
            )
            .bind(now)
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            insert_event!(tx, draft_id, event, now);
            tx.commit().await?;
        });
        Ok(())
    }
}

/// `event` with `"key": id` first in its JSON object data.
fn with_id(event: &NewEvent, key: &str, id: i64) -> NewEvent {
    NewEvent {
        data: json_prepend_members(&format!("{}:{id}", json_string(key)), &event.data),
        ..event.clone()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
