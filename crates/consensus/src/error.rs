//! Errors and refusals of the consensus rules.

use serde::Serialize;

/// A programming or parsing error (as opposed to a [`Refusal`], which is a
/// rule saying no to a well-formed request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "unknown stance {0:?} (expected support, support_ad_ref, reservation, abstain or object)"
    )]
    UnknownStance(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A rule refused a request: a stable machine `code` and a human `message`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }
}
