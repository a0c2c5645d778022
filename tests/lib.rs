//! Integration tests for Accord.
//!
//! Every test starts the real `accord` binary as a child process (see
//! [`harness`]) on its own database and talks to it the way users' clients
//! do: websockets speaking the automerge-repo sync protocol, and HTTP.
//!
//! - `sync`: clients converge, late joiners, unknown documents, ephemeral
//!   relay, peer-id replacement;
//! - `durability`: graceful restart and `kill -9`;
//! - `instances`: one `accord serve` per database (a second one is
//!   refused, the CLI works beside it, the lock goes with the server) and
//!   racing the first migration of a new database;
//! - `hygiene`: idle timeout, pings, slow consumers;
//! - `lifecycle`: snapshots, eviction of idle documents, reload;
//! - `storage_failure`: a commit that fails mid-stream;
//! - `refusals`: protocol violations (error + close) and content refusals
//!   (notice + read-only, connection kept);
//! - `api`: the HTTP endpoints;
//! - `assets`: the web app's files, precompressed (brotli, gzip) by
//!   `Accept-Encoding`, cached for good, and the icon at `/favicon.ico`;
//! - `headers`: security headers (the page's websocket origin, `nosniff`
//!   and strict policies elsewhere, the HTML export's style hash), the
//!   metrics token and listener, the test clock's bounds;
//! - `access`: the administration CLI, sign-in, sessions and device links,
//!   sign-in throttling, body limits, `Origin` checks, and the roles ×
//!   actions matrix (who may do what; refusals change nothing);
//! - `consensus`: positions, statuses, silence, locks, adoption and the
//!   index projection on the reference scenario's 28 entities;
//! - `attribution`: identity on the websocket — attribution to the
//!   delivering user, reviewers read-only, actor and peer id ownership, the
//!   upgrade's session and Origin checks, live structure edits, presence;
//! - `openapi`: the served (generated) OpenAPI document against the running
//!   server;
//! - `interop`: the stock JavaScript client (`tests/js`);
//! - `e2e`: the web app in Debian's headless Chromium through Playwright
//!   (`tests/web`): co-editing, positions, silence locks, offline edits,
//!   reviewers, sign-in, and the chair's board (matrix and filters, silence
//!   broken live, adopt/reopen, structure edits, projector mode);
//!   screenshots under `<target>/test-output/web/`;
//! - `history`: revisions, reading at a version, compare, attribution;
//! - `hostile`: clients that stop reading (write timeout, memory given
//!   back), forged server messages, presence as changes, the order of
//!   relayed ephemeral messages, peer-id and frame limits, sessions
//!   revoked while their websocket is open;
//! - `decoders`: decompression bombs in sync messages (a compressed change
//!   and a document's deflated column, 1 GiB each) from a delegate, a
//!   reviewer and on the index document: refused with a notice, nothing
//!   stored, others unaffected, memory flat;
//!
//! Prerequisites: `cargo build -p accord` (or `ACCORD_BIN`), a PostgreSQL
//! server for the `postgres` variants (`ACCORD_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), `npm ci` in `tests/js` and
//! `tests/web`, and `/usr/bin/chromium` (Debian's `chromium`).

#[cfg(test)]
mod harness;
#[cfg(test)]
mod history;

#[cfg(test)]
mod access;
#[cfg(test)]
mod amendments;
#[cfg(test)]
mod api;
#[cfg(test)]
mod assets;
#[cfg(test)]
mod attribution;
#[cfg(test)]
mod compilation;
#[cfg(test)]
mod consensus;
#[cfg(test)]
mod decoders;
#[cfg(test)]
mod durability;
#[cfg(test)]
mod e2e;
#[cfg(test)]
mod headers;
#[cfg(test)]
mod hostile;
#[cfg(test)]
mod hygiene;
#[cfg(test)]
mod instances;
#[cfg(test)]
mod interop;
#[cfg(test)]
mod lifecycle;
#[cfg(test)]
mod openapi;
#[cfg(test)]
mod refusals;
#[cfg(test)]
mod storage_failure;
#[cfg(test)]
mod sync;
