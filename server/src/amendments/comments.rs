//! Comments: a thread per element (a first comment and its replies),
//! optionally anchored to a passage, resolved by its author or a chair;
//! `@CODE` and `@Name` mentions read from the text.

use std::collections::HashMap;

use accord_protocol::DocumentId;
use accord_store::{CommentRow, NewComment, NewEvent, Role};
use serde_json::json;

use super::answers::{Comment, CommentList, CommentRequest, Mentions};
use super::commands::not_reviewer;
use super::views::{Room, locate_all, names};
use crate::AppState;
use crate::auth::Auth;
use crate::clock::iso;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;

/// The longest comment.
const MAX_COMMENT_CHARS: usize = 10_000;

/// Who `text` mentions: `@` then an entity code (exact) or a user's name
/// (any case), the longest that matches, ending at a word's end.
pub fn mentions(text: &str, entities: &[String], users: &[(String, String)]) -> Mentions {
    let mut found = Mentions::default();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let starts_word = i == 0 || !is_word(chars[i - 1].1);
        if c != '@' || !starts_word {
            continue;
        }
        let rest = &text[at + 1..];
        let ends_word = |len: usize| rest[len..].chars().next().is_none_or(|c| !is_word(c));
        let entity = entities
            .iter()
            .filter(|code| rest.starts_with(code.as_str()) && ends_word(code.len()))
            .max_by_key(|code| code.len());
        let user = users
            .iter()
            .filter(|(_, name)| {
                !name.is_empty()
                    && rest.len() >= name.len()
                    && rest.is_char_boundary(name.len())
                    && rest[..name.len()].eq_ignore_ascii_case(name)
                    && ends_word(name.len())
            })
            .max_by_key(|(_, name)| name.len());
        match (entity, user) {
            (Some(code), Some((_, name))) if code.len() >= name.len() => {
                push(&mut found.entities, code)
            }
            (_, Some((id, _))) => push(&mut found.users, id),
            (Some(code), None) => push(&mut found.entities, code),
            (None, None) => {}
        }
    }
    found
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

fn push(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

/// `POST /api/v1/drafts/{id}/elements/{eid}/comments`.
pub async fn add(
    app: &AppState,
    auth: &Auth,
    (draft_id, element_id): (String, String),
    request: CommentRequest,
) -> Result<Comment, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    let draft = visible_draft(app, user, &draft_id).await?;
    let text = request.text.trim().to_owned();
    if text.is_empty() {
        return Err(ApiError::bad_request("text_required", "a comment has text"));
    }
    if text.chars().count() > MAX_COMMENT_CHARS {
        return Err(ApiError::bad_request(
            "too_long",
            format!("a comment has at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    let room = Room::load(app, &draft).await?;
    let element = room.live_element(&element_id)?.clone();
    let anchor = match (request.from, request.to, &request.heads) {
        (None, None, None) => None,
        (Some(from), Some(to), Some(heads)) if request.reply_to.is_none() => {
            Some(super::commands::anchor_passage(app, &element, heads, from, to).await?)
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid",
                "anchor a thread's first comment with from, to and heads together",
            ));
        }
    };
    let entities: Vec<String> = app
        .store
        .entities()
        .await?
        .into_iter()
        .map(|e| e.code)
        .collect();
    let users: Vec<(String, String)> = app
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| (u.id, u.name))
        .collect();
    let mentioned = mentions(&text, &entities, &users);
    let new = NewComment {
        draft_id: draft.id.clone(),
        element_id: element.id.clone(),
        user_id: user.id.clone(),
        entity_code: user.entity.clone(),
        text: text.clone(),
        reply_to: request.reply_to,
        anchor,
        mentions: serde_json::to_string(&mentioned).map_err(ApiError::internal)?,
    };
    let event = NewEvent {
        kind: "comment_added".into(),
        element_id: Some(element.id.clone()),
        user_id: Some(user.id.clone()),
        entity_code: user.entity.clone(),
        data: json!({
            "reply_to": request.reply_to,
            "text": text,
            "mentions": mentioned,
        })
        .to_string(),
    };
    let _guard = app.draft_lock(&draft.id).await;
    let row = app
        .store
        .add_comment(&new, &event, app.consensus.clock.now())
        .await?;
    super::projection::project(app, &draft.id).await?;
    let names = names(app).await?;
    let located = locate_rows(app, &element.doc_id, std::slice::from_ref(&row)).await?;
    Ok(view(&row, located.into_iter().next().flatten(), &names))
}

/// `GET …/elements/{eid}/comments`: the element's threads.
pub async fn list(
    app: &AppState,
    auth: &Auth,
    (draft_id, element_id): (String, String),
) -> Result<CommentList, ApiError> {
    let draft = visible_draft(app, &auth.user, &draft_id).await?;
    let room = Room::load(app, &draft).await?;
    let element = room
        .element(&element_id)
        .ok_or_else(|| ApiError::not_found("the element"))?
        .clone();
    let rows: Vec<CommentRow> = app
        .store
        .comments(&draft.id)
        .await?
        .into_iter()
        .filter(|c| c.element_id == element.id)
        .collect();
    let names = names(app).await?;
    let located = locate_rows(app, &element.doc_id, &rows).await?;
    Ok(CommentList {
        draft: draft.id,
        element_id: element.id,
        comments: threads(&rows, located, &names),
    })
}

/// Comments in threads: first comments in order, each with its replies.
pub(super) fn threads(
    rows: &[CommentRow],
    located: Vec<Option<super::anchor::Located>>,
    names: &HashMap<String, String>,
) -> Vec<Comment> {
    let mut out: Vec<Comment> = Vec::new();
    let mut replies: Vec<Comment> = Vec::new();
    for (row, located) in rows.iter().zip(located) {
        let comment = view(row, located, names);
        if row.reply_to.is_some() {
            replies.push(comment);
        } else {
            out.push(comment);
        }
    }
    for reply in replies {
        if let Some(thread) = out.iter_mut().find(|c| Some(c.id) == reply.reply_to) {
            thread.replies.push(reply);
        }
    }
    out
}

async fn locate_rows(
    app: &AppState,
    doc_id: &str,
    rows: &[CommentRow],
) -> Result<Vec<Option<super::anchor::Located>>, ApiError> {
    let doc: DocumentId = doc_id.parse().map_err(ApiError::internal)?;
    let anchored: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.start_cursor.is_some())
        .map(|(i, _)| i)
        .collect();
    let passages = anchored
        .iter()
        .map(|&i| {
            let r = &rows[i];
            (
                r.original.clone().unwrap_or_default(),
                r.start_cursor.clone().unwrap_or_default(),
                r.end_cursor.clone().unwrap_or_default(),
            )
        })
        .collect();
    let mut out = vec![None; rows.len()];
    for (i, l) in anchored
        .into_iter()
        .zip(locate_all(app, doc, None, passages).await?)
    {
        out[i] = l;
    }
    Ok(out)
}

