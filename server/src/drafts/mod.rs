//! Drafts: who may see them (`access`), how they and their elements are
//! made (`build`) and how chairs change their structure (`structure`).

pub mod access;
pub mod build;
pub mod structure;

use serde::Serialize;
use utoipa::ToSchema;

/// An entity: a party to the negotiation (as the API shows it, in drafts,
/// the consensus and the annex alike).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Entity)]
pub struct EntityView {
    pub code: String,
    pub name: String,
}
