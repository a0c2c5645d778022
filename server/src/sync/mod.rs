//! The websocket side: the `/sync` endpoint and its reader (`ws`), and who
//! is connected where (`presence`: presence lists, and who syncs which
//! document for relaying cursors). Each connection's outbound queue and
//! closing is its [`crate::peer::ConnHandle`].

pub mod presence;
pub mod ws;
