//! Errors of the document model.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("scenario is not valid TOML: {0}")]
    ScenarioToml(#[from] toml::de::Error),
    #[error("scenario is invalid: {0}")]
    Scenario(String),
    #[error("document is not an Accord element document: {0}")]
    NotAnElement(&'static str),
    #[error("document is not an Accord index document: {0}")]
    NotAnIndex(&'static str),
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
