//! The command line besides `serve`: administration (`admin`: entities,
//! users, invites, drafts, export, backup and restore), the status table
//! (`status`), and what `serve` does on a first start (`first_start`: the
//! scenario's draft, the first chair).

pub mod admin;
pub mod first_start;
pub mod status;
