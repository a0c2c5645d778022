//! Exports of a draft at any version: `GET /api/v1/drafts/{id}/export` and
//! `accord export`, rendered by `accord-export` from the texts at that
//! version, the ledger as it stood then and the amendments pending then
//! (located by their anchors in the very text exported). The offline export (`accord export`,
//! without a server) carries no amendments: locating them needs the live
//! documents' cursors, so its compilation text is the plain text.

use std::collections::HashMap;

use accord_export::{ElementSnapshot, PendingAmendment, Position, Snapshot};
use accord_protocol::DocumentId;
use accord_store::{DraftRow, Store};
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::AppState;
use crate::amendments::anchor::{self, Located};
use crate::amendments::{Amendment, pending_at};
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
    /// The compilation text: each element with its pending amendments
    /// marked in it (CriticMarkup), then their list.
    CompilationMarkdown,
    /// The same as a printable HTML page.
    CompilationHtml,
}

impl Format {
    /// The names a format goes by, and the format each names.
    pub const NAMES: [(&'static str, Format); 7] = [
        ("md", Format::Markdown),
        ("markdown", Format::Markdown),
        ("html", Format::Html),
        ("akn", Format::AkomaNtoso),
        ("xml", Format::AkomaNtoso),
        ("compilation-md", Format::CompilationMarkdown),
        ("compilation-html", Format::CompilationHtml),
    ];

    pub fn parse(s: &str) -> Option<Format> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, format)| *format)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown | Format::CompilationMarkdown => "text/markdown; charset=utf-8",
            Format::Html | Format::CompilationHtml => "text/html; charset=utf-8",
            Format::AkomaNtoso => "application/akn+xml; charset=utf-8",
        }
    }

    /// What the file name ends with after the draft's id.
    fn suffix(self) -> &'static str {
        match self {
            Format::Markdown => ".md",
            Format::Html => ".html",
            Format::AkomaNtoso => ".xml",
            Format::CompilationMarkdown => "-compilation.md",
            Format::CompilationHtml => "-compilation.html",
        }
    }

    /// A page served with the HTML export's content policy (its style).
    pub fn is_html(self) -> bool {
        matches!(self, Format::Html | Format::CompilationHtml)
    }

    pub fn render(self, snapshot: &Snapshot) -> String {
        match self {
            Format::Markdown => accord_export::markdown(snapshot),
            Format::Html => accord_export::html(snapshot),
            Format::AkomaNtoso => accord_export::akoma_ntoso(snapshot),
            Format::CompilationMarkdown => accord_export::compilation_markdown(snapshot),
            Format::CompilationHtml => accord_export::compilation_html(snapshot),
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

/// The amendments of `element` among `amendments` (those pending at the
/// version), oldest first, each located again in the very text the export
/// shows (the element at the version's heads) by its anchors: so its range
/// is one of that text, and it is in conflict when its passage there no
/// longer reads as anchored (or cannot be found: then it is listed only).
async fn located(
    reader: &Reader<'_>,
    element: &ElementAt,
    amendments: &[Amendment],
) -> Result<Vec<PendingAmendment>, ApiError> {
    let mut mine: Vec<&Amendment> = amendments
        .iter()
        .filter(|a| a.element_id == element.id)
        .collect();
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    mine.sort_by_key(|a| (a.created_at.clone(), a.id));
    let anchors: Vec<(String, String, String)> = mine
        .iter()
        .map(|a| {
            (
                a.anchored_original.clone(),
                a.start_cursor.clone(),
                a.end_cursor.clone(),
            )
        })
        .collect();
    let heads = element.heads.clone();
    let found = reader
        .inspect(element.doc, move |d| {
            anchors
                .iter()
                .map(|(original, start, end)| anchor::locate(d, Some(&heads), original, start, end))
                .collect::<Vec<_>>()
        })
        .await?
        .unwrap_or_default();
    let found = found.into_iter().chain(std::iter::repeat(None));
    Ok(mine
        .into_iter()
        .zip(found)
        .map(|(a, at)| pending(a, at))
        .collect())
}

/// A pending amendment as the exports take it, where `at` found it.
fn pending(a: &Amendment, at: Option<Located>) -> PendingAmendment {
    let (from, to, original, conflict) = match at {
        Some(l) => (Some(l.from), Some(l.to), l.current, !l.intact),
        None => (None, None, a.anchored_original.clone(), true),
    };
    PendingAmendment {
        id: a.id,
        entity: a.entity.clone(),
        sponsors: a.sponsors.clone(),
        from,
        to,
        original,
        text: a.text.clone(),
        reason: a.reason.clone(),
        conflict,
    }
}

/// The draft at `version` as an export snapshot: texts at that version,
/// statuses and positions as the ledger stood then, and `amendments` (those
/// pending then, any order) on their elements, oldest first.
pub async fn snapshot(
    reader: &Reader<'_>,
    store: &Store,
    draft: &DraftRow,
    version: &Version,
    amendments: &[Amendment],
) -> Result<Snapshot, ApiError> {
    let (index, elements) = read_draft(reader, draft, version).await?;
    let then = ConsensusAt::load(store, draft, version.at).await?;
    let mut snapshot_elements = Vec::with_capacity(elements.len());
    for element in &elements {
        let hash = accord_model::text_hash(&element.text);
        snapshot_elements.push(ElementSnapshot {
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
            amendments: located(reader, element, amendments).await?,
        });
    }
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
    /// `md` (or `markdown`), `html`, `akn` (or `xml`), or the compilation text: `compilation-md` (Markdown, pending amendments in CriticMarkup) or `compilation-html`. Missing: 400 `bad_request`; anything else: 400 `invalid`.
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
    let format = Format::parse(&q.format).ok_or_else(|| {
        ApiError::bad_request(
            "invalid",
            "format is md, html, akn, compilation-md or compilation-html",
        )
    })?;
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
    // The amendments pending at the version's time (for the current
    // version: now); `snapshot` locates them in the text it reads.
    let at = version.heads.as_ref().map(|_| version.at);
    let amendments = pending_at(app, &draft, at).await?;
    let snapshot = snapshot(
        &Reader::Live(app),
        &app.store,
        &draft,
        &version,
        &amendments,
    )
    .await?;
    Ok(Rendered {
        format,
        filename: format!("accord-{}{}", draft.id, format.suffix()),
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
    let snapshot = snapshot(&Reader::Stored(&docs), store, draft, &version, &[])
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(format.render(&snapshot))
}