fn view(
    row: &CommentRow,
    located: Option<super::anchor::Located>,
    names: &HashMap<String, String>,
) -> Comment {
    let name = |id: &str| names.get(id).cloned();
    Comment {
        id: row.id,
        element_id: row.element_id.clone(),
        user: row.user_id.clone(),
        user_name: name(&row.user_id),
        entity: row.entity_code.clone(),
        text: row.text.clone(),
        reply_to: row.reply_to,
        original: row.original.clone(),
        from: located.as_ref().map(|l| l.from),
        to: located.as_ref().map(|l| l.to),
        intact: located.as_ref().map(|l| l.intact),
        start_cursor: row.start_cursor.clone(),
        end_cursor: row.end_cursor.clone(),
        mentions: serde_json::from_str(&row.mentions).unwrap_or_default(),
        created_at: iso(row.created_at),
        resolved_at: row.resolved_at.map(iso),
        resolved_by: row.resolved_by.as_deref().and_then(name),
        replies: Vec::new(),
    }
}

/// `POST …/comments/{cid}/resolve`: the thread's author or a chair.
pub async fn resolve(
    app: &AppState,
    auth: &Auth,
    (draft_id, element_id, id): (String, String, i64),
) -> Result<CommentList, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    let draft = visible_draft(app, user, &draft_id).await?;
    let row = app
        .store
        .comment(&draft.id, id)
        .await?
        .filter(|c| c.element_id == element_id)
        .ok_or_else(|| ApiError::not_found("the comment"))?;
    if user.role != Role::Chair && row.user_id != user.id {
        return Err(ApiError::forbidden(
            "forbidden",
            "a thread is resolved by its author or a chair",
        ));
    }
    if row.reply_to.is_some() {
        return Err(ApiError::conflict(
            "reply",
            "a reply is resolved with its thread: resolve the thread's first comment",
        ));
    }
    if row.resolved_at.is_some() {
        return Err(ApiError::conflict(
            "resolved",
            "the thread is resolved already",
        ));
    }
    let event = NewEvent {
        kind: "comment_resolved".into(),
        element_id: Some(row.element_id.clone()),
        user_id: Some(user.id.clone()),
        entity_code: user.entity.clone(),
        data: json!({"comment": id}).to_string(),
    };
    {
        let _guard = app.draft_lock(&draft.id).await;
        app.store
            .resolve_comment(&draft.id, id, &user.id, &event, app.consensus.clock.now())
            .await?;
        super::projection::project(app, &draft.id).await?;
    }
    list(app, auth, (draft.id, element_id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(text: &str) -> Mentions {
        let entities = ["IOM", "ILO", "UNDP", "UN"].map(String::from).to_vec();
        let users = [("u1", "Ana Ruiz"), ("u2", "Ana"), ("u3", "bo")]
            .map(|(i, n)| (i.to_owned(), n.to_owned()))
            .to_vec();
        mentions(text, &entities, &users)
    }

    #[test]
    fn mentions_take_the_longest_match_at_a_word_end() {
        let m = mention("@IOM and @UNDP, please; cc @ana ruiz and @Ana.");
        assert_eq!(m.entities, ["IOM", "UNDP"]);
        assert_eq!(m.users, ["u1", "u2"]);
        // Not inside a word, not a prefix of a longer word, no duplicates.
        let m = mention("mail@IOM @IOMX @UN @UN @bob");
        assert_eq!(m.entities, ["UN"]);
        assert!(m.users.is_empty());
        assert_eq!(mention("no one").entities.len(), 0);
    }
}
