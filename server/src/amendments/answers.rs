//! What the amendments and comments API takes and answers, as types (the
//! OpenAPI document describes these very types). Times are RFC 3339 UTC
//! with milliseconds; offsets are Unicode code points into the element's
//! text.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// An amendment's state: what people decided, and for an open one whether
/// its passage still reads as proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(
    description = "`open`: pending; `conflict`: pending, but its passage was changed since it was anchored (it must be re-anchored by its proposer before it can be accepted); `accepted`, `rejected`, `withdrawn`: decided."
)]
pub enum AmendmentState {
    Open,
    Conflict,
    Accepted,
    Rejected,
    Withdrawn,
}

/// An entity's objection to an amendment.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AmendmentObjection {
    pub entity: String,
    pub reason: String,
    pub user_name: Option<String>,
    pub at: String,
}

/// A proposal, on behalf of an entity, to replace a passage of an element.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Amendment {
    pub id: i64,
    pub element_id: String,
    /// The element's label, e.g. `(a)`.
    pub label: String,
    /// The proposing entity.
    pub entity: String,
    /// The proposing user's id and name.
    pub user: String,
    pub user_name: Option<String>,
    pub state: AmendmentState,
    /// The passage as it reads now between the amendment's anchors (for a
    /// decided amendment: as it read when anchored). Empty: an insertion.
    pub original: String,
    /// The passage as it read when the amendment was (re-)anchored.
    pub anchored_original: String,
    /// The replacement; empty: the passage is deleted.
    pub text: String,
    pub reason: String,
    /// Where the passage is now (open and conflicting amendments).
    pub from: Option<usize>,
    pub to: Option<usize>,
    /// The Automerge cursors anchoring the passage (its first and last
    /// characters; for an insertion the characters either side, `s`/`e` at
    /// the ends), for clients that follow it in their own copy.
    pub start_cursor: String,
    pub end_cursor: String,
    /// Entity codes, the proposing entity first.
    pub sponsors: Vec<String>,
    pub objections: Vec<AmendmentObjection>,
    pub created_at: String,
    pub anchored_at: String,
    pub decided_at: Option<String>,
    /// Who decided (accepted or rejected: a chair; withdrawn: a delegate of
    /// the proposing entity), by name.
    pub decided_by: Option<String>,
    /// A rejection's reason.
    pub decision_reason: Option<String>,
    /// The hash of the change that applied an accepted amendment.
    pub applied_change: Option<String>,
}

/// A draft's amendments.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AmendmentList {
    pub draft: String,
    /// The time read at (`at`), or null for now.
    pub at: Option<String>,
    pub amendments: Vec<Amendment>,
    pub server_time: String,
}

/// Which amendments to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AmendmentQuery {
    /// Only this element's.
    pub element: Option<String>,
    /// Only those in this state.
    pub state: Option<AmendmentState>,
    /// The amendments as they were at this time (RFC 3339 UTC, e.g.
    /// `2026-05-01T12:00:00Z`): those proposed by then, in the state they
    /// were in, their passages located in the text of then.
    pub at: Option<String>,
}

/// A new amendment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeRequest {
    /// The passage's start and end, offsets in Unicode code points into the
    /// element's text at `heads` (`from == to`: insert there).
    pub from: usize,
    pub to: usize,
    /// The replacement (empty: delete the passage). At most the server's
    /// text limit.
    pub text: String,
    /// Why (required, at most 2000 characters).
    #[schema(max_length = 2000)]
    pub reason: String,
    /// The element document's heads the offsets refer to (409 `not_synced`
    /// while the server lacks them).
    #[schema(schema_with = crate::consensus::read_heads)]
    pub heads: Vec<String>,
    /// The entity proposing: a delegate's own (the default), or for a chair
    /// any participating entity (required if the chair has none).
    pub entity: Option<String>,
}

/// A new anchor for an amendment whose passage changed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReanchorRequest {
    pub from: usize,
    pub to: usize,
    #[schema(schema_with = crate::consensus::read_heads)]
    pub heads: Vec<String>,
    /// A new replacement text, if it changes too.
    pub text: Option<String>,
}

/// Who acts: the entity sponsoring, objecting or withdrawing.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityRequest {
    /// A delegate's own entity (the default); a chair names one.
    pub entity: Option<String>,
}

/// An objection to an amendment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectRequest {
    /// Why (required, at most 2000 characters).
    #[schema(max_length = 2000)]
    pub reason: String,
    pub entity: Option<String>,
}

/// A chair's rejection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why (required, at most 2000 characters).
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Who a comment mentions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mentions {
    /// Entity codes (`@IOM`).
    pub entities: Vec<String>,
    /// User ids (`@` and the user's name, e.g. `@Ana Ruiz`).
    pub users: Vec<String>,
}

/// A comment, and for a thread's first comment its replies.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Comment {
    pub id: i64,
    pub element_id: String,
    pub user: String,
    pub user_name: Option<String>,
    pub entity: Option<String>,
    pub text: String,
    /// The thread's first comment (replies).
    pub reply_to: Option<i64>,
    /// An anchored comment's passage as it read when written, where it is
    /// now, and whether it still reads so.
    pub original: Option<String>,
    pub from: Option<usize>,
    pub to: Option<usize>,
    pub intact: Option<bool>,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
    pub mentions: Mentions,
    pub created_at: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    #[schema(no_recursion)]
    pub replies: Vec<Comment>,
}

/// An element's comment threads, oldest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CommentList {
    pub draft: String,
    pub element_id: String,
    pub comments: Vec<Comment>,
}

/// A new comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// The comment (1 to 10000 characters); `@CODE` mentions an entity,
    /// `@Name` a user.
    #[schema(max_length = 10000)]
    pub text: String,
    /// Anchor it to a passage: offsets into the text at `heads` (all three
    /// or none; not for replies).
    pub from: Option<usize>,
    pub to: Option<usize>,
    pub heads: Option<Vec<String>>,
    /// Answer this thread (its first comment's id).
    pub reply_to: Option<i64>,
}
