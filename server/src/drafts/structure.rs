//! Chairs' commands on a draft's structure: create drafts, edit the title
//! and preamble, add, rename, reorder, archive and restore elements.
//!
//! Each edit is applied to the draft's index document by the server with
//! its own actor (`Docs::write`), stored in the same transaction as the
//! table rows and the timeline event it implies (`Store::apply_structure_at`),
//! and reaches every client live through sync. Edits of one draft are
//! serialised, so each is computed from the state the previous one left.

use std::sync::Arc;

use accord_model::{IndexElement, IndexState};
use accord_protocol::DocumentId;
use accord_store::{DraftRow, ElementRow, NewEvent, Role, StructureEdit};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Auth, User};
use crate::documents::{Companion, WriteError};
use crate::drafts::build;
use crate::error::ApiError;

const MAX_TITLE_CHARS: usize = 500;
const MAX_LABEL_CHARS: usize = 100;
const MAX_ELEMENTS: usize = 500;

/// A new draft: 1 to 500 elements.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewDraft)]
pub struct NewDraftRequest {
    /// 1 to 500 characters, trimmed.
    #[schema(min_length = 1, max_length = 500)]
    pub title: String,
    #[serde(default)]
    #[schema(default = "")]
    pub preamble: String,
    #[schema(min_items = 1, max_items = 500)]
    pub elements: Vec<NewElementRequest>,
    /// Participating entity codes; every entity of the installation when absent.
    pub entities: Option<Vec<String>>,
}

/// A new element.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewElement)]
pub struct NewElementRequest {
    /// 1 to 100 characters, trimmed.
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    #[serde(default)]
    #[schema(default = "")]
    pub text: String,
    /// 0-based place among the draft's elements; the end when absent.
    #[schema(minimum = 0)]
    pub position: Option<usize>,
}

/// A change of a draft's title or preamble: the fields given are set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftPatch {
    /// 1 to 500 characters, trimmed.
    #[schema(min_length = 1, max_length = 500)]
    pub title: Option<String>,
    pub preamble: Option<String>,
}

/// A change of an element's label or place: the fields given are set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElementPatch {
    /// 1 to 100 characters, trimmed.
    #[schema(min_length = 1, max_length = 100)]
    pub label: Option<String>,
    /// The new 0-based place among the draft's elements.
    #[schema(minimum = 0)]
    pub position: Option<usize>,
    /// Who may type into it: `open` (delegates too) or `amendments`
    /// (chairs; delegates propose amendments).
    pub mode: Option<super::EditingMode>,
}

/// Where to put a restored element.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// 0-based place among the draft's elements; the end when absent.
    #[schema(minimum = 0)]
    pub position: Option<usize>,
}

/// `POST /api/v1/drafts` (chairs).
pub async fn create_draft(
    app: &AppState,
    auth: &Auth,
    request: NewDraftRequest,
) -> Result<DraftRow, ApiError> {
    auth.user.require(&[Role::Chair], "create drafts")?;
    check_title(&request.title)?;
    check_text(app, "the preamble", &request.preamble)?;
    if request.elements.is_empty() || request.elements.len() > MAX_ELEMENTS {
        return Err(ApiError::bad_request(
            "invalid",
            format!("a draft has 1 to {MAX_ELEMENTS} elements"),
        ));
    }
    let mut elements = Vec::new();
    for element in &request.elements {
        check_label(&element.label)?;
        check_text(app, "an element's text", &element.text)?;
        elements.push((
            element.label.trim().to_owned(),
            accord_model::normalize_line_ends(&element.text),
        ));
    }
    let known: Vec<String> = app
        .store
        .entities()
        .await?
        .into_iter()
        .map(|e| e.code)
        .collect();
    let entities = match request.entities {
        Some(codes) => {
            if let Some(unknown) = codes.iter().find(|c| !known.contains(c)) {
                return Err(ApiError::bad_request(
                    "unknown_entity",
                    format!("there is no entity {unknown:?}"),
                ));
            }
            let mut codes = codes;
            codes.sort();
            codes.dedup();
            codes
        }
        None => known,
    };
    let draft = build::build_draft(
        &app.server_actor,
        request.title.trim(),
        &accord_model::normalize_line_ends(&request.preamble),
        &elements,
        entities,
    )
    .map_err(ApiError::internal)?;
    app.store.create_draft(&draft).await?;
    let event = NewEvent {
        kind: "draft_created".into(),
        element_id: None,
        user_id: Some(auth.user.id.clone()),
        entity_code: auth.user.entity.clone(),
        data: json!({ "title": draft.title }).to_string(),
    };
    app.store
        .record_event_at(&draft.id, &event, app.consensus.clock.now())
        .await?;
    app.store
        .draft(&draft.id)
        .await?
        .ok_or_else(|| ApiError::internal("the new draft vanished"))
}

