//! Drafts: who may see them (`access`), how they and their elements are
//! made (`build`) and how chairs change their structure (`structure`).

pub mod access;
pub mod build;
pub mod structure;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An entity: a party to the negotiation (as the API shows it, in drafts,
/// the consensus and the annex alike).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Entity)]
pub struct EntityView {
    pub code: String,
    pub name: String,
}

/// An element's editing mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(
    description = "`open`: delegates type into the element directly; `amendments`: only chairs do, delegates' sync is read-only (notice `amendments_only`) and they propose amendments."
)]
pub enum EditingMode {
    Open,
    Amendments,
}

impl EditingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EditingMode::Open => "open",
            EditingMode::Amendments => "amendments",
        }
    }

    pub fn parse(s: &str) -> EditingMode {
        if s == "amendments" {
            EditingMode::Amendments
        } else {
            EditingMode::Open
        }
    }
}
