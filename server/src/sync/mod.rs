//! The websocket side: the `/sync` endpoint and its reader (`ws`), each
//! connection's outbound queue and closing (`conn`), and who is connected
//! where (`presence`: presence lists, who syncs which document for relaying
//! cursors, and the document → draft directory).

pub mod conn;
pub mod presence;
pub mod ws;
