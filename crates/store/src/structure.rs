//! A draft's elements and the server-applied edits of its structure.

use std::collections::HashSet;

use sqlx::QueryBuilder;

use crate::changes::{ChangeRow, DocBatch, InsertedChange, batch_history, delivered_rows};
use crate::{
    BeginWrite, CHANGES_PER_INSERT, Error, NewChange, NewElement, NewEvent, REVISION_GAP_MS,
    Result, Store, conflict_if_unique, no_element,
};

/// One element (paragraph) of a draft, backed by its own Automerge document.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ElementRow {
    pub id: String,
    pub draft_id: String,
    /// Order within the draft.
    pub position: i64,
    pub label: String,
    /// The element's Automerge document.
    pub doc_id: String,
    /// Archived elements are kept (history) but no longer listed.
    pub archived: bool,
    /// Who may type into it: `open` (everyone who edits) or `amendments`
    /// (chairs; delegates propose amendments).
    pub mode: String,
}

/// A server-applied change to a draft's structure, see [`Store::apply_structure_at`].
#[derive(Clone, Debug, Default)]
pub struct StructureEdit {
    /// The draft edited.
    pub draft_id: String,
    /// The server's change to the index document (stored like any change,
    /// with the ordering user's attribution). Must be changes of documents
    /// of this draft. Their actor (the server's) is not claimed here. Their
    /// `heads_after` is recorded like [`Store::commit_at`] does (a
    /// `doc_heads` row at the edit's commit time), and so are revisions
    /// should they be of element documents.
    pub index_changes: Vec<NewChange>,
    /// New title, if changed.
    pub title: Option<String>,
    /// New preamble, if changed.
    pub preamble: Option<String>,
    /// New elements with their documents (inserted as documents + initial
    /// changes + element rows, like [`Store::create_draft`] does). Without
    /// `order` they are appended after every existing element.
    pub new_elements: Vec<NewElement>,
    /// `(element id, new label)`.
    pub labels: Vec<(String, String)>,
    /// `(element id, archived?)`.
    pub archived: Vec<(String, bool)>,
    /// When `Some`: the complete order of the draft's NON-archived elements
    /// after the edit; positions are rewritten `0..n` in this order (archived
    /// elements keep their position value but are not listed).
    pub order: Option<Vec<String>>,
    /// Timeline entries recorded with the edit (at its commit time).
    pub events: Vec<NewEvent>,
}