/// `PATCH /api/v1/drafts/{id}` (chairs): title, preamble.
pub async fn update_draft(
    app: &AppState,
    auth: &Auth,
    draft_id: &str,
    patch: DraftPatch,
) -> Result<(), ApiError> {
    auth.user
        .require(&[Role::Chair], "change a draft's title or preamble")?;
    if let Some(title) = &patch.title {
        check_title(title)?;
    }
    if let Some(preamble) = &patch.preamble {
        check_text(app, "the preamble", preamble)?;
    }
    edit(app, &auth.user, draft_id, |plan| {
        let mut changed = serde_json::Map::new();
        if let Some(title) = patch.title {
            plan.title = title.trim().to_owned();
            changed.insert("title".into(), json!(plan.title));
        }
        if let Some(preamble) = patch.preamble {
            plan.preamble = accord_model::normalize_line_ends(&preamble);
            changed.insert("preamble".into(), json!(plan.preamble));
        }
        plan.edit.title = Some(plan.title.clone());
        plan.edit.preamble = Some(plan.preamble.clone());
        plan.event("draft_updated", None, serde_json::Value::Object(changed));
        Ok(())
    })
    .await
}

/// `POST /api/v1/drafts/{id}/elements` (chairs).
pub async fn add_element(
    app: &AppState,
    auth: &Auth,
    draft_id: &str,
    request: NewElementRequest,
) -> Result<ElementRow, ApiError> {
    auth.user.require(&[Role::Chair], "add elements")?;
    check_label(&request.label)?;
    check_text(app, "the element's text", &request.text)?;
    let label = request.label.trim().to_owned();
    let (element, entry) = build::build_element(
        &app.server_actor,
        &label,
        &accord_model::normalize_line_ends(&request.text),
    )
    .map_err(ApiError::internal)?;
    let element_id = element.id.clone();
    edit(app, &auth.user, draft_id, move |plan| {
        if plan.active.len() >= MAX_ELEMENTS {
            return Err(ApiError::bad_request(
                "invalid",
                format!("a draft has at most {MAX_ELEMENTS} elements"),
            ));
        }
        let at = request
            .position
            .unwrap_or(plan.active.len())
            .min(plan.active.len());
        plan.active
            .insert(at, (entry.id.clone(), label.clone(), entry.doc.clone()));
        plan.edit.new_elements.push(element);
        plan.edit.order = Some(plan.order());
        plan.event(
            "element_added",
            Some(&entry.id),
            json!({ "label": label, "position": at }),
        );
        Ok(())
    })
    .await?;
    find_element(app, draft_id, &element_id).await
}

