//! The timeline: revisions, positions and events in one order, and the
//! people in it.

use std::collections::HashMap;

use accord_store::HistoryFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Auth;
use crate::clock::iso;
use crate::drafts::access::visible_draft;
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
    app: &AppState,
    auth: &Auth,
    id: String,
    q: HistoryQuery,
) -> Result<Value, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
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
    Ok(json!({
        "draft": draft.id,
        "items": items.into_iter().map(|(.., v)| v).collect::<Vec<_>>(),
        "next": next,
        "server_time": iso(app.consensus.clock.now()),
    }))
}

/// `GET /api/v1/drafts/{id}/history/people`: everyone who appears in the
/// draft's history (for the timeline's filter by user).
pub async fn people(app: &AppState, auth: &Auth, id: String) -> Result<Value, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
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
    Ok(json!({
        "draft": draft.id,
        "people": people,
        "server_time": iso(app.consensus.clock.now()),
    }))
}