impl Store {
    /// The draft's non-archived elements, by position.
    pub async fn elements(&self, draft_id: &str) -> Result<Vec<ElementRow>> {
        let rows: Vec<ElementRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, draft_id, position, label, doc_id, archived, mode FROM elements \
                 WHERE draft_id = $1 AND NOT archived ORDER BY position, id",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Every element of the draft including archived ones (ordered by
    /// archived, position).
    pub async fn all_elements(&self, draft_id: &str) -> Result<Vec<ElementRow>> {
        let rows: Vec<ElementRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, draft_id, position, label, doc_id, archived, mode FROM elements \
                 WHERE draft_id = $1 ORDER BY archived, position, id",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Applies a structure edit in one transaction (in this order: title and
    /// preamble, new elements, labels, archiving, order, index changes,
    /// events) and returns its commit time (unix ms, also the events' `at`).
    /// [`Error::NotFound`] if the draft, a named element (of that draft) or
    /// an index change's document does not exist; [`Error::Invalid`] if
    /// `order` repeats, omits or names an archived element, or an index
    /// change is for another draft's document. Nothing is written on error.
    ///
    /// Stamped `now` (the server's clock, which tests can move), like
    /// [`Store::commit_at`].
    pub async fn apply_structure_at(&self, edit: &StructureEdit, now: i64) -> Result<i64> {
        let draft_id = edit.draft_id.as_str();
        if let Some(order) = &edit.order {
            let mut listed = HashSet::with_capacity(order.len());
            if let Some(dup) = order.iter().find(|id| !listed.insert(id.as_str())) {
                return Err(Error::Invalid(format!(
                    "the order lists element {dup:?} twice"
                )));
            }
        }
        let index_rows = delivered_rows(&edit.index_changes);
        let index_docs: HashSet<&str> = index_rows.iter().map(|r| r.doc_id).collect();
        let initial_rows: Vec<ChangeRow<'_>> = edit
            .new_elements
            .iter()
            .flat_map(|el| {
                el.doc
                    .changes
                    .iter()
                    .map(|c| ChangeRow::initial(&el.doc.id, c))
            })
            .collect();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_draft!(tx, draft_id);
            if edit.title.is_some() || edit.preamble.is_some() {
                sqlx::query(
                    "UPDATE drafts SET title = COALESCE($1, title), \
                     preamble = COALESCE($2, preamble) WHERE id = $3",
                )
                .bind(&edit.title)
                .bind(&edit.preamble)
                .bind(draft_id)
                .execute(&mut *tx)
                .await?;
            }
            if !edit.new_elements.is_empty() {
                let (last,): (i64,) = sqlx::query_as(
                    "SELECT COALESCE(MAX(position), -1) FROM elements WHERE draft_id = $1",
                )
                .bind(draft_id)
                .fetch_one(&mut *tx)
                .await?;
                for (position, el) in (last + 1..).zip(&edit.new_elements) {
                    sqlx::query(
                        "INSERT INTO documents (id, draft_id, kind, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&el.doc.id)
                    .bind(draft_id)
                    .bind(el.doc.kind.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        conflict_if_unique(e, || format!("a document {:?} exists", el.doc.id))
                    })?;
                    sqlx::query(
                        "INSERT INTO elements (id, draft_id, position, label, doc_id) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&el.id)
                    .bind(draft_id)
                    .bind(position)
                    .bind(&el.label)
                    .bind(&el.doc.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        conflict_if_unique(e, || format!("an element {:?} exists", el.id))
                    })?;
                }
                insert_changes!(tx, initial_rows, now);
            }
            for (id, label) in &edit.labels {
                let updated =
                    sqlx::query("UPDATE elements SET label = $1 WHERE id = $2 AND draft_id = $3")
                        .bind(label)
                        .bind(id)
                        .bind(draft_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if updated == 0 {
                    return Err(no_element(id, draft_id));
                }
            }
            for (id, archived) in &edit.archived {
                let updated = sqlx::query(
                    "UPDATE elements SET archived = $1 WHERE id = $2 AND draft_id = $3",
                )
                .bind(archived)
                .bind(id)
                .bind(draft_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Err(no_element(id, draft_id));
                }
            }
            if let Some(order) = &edit.order {
                let rows: Vec<(String, bool)> =
                    sqlx::query_as("SELECT id, archived FROM elements WHERE draft_id = $1")
                        .bind(draft_id)
                        .fetch_all(&mut *tx)
                        .await?;
                let archived: std::collections::HashMap<&str, bool> =
                    rows.iter().map(|(id, a)| (id.as_str(), *a)).collect();
                for id in order {
                    match archived.get(id.as_str()) {
                        None => return Err(no_element(id, draft_id)),
                        Some(true) => {
                            return Err(Error::Invalid(format!(
                                "element {id:?} is archived: the order lists only \
                                 non-archived elements"
                            )));
                        }
                        Some(false) => {}
                    }
                }
                let listed: HashSet<&str> = order.iter().map(String::as_str).collect();
                if let Some((missing, _)) = rows
                    .iter()
                    .find(|(id, archived)| !archived && !listed.contains(id.as_str()))
                {
                    return Err(Error::Invalid(format!(
                        "the order omits element {missing:?}"
                    )));
                }
                for (position, id) in (0_i64..).zip(order) {
                    sqlx::query(
                        "UPDATE elements SET position = $1 WHERE id = $2 AND draft_id = $3",
                    )
                    .bind(position)
                    .bind(id)
                    .bind(draft_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for doc_id in &index_docs {
                let owner: Option<(String,)> =
                    sqlx::query_as("SELECT draft_id FROM documents WHERE id = $1")
                        .bind(*doc_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match owner {
                    None => return Err(Error::NotFound(format!("no document {doc_id:?}"))),
                    Some((owner,)) if owner != draft_id => {
                        return Err(Error::Invalid(format!(
                            "document {doc_id:?} is not part of draft {draft_id:?}"
                        )));
                    }
                    Some(_) => {}
                }
            }
            let inserted = insert_changes!(tx, index_rows, now);
            record_history!(tx, &batch_history(&edit.index_changes, inserted), now);
            for event in &edit.events {
                insert_event!(tx, draft_id, event, now);
            }
            tx.commit().await?;
        });
        Ok(now)
    }
}