/// `PATCH /api/v1/drafts/{id}/elements/{eid}` (chairs): label, position.
pub async fn update_element(
    app: &AppState,
    auth: &Auth,
    draft_id: &str,
    element_id: &str,
    patch: ElementPatch,
) -> Result<ElementRow, ApiError> {
    auth.user
        .require(&[Role::Chair], "rename or move elements")?;
    if let Some(label) = &patch.label {
        check_label(label)?;
    }
    let id = element_id.to_owned();
    edit(app, &auth.user, draft_id, move |plan| {
        let Some(from) = plan.active.iter().position(|(eid, ..)| *eid == id) else {
            return Err(element_not_found(plan.is_archived(&id)));
        };
        if let Some(label) = patch.label {
            let label = label.trim().to_owned();
            if plan.active[from].1 != label {
                plan.event(
                    "element_renamed",
                    Some(&id),
                    json!({ "from": plan.active[from].1, "to": label }),
                );
                plan.active[from].1 = label.clone();
                plan.edit.labels.push((id.clone(), label));
            }
        }
        if let Some(to) = patch.position {
            let to = to.min(plan.active.len() - 1);
            if to != from {
                let entry = plan.active.remove(from);
                plan.active.insert(to, entry);
                plan.edit.order = Some(plan.order());
                plan.event(
                    "element_moved",
                    Some(&id),
                    json!({ "from": from, "to": to }),
                );
            }
        }
        Ok(())
    })
    .await?;
    find_element(app, draft_id, element_id).await
}

/// `DELETE /api/v1/drafts/{id}/elements/{eid}` (chairs): archives the
/// element. It leaves the index; its document and history stay.
pub async fn archive_element(
    app: &AppState,
    auth: &Auth,
    draft_id: &str,
    element_id: &str,
) -> Result<(), ApiError> {
    auth.user.require(&[Role::Chair], "archive elements")?;
    let id = element_id.to_owned();
    edit(app, &auth.user, draft_id, move |plan| {
        let Some(at) = plan.active.iter().position(|(eid, ..)| *eid == id) else {
            return Err(element_not_found(plan.is_archived(&id)));
        };
        let (_, label, _) = plan.active.remove(at);
        plan.edit.archived.push((id.clone(), true));
        plan.edit.order = Some(plan.order());
        plan.event("element_archived", Some(&id), json!({ "label": label }));
        Ok(())
    })
    .await
}

/// `POST /api/v1/drafts/{id}/elements/{eid}/restore` (chairs).
pub async fn restore_element(
    app: &AppState,
    auth: &Auth,
    draft_id: &str,
    element_id: &str,
    body: Option<RestoreRequest>,
) -> Result<ElementRow, ApiError> {
    auth.user.require(&[Role::Chair], "restore elements")?;
    let request = body.unwrap_or_default();
    let id = element_id.to_owned();
    edit(app, &auth.user, draft_id, move |plan| {
        let Some(row) = plan.archived.iter().find(|e| e.id == id).cloned() else {
            return Err(if plan.active.iter().any(|(eid, ..)| *eid == id) {
                ApiError::conflict("not_archived", "the element is not archived")
            } else {
                element_not_found(false)
            });
        };
        let doc: DocumentId = row.doc_id.parse().map_err(ApiError::internal)?;
        let at = request
            .position
            .unwrap_or(plan.active.len())
            .min(plan.active.len());
        plan.active
            .insert(at, (row.id.clone(), row.label.clone(), doc.url()));
        plan.edit.archived.push((id.clone(), false));
        plan.edit.order = Some(plan.order());
        plan.event(
            "element_restored",
            Some(&id),
            json!({ "label": row.label, "position": at }),
        );
        Ok(())
    })
    .await?;
    find_element(app, draft_id, element_id).await
}

/// A draft's structure as an edit is computed on.
struct Plan {
    title: String,
    preamble: String,
    /// The non-archived elements in order: (id, label, document URL).
    active: Vec<(String, String, String)>,
    archived: Vec<ElementRow>,
    edit: StructureEdit,
    user: Arc<User>,
}

impl Plan {
    fn order(&self) -> Vec<String> {
        self.active.iter().map(|(id, ..)| id.clone()).collect()
    }

    fn is_archived(&self, id: &str) -> bool {
        self.archived.iter().any(|e| e.id == id)
    }

