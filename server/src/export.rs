//! Exports of a draft at any version: `GET /api/v1/drafts/{id}/export` and
//! `accord export`, rendered by `accord-export` from the texts at that
//! version and the ledger as it stood then.

use std::collections::HashMap;

use accord_export::{ElementSnapshot, Position, Snapshot};
use accord_protocol::DocumentId;
use accord_store::{DraftRow, Store};
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::AppState;
use crate::auth::Auth;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;
use crate::history::{
    ConsensusAt, ElementAt, Reader, Version, VersionQuery, read_draft, resolve_in,
};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    AkomaNtoso,
}

impl Format {
    /// The names a format goes by, and the format each names.
    pub const NAMES: [(&'static str, Format); 5] = [
        ("md", Format::Markdown),
        ("markdown", Format::Markdown),
        ("html", Format::Html),
        ("akn", Format::AkomaNtoso),
        ("xml", Format::AkomaNtoso),
    ];

    pub fn parse(s: &str) -> Option<Format> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, format)| *format)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::AkomaNtoso => "application/akn+xml; charset=utf-8",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::AkomaNtoso => "xml",
        }
    }

    pub fn render(self, snapshot: &Snapshot) -> String {
        match self {
            Format::Markdown => accord_export::markdown(snapshot),
            Format::Html => accord_export::html(snapshot),
            Format::AkomaNtoso => accord_export::akoma_ntoso(snapshot),
        }
    }
}

/// A format as a parameter names it: one of [`Format::NAMES`].
impl PartialSchema for Format {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Format::NAMES.map(|(name, _)| name)))
            .into()
    }
}

impl ToSchema for Format {}

/// The draft at `version` as an export snapshot: texts at that version,
/// statuses and positions as the ledger stood then.
pub async fn snapshot(
    reader: &Reader<'_>,
    store: &Store,
    draft: &DraftRow,
    version: &Version,
) -> Result<Snapshot, ApiError> {
    let (index, elements) = read_draft(reader, draft, version).await?;
    let then = ConsensusAt::load(store, draft, version.at).await?;
    let snapshot_elements = elements
        .iter()
        .map(|element: &ElementAt| {
            let hash = accord_model::text_hash(&element.text);
            ElementSnapshot {
                id: element.id.clone(),
                label: element.label.clone(),
                text: element.text.clone(),
                status: then.summary(element).status.as_str().to_owned(),
                positions: then
                    .ledger
                    .iter()
                    .filter(|p| p.element_id == element.id)
                    .map(|p| Position {
                        entity: p.entity.clone(),
                        stance: p.stance.as_str().to_owned(),
                        note: p.note.clone(),
                        wording: p.wording.clone(),
                        at: p.at,
                        by_silence: p.by_silence,
                        current: p.text_hash == hash,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(Snapshot {
        draft_id: draft.id.clone(),
        title: index.title,
        preamble: index.preamble,
        version_label: version.label.clone(),
        at: version.at,
        elements: snapshot_elements,
        entities: then.participants,
    })
}

/// The format and the version of an export (the version as in [`VersionQuery`]).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `md` (or `markdown`), `html`, or `akn` (or `xml`). Missing: 400 `bad_request`; anything else: 400 `invalid`.
    #[param(value_type = Format, inline, example = "md")]
    pub format: String,
    /// A named version, by its name (404 `not_found` when the draft has none by that name). Name at most one of `version`, `at` and `heads` (400 `invalid` otherwise); none means the current version.
    pub version: Option<String>,
    /// A UTC time with a `Z`, e.g. 2026-05-01T12:00:00Z (400 `invalid` otherwise): every document as committed by then, the ledger as it stood then.
    #[param(format = DateTime)]
    pub at: Option<String>,
    /// A JSON object: document id → list of hex change hashes, e.g. `{"3xK…": ["9f2c…"]}` (the `heads` of a named version). A document it leaves out is read at its first changes. The ledger is read as of now.
    pub heads: Option<String>,
}

/// A draft rendered for `GET /api/v1/drafts/{id}/export`.
pub struct Rendered {
    pub format: Format,
    pub filename: String,
    pub body: String,
}

/// The draft `id` as `user` may read it, at the version `q` names, in the
/// format it asks for.
pub async fn render(
    app: &AppState,
    auth: &Auth,
    id: &str,
    q: ExportQuery,
) -> Result<Rendered, ApiError> {
    let format = Format::parse(&q.format)
        .ok_or_else(|| ApiError::bad_request("invalid", "format is md, html or akn"))?;
    let draft = visible_draft(app, &auth.user, id).await?;
    let version = resolve_in(
        &app.store,
        app.consensus.clock.now(),
        &draft,
        &VersionQuery {
            version: q.version,
            at: q.at,
            heads: q.heads,
        },
    )
    .await?;
    let snapshot = snapshot(&Reader::Live(app), &app.store, &draft, &version).await?;
    Ok(Rendered {
        format,
        filename: format!("accord-{}.{}", draft.id, format.extension()),
        body: format.render(&snapshot),
    })
}

/// `accord export`: the same from storage, without a server.
pub async fn export_offline(
    store: &Store,
    draft: &DraftRow,
    format: Format,
    version_name: Option<String>,
) -> anyhow::Result<String> {
    let mut docs = HashMap::new();
    let mut ids = vec![draft.index_doc.clone()];
    ids.extend(
        store
            .all_elements(&draft.id)
            .await?
            .into_iter()
            .map(|e| e.doc_id),
    );
    for id in ids {
        let id: DocumentId = id.parse()?;
        let doc = crate::documents::load_stored(store, id).await?;
        docs.insert(id, doc);
    }
    let version = resolve_in(
        store,
        crate::clock::now_ms(),
        draft,
        &VersionQuery {
            version: version_name,
            ..VersionQuery::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.message))?;
    let snapshot = snapshot(&Reader::Stored(&docs), store, draft, &version)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(format.render(&snapshot))
}
