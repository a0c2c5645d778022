//! The JSON API under `/api/v1`, and the operational endpoints.

use std::sync::atomic::Ordering;

use accord_protocol::DocumentId;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Serialize)]
pub struct DraftView {
    pub id: String,
    pub title: String,
    pub preamble: String,
    pub index_url: String,
    pub elements: Vec<ElementView>,
}

#[derive(Debug, Serialize)]
pub struct ElementView {
    pub id: String,
    pub label: String,
    pub doc_url: String,
    pub text: String,
    /// The element document's heads, as lowercase hex change hashes.
    pub heads: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct EntityView {
    pub code: String,
    pub name: String,
}

pub async fn drafts(State(app): State<AppState>) -> Result<Json<Vec<DraftView>>, ApiError> {
    let mut out = Vec::new();
    for row in app.store.drafts().await? {
        out.push(draft_view(&app, row).await?);
    }
    Ok(Json(out))
}

pub async fn draft(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DraftView>, ApiError> {
    let row = app
        .store
        .draft(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("the draft"))?;
    Ok(Json(draft_view(&app, row).await?))
}

async fn draft_view(app: &AppState, row: accord_store::DraftRow) -> Result<DraftView, ApiError> {
    let mut elements = Vec::new();
    for element in app.store.elements(&row.id).await? {
        let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
        let view = app
            .docs
            .read(doc)
            .await?
            .ok_or_else(|| ApiError::internal(format!("element document {doc} is missing")))?;
        elements.push(ElementView {
            id: element.id,
            label: element.label,
            doc_url: doc.url(),
            text: view.text.unwrap_or_default(),
            heads: accord_model::heads_hex(&view.heads),
        });
    }
    let index: DocumentId = row.index_doc.parse().map_err(ApiError::internal)?;
    Ok(DraftView {
        id: row.id,
        title: row.title,
        preamble: row.preamble,
        index_url: index.url(),
        elements,
    })
}

pub async fn entities(State(app): State<AppState>) -> Result<Json<Vec<EntityView>>, ApiError> {
    let entities = app.store.entities().await?;
    Ok(Json(
        entities
            .into_iter()
            .map(|e| EntityView {
                code: e.code,
                name: e.name,
            })
            .collect(),
    ))
}

pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when storage commits: the last commit succeeded and a probe write works.
pub async fn readyz(State(app): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    if app.shutdown.is_cancelled() {
        return Err(ApiError::unavailable("shutting down"));
    }
    if !app.storage_ok.load(Ordering::Relaxed) {
        return Err(ApiError::unavailable(
            "the last commit to storage failed; waiting for a successful one",
        ));
    }
    if let Err(e) = app.store.check_health().await {
        tracing::warn!(error = %e, "storage probe failed");
        return Err(ApiError::unavailable("storage does not accept writes"));
    }
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "status": "ready" })),
    ))
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("this API path")
}
