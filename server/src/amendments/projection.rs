//! Amendments, comments and editing modes written into the draft's index
//! document, so every client sees them live: `amendments` (per element,
//! the open ones with their anchors: clients locate them in their own copy
//! of the text), `comments` (per element, the threads) and `modes` (per
//! element). Written with `reconcile_json` (only what differs) after every
//! command, under the draft's lock, and at start.

use std::collections::BTreeMap;

use accord_protocol::DocumentId;
use accord_store::AmendmentStand;
use serde_json::{Value, json};

use crate::AppState;
use crate::documents::{Companion, WriteError};
use crate::error::ApiError;

/// Writes the draft's amendments, comments and modes into its index
/// document (no change when nothing differs).
pub async fn project(app: &AppState, draft_id: &str) -> Result<(), ApiError> {
    let Some(draft) = app.store.draft(draft_id).await? else {
        return Ok(());
    };
    let names = super::views::names(app).await?;
    let name = |id: &str| names.get(id).cloned();
    let elements = app.store.elements(&draft.id).await?;
    let (sponsors, objections) = app.store.amendment_stands(&draft.id).await?;
    let of = |all: &[AmendmentStand], id: i64| -> Vec<Value> {
        all.iter()
            .filter(|s| s.amendment_id == id)
            .map(|s| match &s.reason {
                Some(reason) => json!({"entity": s.entity_code, "reason": reason}),
                None => json!(s.entity_code),
            })
            .collect()
    };
    let mut amendments: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for a in app.store.amendments(&draft.id).await? {
        if a.state != "open" {
            continue;
        }
        amendments
            .entry(a.element_id.clone())
            .or_default()
            .push(json!({
                "id": a.id,
                "entity": a.entity_code,
                "user_name": name(&a.user_id),
                "original": a.original,
                "text": a.text,
                "reason": a.reason,
                "start": a.start_cursor,
                "end": a.end_cursor,
                "sponsors": of(&sponsors, a.id),
                "objections": of(&objections, a.id),
                "created_at": a.created_at,
            }));
    }
    let mut comments: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let rows = app.store.comments(&draft.id).await?;
    for c in rows.iter().filter(|c| c.reply_to.is_none()) {
        let replies: Vec<Value> = rows
            .iter()
            .filter(|r| r.reply_to == Some(c.id))
            .map(|r| {
                json!({
                    "id": r.id,
                    "user_name": name(&r.user_id),
                    "entity": r.entity_code,
                    "text": r.text,
                    "created_at": r.created_at,
                })
            })
            .collect();
        comments
            .entry(c.element_id.clone())
            .or_default()
            .push(json!({
                "id": c.id,
                "user": c.user_id,
                "user_name": name(&c.user_id),
                "entity": c.entity_code,
                "text": c.text,
                "original": c.original,
                "start": c.start_cursor,
                "end": c.end_cursor,
                "created_at": c.created_at,
                "resolved": c.resolved_at.is_some(),
                "replies": replies,
            }));
    }
    let modes: BTreeMap<String, String> = elements
        .iter()
        .map(|e| (e.id.clone(), e.mode.clone()))
        .collect();
    let value = json!({
        "amendments": amendments,
        "comments": comments,
        "modes": modes,
    });
    let index: DocumentId = draft.index_doc.parse().map_err(ApiError::internal)?;
    let result = app
        .docs
        .write(
            index,
            Box::new(move |tx| {
                for key in ["amendments", "comments", "modes"] {
                    accord_model::reconcile_json(tx, &automerge::ROOT, key, &value[key])
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }),
            Companion::Alone,
        )
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(WriteError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::internal(e)),
    }
}