    fn event(&mut self, kind: &str, element_id: Option<&str>, data: serde_json::Value) {
        self.edit.events.push(NewEvent {
            kind: kind.into(),
            element_id: element_id.map(str::to_owned),
            user_id: Some(self.user.id.clone()),
            entity_code: self.user.entity.clone(),
            data: data.to_string(),
        });
    }

    fn target(&self) -> IndexState {
        IndexState {
            title: self.title.clone(),
            preamble: self.preamble.clone(),
            elements: self
                .active
                .iter()
                .map(|(id, label, doc)| IndexElement {
                    id: id.clone(),
                    label: label.clone(),
                    doc: doc.clone(),
                })
                .collect(),
        }
    }
}

/// Runs one structure edit of a draft: under the draft's lock, `change`
/// modifies the plan; the index document is brought to the result and the
/// rows, event and index change are stored together.
async fn edit(
    app: &AppState,
    user: &Arc<User>,
    draft_id: &str,
    change: impl FnOnce(&mut Plan) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let _guard = app.draft_lock(draft_id).await;
    let draft = app
        .store
        .draft(draft_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the draft"))?;
    let mut active = Vec::new();
    let mut archived = Vec::new();
    for row in app.store.all_elements(draft_id).await? {
        if row.archived {
            archived.push(row);
        } else {
            let doc: DocumentId = row.doc_id.parse().map_err(ApiError::internal)?;
            active.push((row.id, row.label, doc.url()));
        }
    }
    let mut plan = Plan {
        title: draft.title.clone(),
        preamble: draft.preamble.clone(),
        active,
        archived,
        edit: StructureEdit {
            draft_id: draft_id.to_owned(),
            ..StructureEdit::default()
        },
        user: user.clone(),
    };
    change(&mut plan)?;
    if plan.edit.events.is_empty() {
        return Ok(());
    }
    let target = plan.target();
    let index: DocumentId = draft.index_doc.parse().map_err(ApiError::internal)?;
    let result = app
        .docs
        .write(
            index,
            Box::new(move |tx| {
                accord_model::reconcile_index(tx, &target).map_err(|e| e.to_string())
            }),
            Companion::Structure {
                edit: Box::new(plan.edit),
                user_id: user.id.clone(),
                entity_code: user.entity.clone(),
            },
        )
        .await;
    drop(_guard);
    match result {
        Ok(_) => {}
        Err(WriteError::Store(e)) => return Err(e.into()),
        Err(WriteError::Refused(message)) => return Err(ApiError::bad_request("invalid", message)),
        Err(e @ WriteError::Broken(_)) => return Err(ApiError::internal(e)),
    }
    Ok(())
}

async fn find_element(
    app: &AppState,
    draft_id: &str,
    element_id: &str,
) -> Result<ElementRow, ApiError> {
    app.store
        .all_elements(draft_id)
        .await?
        .into_iter()
        .find(|e| e.id == element_id)
        .ok_or_else(|| ApiError::not_found("the element"))
}

fn element_not_found(archived: bool) -> ApiError {
    if archived {
        ApiError::conflict("archived", "the element is archived: restore it first")
    } else {
        ApiError::not_found("the element")
    }
}

fn check_title(title: &str) -> Result<(), ApiError> {
    let n = title.trim().chars().count();
    if n == 0 || n > MAX_TITLE_CHARS {
        return Err(ApiError::bad_request(
            "invalid",
            format!("a title has 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_label(label: &str) -> Result<(), ApiError> {
    let n = label.trim().chars().count();
    if n == 0 || n > MAX_LABEL_CHARS {
        return Err(ApiError::bad_request(
            "invalid",
            format!("a label has 1 to {MAX_LABEL_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_text(app: &AppState, what: &str, text: &str) -> Result<(), ApiError> {
    let max = app.config.max_text_chars;
    if text.chars().count() > max {
        return Err(ApiError::bad_request(
            "too_long",
            format!("{what} is longer than {max} characters"),
        ));
    }
    Ok(())
}
