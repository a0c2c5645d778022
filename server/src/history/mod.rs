//! Revision history (docs/design.md §4): the timeline of revisions,
//! positions and chair actions; reading the draft at any version (heads,
//! named version or time) with the consensus annex as it stood then;
//! comparing two versions; attributing the text to its authors.
//!
//! A version is every document's heads. "The draft at time T" uses the
//! heads stored with each commit (`doc_heads`); the texts come from the
//! document actors (`Docs::inspect`), reading at those heads.

mod at;
mod attribution;
mod authors;
mod compare;
mod timeline;

pub use at::*;
pub use attribution::*;
pub use compare::*;
pub use timeline::*;
