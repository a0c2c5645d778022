//! Drafts: who may see them (`access`), how they and their elements are
//! made (`build`) and how chairs change their structure (`structure`).

pub mod access;
pub mod build;
pub mod structure;
