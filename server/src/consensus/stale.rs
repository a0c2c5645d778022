//! Positions going stale: when an element's text changes under positions
//! given on the old text, a `positions_stale` event says whose, by whom and
//! from which text to which, for the timeline.

use std::collections::HashMap;

use accord_store::HistoryFilter;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// An element's text changed (the consensus projector saw it): records a
/// `positions_stale` event if that made current positions stale (see
/// [`record_positions_stale`]); a failure is logged, the projection goes on.
pub(crate) async fn positions_stale(
    app: &AppState,
    draft_id: &str,
    element_id: &str,
    changed: &crate::documents::TextChanged,
    old_hash: Option<&str>,
) {
    let doc = changed.doc.to_string();
    let recorded = record_positions_stale(
        app,
        draft_id,
        element_id,
        &doc,
        old_hash,
        &changed.text_hash,
    );
    if let Err(e) = recorded.await {
        tracing::warn!(element = %element_id, error = e.message, "recording stale positions failed");
    }
}

/// When an element's text changed from `old_hash` to `new_hash` while some
/// entities' latest positions on it were given on the old text, those
/// positions are now stale: records a `positions_stale` event on the
/// element, by the author of its latest edit, with data `{"stale": [entity
/// codes, in the draft's order], "revision": id or null, "text_hash": new,
/// "previous_text_hash": old}`. Nothing when no current position went
/// stale.
///
/// `old_hash` is `None` for the first change the projector sees of a
/// document since the server started: the text before it is then taken to
/// be the one the latest position on the element was given on, unless a
/// `positions_stale` event since that position already told of it.
pub(crate) async fn record_positions_stale(
    app: &AppState,
    draft_id: &str,
    element_id: &str,
    doc_id: &str,
    old_hash: Option<&str>,
    new_hash: &str,
) -> Result<(), ApiError> {
    // Each entity's latest position on the element (the ledger is in seq
    // order), and the latest of all.
    let mut latest: HashMap<String, String> = HashMap::new();
    let mut last: Option<(String, i64)> = None;
    for p in app.store.positions(draft_id).await? {
        if p.element_id == element_id {
            last = Some((p.text_hash.clone(), p.at));
            latest.insert(p.entity_code, p.text_hash);
        }
    }
    let old_hash = match (old_hash, &last) {
        (Some(old), _) => old.to_owned(),
        (None, None) => return Ok(()),
        (None, Some((hash, at))) => {
            let filter = HistoryFilter {
                element_id: Some(element_id.to_owned()),
                ..HistoryFilter::default()
            };
            let told = app
                .store
                .events_between(draft_id, &filter, Some((*at, i64::MIN)), 1000)
                .await?
                .into_iter()
                .any(|e| {
                    e.kind == "positions_stale"
                        && serde_json::from_str::<Value>(&e.data)
                            .is_ok_and(|d| d["previous_text_hash"] == hash.as_str())
                });
            if told {
                return Ok(());
            }
            hash.clone()
        }
    };
    if old_hash == new_hash {
        return Ok(());
    }
    let stale: Vec<String> = app
        .store
        .draft_entities(draft_id)
        .await?
        .into_iter()
        .map(|e| e.code)
        .filter(|code| latest.get(code).is_some_and(|h| *h == old_hash))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let revision = app.store.latest_revision(doc_id).await?;
    let event = accord_store::NewEvent {
        kind: "positions_stale".into(),
        element_id: Some(element_id.to_owned()),
        user_id: revision.as_ref().map(|r| r.user_id.clone()),
        entity_code: revision.as_ref().and_then(|r| r.entity_code.clone()),
        data: json!({
            "stale": stale,
            "revision": revision.as_ref().map(|r| r.id),
            "text_hash": new_hash,
            "previous_text_hash": old_hash,
        })
        .to_string(),
    };
    app.store
        .record_event_at(draft_id, &event, app.consensus.clock.now())
        .await?;
    Ok(())
}
