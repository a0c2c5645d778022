//! Amendments and comments: how delegations negotiate the text.
//!
//! A delegation proposes an amendment to a passage of an element for its
//! entity (the replacement and a reason); other entities sponsor it or
//! object to it; its proposer may re-anchor or withdraw it; a chair accepts
//! it (the server applies it to the text as one change owned by the
//! proposer, so history credits that entity) or rejects it. Passages are
//! anchored with Automerge cursors (`anchor.rs`), so they follow the words
//! as others edit; an amendment whose passage changed is in conflict and
//! cannot be accepted until re-anchored. Comments are threads per element,
//! optionally anchored the same way, with mentions. Per element a chair
//! sets the editing mode: in `amendments` mode delegates sync read-only and
//! propose instead of typing.
//!
//! Every command runs under the draft's lock, writes one transaction with
//! its timeline event, and re-projects the draft's amendments, comments and
//! modes into its index document (`projection.rs`) before it answers.

pub mod anchor;
mod answers;
mod commands;
mod comments;
mod projection;
mod views;

pub use answers::{
    Amendment, AmendmentList, AmendmentQuery, Comment, CommentList, CommentRequest, EntityRequest,
    ObjectRequest, ProposeRequest, ReanchorRequest, RejectRequest,
};
pub use commands::{accept, objection, propose, reanchor, reject, set_mode, sponsorship, withdraw};
pub use comments::{add as add_comment, list as list_comments, resolve as resolve_comment};
pub use projection::project;
pub use views::{list, pending_at};
