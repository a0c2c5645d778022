//! Drafts, their participating entities and their documents.

use sqlx::QueryBuilder;

use crate::changes::{ChangeRow, InsertedChange};
use crate::{BeginWrite, CHANGES_PER_INSERT, Error, NewChangeData, Result, Store, now_ms};

/// A participating delegation/organisation, e.g. `("EU", "European Union")`.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Entity {
    pub code: String,
    pub name: String,
}

/// A negotiated draft.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DraftRow {
    pub id: String,
    pub title: String,
    pub preamble: String,
    /// The draft's index Automerge document (element order, labels...).
    pub index_doc: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When the chair adopted the whole draft (unix ms), see [`Store::adopt_draft`].
    pub adopted_at: Option<i64>,
    /// Who adopted the draft.
    pub adopted_by: Option<String>,
}

/// What an Automerge document is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// The draft's index document.
    Index,
    /// One element's text.
    Element,
}

impl DocKind {
    /// The value stored in `documents.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Index => "index",
            DocKind::Element => "element",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "index" => Ok(DocKind::Index),
            "element" => Ok(DocKind::Element),
            other => Err(Error::Database(sqlx::Error::Decode(
                format!("unknown document kind {other:?}").into(),
            ))),
        }
    }
}

/// An Automerge document the server created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRow {
    /// automerge-repo DocumentId (bs58check).
    pub id: String,
    pub draft_id: String,
    pub kind: DocKind,
}

/// A document to create, with the server-made changes that initialise it.
#[derive(Clone, Debug)]
pub struct NewDocument {
    pub id: String,
    pub kind: DocKind,
    pub changes: Vec<NewChangeData>,
}

/// A draft to create, with its index document, elements and participants.
#[derive(Clone, Debug)]
pub struct NewDraft {
    pub id: String,
    pub title: String,
    pub preamble: String,
    /// Must have `kind == DocKind::Index`.
    pub index: NewDocument,
    /// In draft order; an element's position is its index here.
    pub elements: Vec<NewElement>,
    /// Participating entities (must already exist, see [`Store::upsert_entities`]).
    pub entity_codes: Vec<String>,
}

/// An element to create with its document.
#[derive(Clone, Debug)]
pub struct NewElement {
    pub id: String,
    pub label: String,
    /// Must have `kind == DocKind::Element`.
    pub doc: NewDocument,
}

impl Store {
    /// Inserts or updates `entities`; their order here becomes their position.
    pub async fn upsert_entities(&self, entities: &[Entity]) -> Result<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            for (position, e) in (0_i64..).zip(entities) {
                sqlx::query(
                    "INSERT INTO entities (code, name, position) VALUES ($1, $2, $3) \
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                     position = excluded.position",
                )
                .bind(&e.code)
                .bind(&e.name)
                .bind(position)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every entity, by position.
    pub async fn entities(&self) -> Result<Vec<Entity>> {
        let rows: Vec<Entity> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT code, name FROM entities ORDER BY position, code")
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Creates a draft in one transaction: the draft, its participating
    /// entities, its index and element documents, its elements (position =
    /// index in `draft.elements`) and each document's initial changes.
    pub async fn create_draft(&self, draft: &NewDraft) -> Result<()> {
        let now = now_ms();
        let docs: Vec<&NewDocument> = std::iter::once(&draft.index)
            .chain(draft.elements.iter().map(|e| &e.doc))
            .collect();
        let changes: Vec<ChangeRow<'_>> = docs
            .iter()
            .flat_map(|d| d.changes.iter().map(|c| ChangeRow::initial(&d.id, c)))
            .collect();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO drafts (id, title, preamble, index_doc, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&draft.id)
            .bind(&draft.title)
            .bind(&draft.preamble)
            .bind(&draft.index.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for code in &draft.entity_codes {
                sqlx::query("INSERT INTO draft_entities (draft_id, entity_code) VALUES ($1, $2)")
                    .bind(&draft.id)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
            }
            for doc in &docs {
                sqlx::query(
                    "INSERT INTO documents (id, draft_id, kind, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&doc.id)
                .bind(&draft.id)
                .bind(doc.kind.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for (position, el) in (0_i64..).zip(&draft.elements) {
                sqlx::query(
                    "INSERT INTO elements (id, draft_id, position, label, doc_id) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&el.id)
                .bind(&draft.id)
                .bind(position)
                .bind(&el.label)
                .bind(&el.doc.id)
                .execute(&mut *tx)
                .await?;
            }
            insert_changes!(tx, changes, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every draft, oldest first.
    pub async fn drafts(&self) -> Result<Vec<DraftRow>> {
        let rows: Vec<DraftRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, title, preamble, index_doc, created_at, adopted_at, adopted_by \
                 FROM drafts ORDER BY created_at, id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// One draft.
    pub async fn draft(&self, id: &str) -> Result<Option<DraftRow>> {
        let row: Option<DraftRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, title, preamble, index_doc, created_at, adopted_at, adopted_by \
                 FROM drafts WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// The entities participating in a draft, by entity position.
    pub async fn draft_entities(&self, draft_id: &str) -> Result<Vec<Entity>> {
        let rows: Vec<Entity> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT e.code, e.name FROM draft_entities de \
                 JOIN entities e ON e.code = de.entity_code \
                 WHERE de.draft_id = $1 ORDER BY e.position, e.code",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// One document the server created, `None` if unknown.
    pub async fn document(&self, id: &str) -> Result<Option<DocumentRow>> {
        let row: Option<(String, String, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT id, draft_id, kind FROM documents WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(id, draft_id, kind)| {
            Ok(DocumentRow {
                id,
                draft_id,
                kind: DocKind::parse(&kind)?,
            })
        })
        .transpose()
    }
}
