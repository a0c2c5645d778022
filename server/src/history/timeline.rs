//! The timeline: revisions, positions and events in one order, the people
//! in it, and the `positions_stale` events the projector records.

use std::collections::HashMap;

use accord_store::HistoryFilter;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{Params, PathParams, visible_draft};
use crate::auth::Auth;
use crate::clock::iso;
use crate::error::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub element: Option<String>,
    pub entity: Option<String>,
    pub user: Option<String>,
    /// RFC 3339 UTC, inclusive.
    pub from: Option<String>,
    /// RFC 3339 UTC, exclusive.
    pub to: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/drafts/{id}/history`: revisions, positions and chair actions
/// in one chronological timeline, filtered and paged by cursor.
pub async fn history(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let draft = visible_draft(&app, &auth.user, &id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let filter = HistoryFilter {
        element_id: q.element.clone(),
        entity_code: q.entity.clone(),
        user_id: q.user.clone(),
        from: q
            .from
            .as_deref()
            .map(crate::clock::parse_time)
            .transpose()?,
        to: q.to.as_deref().map(crate::clock::parse_time).transpose()?,
    };
    // Cursor "time.kind.id": kinds are ordered revision (0), position (1),
    // event (2) at the same time.
    let cursor = match &q.cursor {
        Some(c) => {
            let parts: Option<Vec<i64>> = c.split('.').map(|p| p.parse().ok()).collect();
            match parts.unwrap_or_default()[..] {
                [t, k, id] if (0..3).contains(&k) => Some((t, k, id)),
                _ => return Err(ApiError::bad_request("invalid", "not a history cursor")),
            }
        }
        None => None,
    };
    let after = |kind: i64| {
        cursor.map(|(t, k, id)| match kind.cmp(&k) {
            std::cmp::Ordering::Less => (t, i64::MAX),
            std::cmp::Ordering::Equal => (t, id),
            std::cmp::Ordering::Greater => (t, i64::MIN),
        })
    };
    let labels: HashMap<String, String> = app
        .store
        .all_elements(&draft.id)
        .await?
        .into_iter()
        .map(|e| (e.id, e.label))
        .collect();
    let names: HashMap<String, String> = app
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let name = |u: &Option<String>| {
        u.as_ref()
            .map(|u| names.get(u).cloned().unwrap_or_else(|| u.clone()))
    };
    let mut items: Vec<(i64, i64, i64, Value)> = Vec::new();
    for r in app
        .store
        .revisions(&draft.id, &filter, after(0), limit)
        .await?
    {
        items.push((r.start_at, 0, r.id, json!({
            "kind": "revision",
            "id": r.id,
            "element": r.element_id,
            "label": labels.get(&r.element_id),
            "user": r.user_id,
            "user_name": r.user_name,
            "entity": r.entity_code,
            "start": iso(r.start_at),
            "end": iso(r.end_at),
            "changes": r.changes,
            "inserted": r.inserted,
            "deleted": r.deleted,
            "before": serde_json::from_str::<Value>(&r.before_heads).unwrap_or(Value::Null),
            "after": r.after_heads.as_deref().and_then(|h| serde_json::from_str::<Value>(h).ok()),
            "doc": r.doc_id,
        })));
    }
    for p in app
        .store
        .positions_between(&draft.id, &filter, after(1), limit)
        .await?
    {
        items.push((
            p.at,
            1,
            p.seq,
            json!({
                "kind": "position",
                "seq": p.seq,
                "element": p.element_id,
                "label": labels.get(&p.element_id),
                "entity": p.entity_code,
                "position": p.stance,
                "note": p.note,
                "wording": p.wording,
                "user": p.user_id,
                "user_name": name(&p.user_id),
                "by_silence": p.by_silence,
                "text_hash": p.text_hash,
                "at": iso(p.at),
            }),
        ));
    }
    for e in app
        .store
        .events_between(&draft.id, &filter, after(2), limit)
        .await?
    {
        items.push((
            e.at,
            2,
            e.seq,
            json!({
                "kind": "event",
                "seq": e.seq,
                "type": e.kind,
                "element": e.element_id,
                "label": e.element_id.as_ref().and_then(|id| labels.get(id)),
                "user": e.user_id,
                "user_name": name(&e.user_id),
                "entity": e.entity_code,
                "data": serde_json::from_str::<Value>(&e.data).unwrap_or(Value::Null),
                "at": iso(e.at),
            }),
        ));
    }
    items.sort_by_key(|(t, k, id, _)| (*t, *k, *id));
    items.truncate(limit as usize);
    let next = if items.len() as i64 == limit {
        items.last().map(|(t, k, id, _)| format!("{t}.{k}.{id}"))
    } else {
        None
    };
    Ok(Json(json!({
        "draft": draft.id,
        "items": items.into_iter().map(|(.., v)| v).collect::<Vec<_>>(),
        "next": next,
        "server_time": iso(app.consensus.clock.now()),
    })))
}

/// `GET /api/v1/drafts/{id}/history/people`: everyone who appears in the
/// draft's history (for the timeline's filter by user).
pub async fn people(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let draft = visible_draft(&app, &auth.user, &id).await?;
    let people: Vec<Value> = app
        .store
        .history_people(&draft.id)
        .await?
        .into_iter()
        .map(|(user, name, entity)| {
            let name = name.unwrap_or_else(|| match user.as_str() {
                "server" => "Accord".to_owned(),
                _ => user.clone(),
            });
            json!({ "user": user, "name": name, "entity": entity })
        })
        .collect();
    Ok(Json(json!({
        "draft": draft.id,
        "people": people,
        "server_time": iso(app.consensus.clock.now()),
    })))
}

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
