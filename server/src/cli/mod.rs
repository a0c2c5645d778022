//! The command line besides `serve`: administration (`admin`: entities,
//! users, invites, drafts, export, backup and restore) and the status table
//! (`status`).

pub mod admin;
pub mod status;
