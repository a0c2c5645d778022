//! Durable storage for Accord: drafts, their Automerge documents and every
//! change ever committed to them, with who delivered it; users, invites and
//! sessions; which user owns each Automerge actor; and each draft's
//! procedural timeline (events).
//!
//! One [`Store`] talks to either an embedded SQLite file (the default: WAL,
//! `synchronous=FULL`) or a PostgreSQL server (`synchronous_commit=on`), chosen
//! by the database URL given to [`Store::connect`]. Each query is written once
//! where the two SQL dialects agree (`$N` placeholders work in both) and runs
//! on whichever pool the store holds; only the migrations differ per backend
//! (`migrations/sqlite`, `migrations/postgres`).
//!
//! The server follows "check, commit, then apply": incoming changes go
//! through [`Store::commit`], one transaction per batch, before anything is
//! derived from them. Every multi-statement write here is one transaction.
//! Times are unix milliseconds taken from the server's clock.
//!
//! History is kept as changes commit (same transaction): each document's
//! heads after every batch (`doc_heads`, for reading "the draft at time T")
//! and each user's revisions of each element (`revisions`), so history pages,
//! reads at a version and compares never replay the whole change log.

mod error;
mod instance;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction};

pub use error::{Error, Result};
pub use instance::{InstanceLock, MIGRATION_LOCK_WAIT, PG_INSTANCE_LOCK_KEY};

/// Connections in a SQLite pool. SQLite has a single writer (write
/// transactions queue on `busy_timeout`), but WAL lets readers run alongside.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// Connections in a PostgreSQL pool (per server instance).
const PG_MAX_CONNECTIONS: u32 = 16;
/// How long a SQLite connection waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per multi-row `INSERT INTO changes`: 10 parameters a row keeps one
/// statement far below SQLite's (32766) and PostgreSQL's (65535) limits.
const CHANGES_PER_INSERT: usize = 500;
/// A user's changes to an element with less than this between them (unix
/// ms, by commit time) belong to the same revision; a gap this long or
/// longer starts a new one. Others' changes in between do not matter.
pub const REVISION_GAP_MS: i64 = 30_000;

/// A participating delegation/organisation, e.g. `("EU", "European Union")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    pub code: String,
    pub name: String,
}

/// One element (paragraph) of a draft, backed by its own Automerge document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementRow {
    pub id: String,
    pub draft_id: String,
    /// Order within the draft.
    pub position: i64,
    pub label: String,
    /// The element's Automerge document.
    pub doc_id: String,
    /// Archived elements are kept (history) but no longer listed.
    pub archived: bool,
}

/// A negotiated draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftRow {
    pub id: String,
    pub title: String,
    pub preamble: String,
    /// The draft's index Automerge document (element order, labels...).
    pub index_doc: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When the chair adopted the whole draft (unix ms), see [`Store::adopt_draft`].
    pub adopted_at: Option<i64>,
    /// Who adopted the draft.
    pub adopted_by: Option<String>,
}

/// What an Automerge document is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// The draft's index document.
    Index,
    /// One element's text.
    Element,
}

impl DocKind {
    /// The value stored in `documents.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Index => "index",
            DocKind::Element => "element",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "index" => Ok(DocKind::Index),
            "element" => Ok(DocKind::Element),
            other => Err(Error::Database(sqlx::Error::Decode(
                format!("unknown document kind {other:?}").into(),
            ))),
        }
    }
}

/// An Automerge document the server created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRow {
    /// automerge-repo DocumentId (bs58check).
    pub id: String,
    pub draft_id: String,
    pub kind: DocKind,
}

/// A document to create, with the server-made changes that initialise it.
#[derive(Clone, Debug)]
pub struct NewDocument {
    pub id: String,
    pub kind: DocKind,
    pub changes: Vec<NewChangeData>,
}

/// One Automerge change: its hash and its encoded bytes.
#[derive(Clone, Debug)]
pub struct NewChangeData {
    pub hash: Vec<u8>,
    pub data: Vec<u8>,
}

/// A draft to create, with its index document, elements and participants.
#[derive(Clone, Debug)]
pub struct NewDraft {
    pub id: String,
    pub title: String,
    pub preamble: String,
    /// Must have `kind == DocKind::Index`.
    pub index: NewDocument,
    /// In draft order; an element's position is its index here.
    pub elements: Vec<NewElement>,
    /// Participating entities (must already exist, see [`Store::upsert_entities`]).
    pub entity_codes: Vec<String>,
}

/// An element to create with its document.
#[derive(Clone, Debug)]
pub struct NewElement {
    pub id: String,
    pub label: String,
    /// Must have `kind == DocKind::Element`.
    pub doc: NewDocument,
}

/// A change delivered by a peer, with its attribution.
#[derive(Clone, Debug, Default)]
pub struct NewChange {
    pub doc_id: String,
    pub hash: Vec<u8>,
    pub data: Vec<u8>,
    /// The change's Automerge actor id; its first delivering user owns it
    /// (see [`Store::claim_actor`]).
    pub actor: Vec<u8>,
    /// automerge-repo peer id of the delivering connection.
    pub peer_id: Option<String>,
    /// Server-local connection number of the delivering connection.
    pub conn_id: Option<i64>,
    /// The authenticated user who delivered it (`None`: the server's own).
    pub user_id: Option<String>,
    /// The user's entity, if the user has one.
    pub entity_code: Option<String>,
    /// Characters this change inserts into the element text (`None`: not
    /// counted, e.g. index documents; counts as 0 in revisions).
    pub inserted: Option<i64>,
    /// Characters this change deletes from the element text.
    pub deleted: Option<i64>,
    /// JSON array of the document's sorted lowercase hex heads once this
    /// change, and everything before it in the batch for that document, is
    /// committed. Set on the LAST change of a document in a batch (`None`
    /// elsewhere); a document whose changes carry none gets no `doc_heads`
    /// row for the batch. If several of a document's changes carry one, the
    /// last in batch order wins.
    pub heads_after: Option<String>,
}

/// What a successful [`Store::commit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitReceipt {
    /// The batch's commit time (unix ms), the same for every change in it.
    pub committed_at: i64,
    /// Rows actually inserted: changes already stored are not counted.
    pub stored: usize,
}

/// Everything needed to rebuild a document in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDoc {
    /// The compacted `Automerge::save()`, if one was taken.
    pub snapshot: Option<Vec<u8>>,
    /// The snapshot covers every change with `seq <= snapshot_through` (0 without snapshot).
    pub snapshot_through: i64,
    /// The changes after the snapshot, in commit (seq) order.
    pub changes: Vec<Vec<u8>>,
    /// Highest seq of this document's changes (or `snapshot_through`).
    pub last_seq: i64,
}

/// What a user may do in a negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs the negotiation (structure edits, participants).
    Chair,
    /// Negotiates for an entity (always has one).
    Delegate,
    /// Follows and reviews; needs no entity.
    Reviewer,
}

impl Role {
    /// The value stored in `users.role`: `"chair"`, `"delegate"` or `"reviewer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Chair => "chair",
            Role::Delegate => "delegate",
            Role::Reviewer => "reviewer",
        }
    }

    /// The role spelled `s` (as [`Role::as_str`] gives it), `None` if unknown.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "chair" => Some(Role::Chair),
            "delegate" => Some(Role::Delegate),
            "reviewer" => Some(Role::Reviewer),
            _ => None,
        }
    }
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// Stable id (referenced by invites, sessions, changes, events).
    pub id: String,
    /// Unique display and login name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// The entity the user speaks for (always set for delegates).
    pub entity_code: Option<String>,
    /// A disabled user has no live session and cannot redeem invites.
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A user to create, see [`Store::add_user`].
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Stable id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Required for delegates; must name an existing entity.
    pub entity_code: Option<String>,
}

/// What an invite token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteKind {
    /// A user's first invitation.
    Invite,
    /// A link that signs an existing user in on another device.
    Device,
}

impl InviteKind {
    /// The value stored in `invites.kind`: `"invite"` or `"device"`.
    pub fn as_str(self) -> &'static str {
        match self {
            InviteKind::Invite => "invite",
            InviteKind::Device => "device",
        }
    }

    /// The kind spelled `s` (as [`InviteKind::as_str`] gives it), `None` if unknown.
    pub fn parse(s: &str) -> Option<InviteKind> {
        match s {
            "invite" => Some(InviteKind::Invite),
            "device" => Some(InviteKind::Device),
            _ => None,
        }
    }
}

/// The session to open when an invite is redeemed, see [`Store::redeem_invite`].
#[derive(Clone, Debug)]
pub struct NewSession {
    /// Hash of the session token (the token itself is never stored).
    pub token_hash: String,
    /// Initial (sliding) expiry, unix ms.
    pub expires_at: i64,
    /// The session never lives beyond this, however active, unix ms.
    pub max_expires_at: i64,
}

/// The outcome of [`Store::redeem_invite`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// The invite is now used and the session opened for this user.
    Ok(UserRow),
    /// No invite has this token hash.
    Unknown,
    /// The invite was already redeemed.
    Used,
    /// The invite expired (or was revoked by disabling its user, then re-enabling).
    Expired,
    /// The invite's user is disabled.
    Disabled,
}

/// A live session and its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// Hash of the session token.
    pub token_hash: String,
    /// The signed-in user.
    pub user: UserRow,
    /// Unix ms.
    pub created_at: i64,
    /// Last activity, unix ms.
    pub last_seen: i64,
    /// Sliding expiry, unix ms.
    pub expires_at: i64,
    /// Hard expiry, unix ms.
    pub max_expires_at: i64,
}

/// An entry of a draft's procedural timeline, to record.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// What happened, e.g. `"element_added"`.
    pub kind: String,
    /// The element concerned, if any.
    pub element_id: Option<String>,
    /// Who did it, if a user.
    pub user_id: Option<String>,
    /// The entity of who did it, if any.
    pub entity_code: Option<String>,
    /// Details as JSON text.
    pub data: String,
}

/// A recorded entry of a draft's procedural timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// Increasing over all drafts' events.
    pub seq: i64,
    /// The draft.
    pub draft_id: String,
    /// What happened.
    pub kind: String,
    /// The element concerned, if any.
    pub element_id: Option<String>,
    /// Who did it, if a user.
    pub user_id: Option<String>,
    /// The entity of who did it, if any.
    pub entity_code: Option<String>,
    /// Details as JSON text.
    pub data: String,
    /// Unix ms.
    pub at: i64,
}

/// A server-applied change to a draft's structure, see [`Store::apply_structure`].
#[derive(Clone, Debug, Default)]
pub struct StructureEdit {
    /// The draft edited.
    pub draft_id: String,
    /// The server's change to the index document (stored like any change,
    /// with the ordering user's attribution). Must be changes of documents
    /// of this draft. Their actor (the server's) is not claimed here. Their
    /// `heads_after` is recorded like [`Store::commit_at`] does (a
    /// `doc_heads` row at the edit's commit time), and so are revisions
    /// should they be of element documents.
    pub index_changes: Vec<NewChange>,
    /// New title, if changed.
    pub title: Option<String>,
    /// New preamble, if changed.
    pub preamble: Option<String>,
    /// New elements with their documents (inserted as documents + initial
    /// changes + element rows, like [`Store::create_draft`] does). Without
    /// `order` they are appended after every existing element.
    pub new_elements: Vec<NewElement>,
    /// `(element id, new label)`.
    pub labels: Vec<(String, String)>,
    /// `(element id, archived?)`.
    pub archived: Vec<(String, bool)>,
    /// When `Some`: the complete order of the draft's NON-archived elements
    /// after the edit; positions are rewritten `0..n` in this order (archived
    /// elements keep their position value but are not listed).
    pub order: Option<Vec<String>>,
    /// Timeline entries recorded with the edit (at its commit time).
    pub events: Vec<NewEvent>,
}

/// A stored change of a draft, for listing (without its bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeInfo {
    /// Commit order over all documents.
    pub seq: i64,
    /// The Automerge change hash.
    pub hash: Vec<u8>,
    /// The document changed.
    pub doc_id: String,
    /// The element whose document it is; `None` for the index document.
    pub element_id: Option<String>,
    /// Who delivered it (`None`: the server's own).
    pub user_id: Option<String>,
    /// That user's name, if the user is known.
    pub user_name: Option<String>,
    /// The deliverer's entity, if any.
    pub entity_code: Option<String>,
    /// Unix ms.
    pub committed_at: i64,
}

/// A position to append to the ledger, see [`Store::record_position`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPosition {
    /// The draft.
    pub draft_id: String,
    /// The element the position is on (of that draft).
    pub element_id: String,
    /// The entity holding the position.
    pub entity_code: String,
    /// `support`, `support_ad_ref`, `reservation`, `abstain` or `object`.
    pub stance: String,
    /// The reservation's note or the objection's reason.
    pub note: Option<String>,
    /// Wording proposed with an objection.
    pub wording: Option<String>,
    /// Lowercase hex SHA-256 of the element text the position was given on.
    pub text_hash: String,
    /// JSON array of the element document's hex heads the delegate read.
    pub heads: String,
    /// Who recorded it (`None`: recorded by silence).
    pub user_id: Option<String>,
    /// Recorded by a silence procedure's deadline.
    pub by_silence: bool,
    /// Unix ms.
    pub at: i64,
}

/// A position of the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionRow {
    /// Ledger order, increasing over all drafts.
    pub seq: i64,
    /// The draft.
    pub draft_id: String,
    /// The element.
    pub element_id: String,
    /// The entity holding the position.
    pub entity_code: String,
    /// `support`, `support_ad_ref`, `reservation`, `abstain` or `object`.
    pub stance: String,
    /// The reservation's note or the objection's reason.
    pub note: Option<String>,
    /// Wording proposed with an objection.
    pub wording: Option<String>,
    /// Lowercase hex SHA-256 of the element text the position was given on.
    pub text_hash: String,
    /// JSON array of hex heads.
    pub heads: String,
    /// Who recorded it (`None`: recorded by silence).
    pub user_id: Option<String>,
    /// Recorded by a silence procedure's deadline.
    pub by_silence: bool,
    /// Unix ms.
    pub at: i64,
}

/// A silence procedure to start, see [`Store::start_silence`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSilence {
    /// The draft.
    pub draft_id: String,
    /// The element put under silence (of that draft).
    pub element_id: String,
    /// Unix ms.
    pub deadline: i64,
    /// The element text locked while the silence is active.
    pub locked_text: String,
    /// Lowercase hex SHA-256 of `locked_text`.
    pub locked_text_hash: String,
    /// JSON array of the element document's hex heads at the start.
    pub locked_heads: String,
    /// The user who started it.
    pub started_by: String,
    /// Unix ms.
    pub started_at: i64,
    /// JSON array of the ledger `seq`s of the stale objections the chair
    /// confirmed when starting it (`[]` for none).
    pub confirmed_stale: String,
}

/// A stored silence procedure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceRow {
    /// Increasing over all drafts.
    pub id: i64,
    /// The draft.
    pub draft_id: String,
    /// The element under silence.
    pub element_id: String,
    /// Unix ms.
    pub deadline: i64,
    /// The locked element text.
    pub locked_text: String,
    /// Lowercase hex SHA-256 of `locked_text`.
    pub locked_text_hash: String,
    /// JSON array of hex heads.
    pub locked_heads: String,
    /// The user who started it.
    pub started_by: String,
    /// Unix ms.
    pub started_at: i64,
    /// `active`, `fired`, `broken` or `cancelled`.
    pub state: String,
    /// When it stopped being active (unix ms).
    pub ended_at: Option<i64>,
    /// Who broke or cancelled it (`None` when fired).
    pub ended_by: Option<String>,
    /// Why it was broken (the objection's note).
    pub reason: Option<String>,
    /// JSON array of the ledger `seq`s of the stale objections the chair
    /// confirmed when starting it (`[]` for none, and for silences started
    /// before confirmations were kept).
    pub confirmed_stale: String,
}

/// An adoption of an element, see [`Store::adopt_element`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptionRow {
    /// Increasing over all drafts.
    pub id: i64,
    /// The draft.
    pub draft_id: String,
    /// The adopted element.
    pub element_id: String,
    /// The adopted (locked) text.
    pub text: String,
    /// Lowercase hex SHA-256 of `text`.
    pub text_hash: String,
    /// JSON array of hex heads.
    pub heads: String,
    /// The adopting user.
    pub adopted_by: String,
    /// Unix ms.
    pub adopted_at: i64,
    /// Who reopened it, if reopened.
    pub reopened_by: Option<String>,
    /// When it was reopened (unix ms).
    pub reopened_at: Option<i64>,
}

/// A named version of a draft, see [`Store::create_version`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    /// Increasing over all drafts.
    pub id: i64,
    /// The draft.
    pub draft_id: String,
    /// Unique within the draft.
    pub name: String,
    /// JSON object: document id -> array of hex heads.
    pub heads: String,
    /// Who named it (`None`: the server).
    pub created_by: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// The final version recorded when the draft was adopted.
    pub final_version: bool,
}

/// Which history to list, see [`Store::revisions`], [`Store::events_between`]
/// and [`Store::positions_between`]. Every `None` is "any".
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    /// Only this element.
    pub element_id: Option<String>,
    /// Only this entity.
    pub entity_code: Option<String>,
    /// Only this user.
    pub user_id: Option<String>,
    /// From this time on (unix ms, inclusive).
    pub from: Option<i64>,
    /// Before this time (unix ms, exclusive).
    pub to: Option<i64>,
}

/// A revision: one user's run of changes on one element, with no gap of
/// [`REVISION_GAP_MS`] or more between that user's own changes (whatever
/// others committed in between). Maintained by [`Store::commit_at`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionRow {
    /// Increasing over all drafts.
    pub id: i64,
    /// The draft.
    pub draft_id: String,
    /// The element's document.
    pub doc_id: String,
    /// The element.
    pub element_id: String,
    /// The author.
    pub user_id: String,
    /// The author's name, if the user is known.
    pub user_name: Option<String>,
    /// The author's entity (of the revision's first changes), if any.
    pub entity_code: Option<String>,
    /// Commit time of the revision's first batch (unix ms).
    pub start_at: i64,
    /// Commit time of its last batch (unix ms).
    pub end_at: i64,
    /// Seq of its first change.
    pub first_seq: i64,
    /// Seq of its last change.
    pub last_seq: i64,
    /// How many of the author's changes it holds.
    pub changes: i64,
    /// Characters those changes inserted.
    pub inserted: i64,
    /// Characters those changes deleted.
    pub deleted: i64,
    /// JSON array of the document's hex heads before the revision's first
    /// batch (`"[]"` if no heads were recorded before it).
    pub before_heads: String,
    /// JSON array of the document's hex heads after its latest batch that
    /// gave them (`None`: never given).
    pub after_heads: Option<String>,
}

/// `drafts` columns `id, title, preamble, index_doc, created_at, adopted_at, adopted_by`.
type DraftTuple = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
);
/// `users` columns `id, name, role, entity_code, disabled, created_at`.
type UserTuple = (String, String, String, Option<String>, bool, i64);
/// `sessions` columns `token_hash, created_at, last_seen, expires_at,
/// max_expires_at` followed by the user's [`UserTuple`] columns.
type SessionTuple = (
    String,
    i64,
    i64,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    bool,
    i64,
);
/// `events` columns `seq, draft_id, kind, element_id, user_id, entity_code, data, at`.
type EventTuple = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
);
/// The columns of a [`ChangeInfo`], in field order.
type ChangeInfoTuple = (
    i64,
    Vec<u8>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

/// `positions` columns, see `position_columns!`.
type PositionTuple = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    bool,
    i64,
);
/// `silences` columns, see `silence_columns!`.
type SilenceTuple = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
);
/// `adoptions` columns, see `adoption_columns!`.
type AdoptionTuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
);
/// `versions` columns, see `version_columns!`.
type VersionTuple = (i64, String, String, String, Option<String>, i64, bool);
/// `revisions` columns (and the author's name), see `revision_columns!`.
type RevisionTuple = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    String,
    Option<String>,
);
/// A row just inserted into `changes`: `seq, doc_id, user_id, entity_code,
/// inserted, deleted`.
type InsertedChange = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// A connection pool to the database, SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds, so each
/// query is written once and compiled for both backends.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// Starting a write transaction, per backend.
trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Self::Db>>;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    /// `BEGIN IMMEDIATE` takes the write lock up front (waiting on
    /// `busy_timeout`), instead of failing with `SQLITE_BUSY` when a deferred
    /// transaction later tries to upgrade to a writer.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.begin().await
    }
}

/// One row for `INSERT INTO changes`.
struct ChangeRow<'a> {
    doc_id: &'a str,
    hash: &'a [u8],
    data: &'a [u8],
    peer_id: Option<&'a str>,
    conn_id: Option<i64>,
    user_id: Option<&'a str>,
    entity_code: Option<&'a str>,
    inserted: Option<i64>,
    deleted: Option<i64>,
}

impl<'a> ChangeRow<'a> {
    /// The row of a delivered (or server-applied) change.
    fn delivered(c: &'a NewChange) -> Self {
        ChangeRow {
            doc_id: &c.doc_id,
            hash: &c.hash,
            data: &c.data,
            peer_id: c.peer_id.as_deref(),
            conn_id: c.conn_id,
            user_id: c.user_id.as_deref(),
            entity_code: c.entity_code.as_deref(),
            inserted: c.inserted,
            deleted: c.deleted,
        }
    }

    /// The row of one of a new document's initial changes (no attribution).
    fn initial(doc_id: &'a str, c: &'a NewChangeData) -> Self {
        ChangeRow {
            doc_id,
            hash: &c.hash,
            data: &c.data,
            peer_id: None,
            conn_id: None,
            user_id: None,
            entity_code: None,
            inserted: None,
            deleted: None,
        }
    }
}

/// The rows of `changes` to insert, without repeats of a (document, hash).
fn delivered_rows(changes: &[NewChange]) -> Vec<ChangeRow<'_>> {
    let mut seen = HashSet::with_capacity(changes.len());
    changes
        .iter()
        .filter(|c| seen.insert((c.doc_id.as_str(), c.hash.as_slice())))
        .map(ChangeRow::delivered)
        .collect()
}

/// Inserts `$rows` (a `&[ChangeRow]`) into `changes` within transaction
/// `$tx`, in chunks of multi-row INSERTs, skipping changes already stored.
/// Evaluates to the rows inserted (`Vec<InsertedChange>`, in no particular
/// order).
macro_rules! insert_changes {
    ($tx:expr, $rows:expr, $now:expr) => {{
        let mut inserted: Vec<InsertedChange> = Vec::new();
        for chunk in $rows.chunks(CHANGES_PER_INSERT) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO changes (doc_id, hash, data, peer_id, conn_id, user_id, \
                 entity_code, committed_at, inserted, deleted) ",
            );
            qb.push_values(chunk, |mut b, r: &ChangeRow<'_>| {
                b.push_bind(r.doc_id)
                    .push_bind(r.hash)
                    .push_bind(r.data)
                    .push_bind(r.peer_id)
                    .push_bind(r.conn_id)
                    .push_bind(r.user_id)
                    .push_bind(r.entity_code)
                    .push_bind($now)
                    .push_bind(r.inserted)
                    .push_bind(r.deleted);
            });
            qb.push(
                " ON CONFLICT (doc_id, hash) DO NOTHING \
                 RETURNING seq, doc_id, user_id, entity_code, inserted, deleted",
            );
            inserted.extend(
                qb.build_query_as::<InsertedChange>()
                    .fetch_all(&mut *$tx)
                    .await?,
            );
        }
        inserted
    }};
}

/// What one committed batch adds to one document's history.
#[derive(Debug, PartialEq, Eq)]
struct DocBatch<'a> {
    doc_id: String,
    /// Highest seq among the batch's new rows of the document.
    through_seq: i64,
    /// The document's heads after the batch, if the caller gave them.
    heads_after: Option<&'a str>,
    /// The batch's new rows of the document, per delivering user (rows
    /// without a user are the server's own: no revision).
    runs: Vec<UserRun>,
}

/// One user's new rows of one document in a batch.
#[derive(Debug, PartialEq, Eq)]
struct UserRun {
    user_id: String,
    /// The entity of the user's first row.
    entity_code: Option<String>,
    first_seq: i64,
    last_seq: i64,
    changes: i64,
    inserted: i64,
    deleted: i64,
}

/// Groups the rows a batch inserted by document (then user), with each
/// document's last given `heads_after`. Documents none of whose changes
/// were new are left out: the batch did not change them.
fn batch_history(changes: &[NewChange], mut inserted: Vec<InsertedChange>) -> Vec<DocBatch<'_>> {
    let mut heads: BTreeMap<&str, &str> = BTreeMap::new();
    for c in changes {
        if let Some(h) = c.heads_after.as_deref() {
            heads.insert(&c.doc_id, h);
        }
    }
    inserted.sort_by_key(|row| row.0);
    let mut docs: BTreeMap<String, (i64, BTreeMap<String, UserRun>)> = BTreeMap::new();
    for (seq, doc_id, user_id, entity_code, ins, del) in inserted {
        let (through, runs) = docs.entry(doc_id).or_insert_with(|| (seq, BTreeMap::new()));
        *through = (*through).max(seq);
        let Some(user_id) = user_id else { continue };
        let run = runs.entry(user_id.clone()).or_insert_with(|| UserRun {
            user_id,
            entity_code,
            first_seq: seq,
            last_seq: seq,
            changes: 0,
            inserted: 0,
            deleted: 0,
        });
        run.first_seq = run.first_seq.min(seq);
        run.last_seq = run.last_seq.max(seq);
        run.changes += 1;
        run.inserted += ins.unwrap_or(0);
        run.deleted += del.unwrap_or(0);
    }
    docs.into_iter()
        .map(|(doc_id, (through_seq, runs))| DocBatch {
            heads_after: heads.get(doc_id.as_str()).copied(),
            doc_id,
            through_seq,
            runs: runs.into_values().collect(),
        })
        .collect()
}

/// Records, within transaction `$tx`, what the batch committed at `$now`
/// adds to each document's history (`$batches`: `&[DocBatch]`): a
/// `doc_heads` row where heads are given; for element documents, each
/// user's run extends that user's latest revision of the element if it
/// ended less than [`REVISION_GAP_MS`] before `$now` and no version of the
/// draft was named since it ended (a named version closes every open run,
/// so edits after it are a revision listed after it), else starts a new
/// one whose `before_heads` are the document's latest heads before this
/// batch.
macro_rules! record_history {
    ($tx:expr, $batches:expr, $now:expr) => {{
        let batches: &[DocBatch<'_>] = $batches;
        let now: i64 = $now;
        for doc in batches {
            let element: Option<(String, String)> = if doc.runs.is_empty() {
                None
            } else {
                sqlx::query_as("SELECT id, draft_id FROM elements WHERE doc_id = $1")
                    .bind(&doc.doc_id)
                    .fetch_optional(&mut *$tx)
                    .await?
            };
            let before: Option<(String,)> = if element.is_some() {
                sqlx::query_as(
                    "SELECT heads FROM doc_heads WHERE doc_id = $1 \
                     ORDER BY through_seq DESC, id DESC LIMIT 1",
                )
                .bind(&doc.doc_id)
                .fetch_optional(&mut *$tx)
                .await?
            } else {
                None
            };
            if let Some(heads) = doc.heads_after {
                sqlx::query(
                    "INSERT INTO doc_heads (doc_id, through_seq, committed_at, heads) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&doc.doc_id)
                .bind(doc.through_seq)
                .bind(now)
                .bind(heads)
                .execute(&mut *$tx)
                .await?;
            }
            let Some((element_id, draft_id)) = element else {
                continue;
            };
            let before_heads = before.map_or_else(|| "[]".to_owned(), |(h,)| h);
            // The latest named version (a version named in the same
            // millisecond as a revision's end counts as after it: a
            // revision split in two is harmless, one straddling a version
            // is not).
            let (named,): (Option<i64>,) =
                sqlx::query_as("SELECT MAX(created_at) FROM versions WHERE draft_id = $1")
                    .bind(&draft_id)
                    .fetch_one(&mut *$tx)
                    .await?;
            for run in &doc.runs {
                let latest: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT id, end_at FROM revisions WHERE doc_id = $1 AND user_id = $2 \
                     ORDER BY id DESC LIMIT 1",
                )
                .bind(&doc.doc_id)
                .bind(&run.user_id)
                .fetch_optional(&mut *$tx)
                .await?;
                match latest {
                    Some((id, end_at))
                        if now.saturating_sub(end_at) < REVISION_GAP_MS
                            && named.is_none_or(|named| named < end_at) =>
                    {
                        sqlx::query(
                            "UPDATE revisions SET \
                             end_at = CASE WHEN $1 > end_at THEN $1 ELSE end_at END, \
                             last_seq = CASE WHEN $2 > last_seq THEN $2 ELSE last_seq END, \
                             changes = changes + $3, inserted = inserted + $4, \
                             deleted = deleted + $5, after_heads = COALESCE($6, after_heads) \
                             WHERE id = $7",
                        )
                        .bind(now)
                        .bind(run.last_seq)
                        .bind(run.changes)
                        .bind(run.inserted)
                        .bind(run.deleted)
                        .bind(doc.heads_after)
                        .bind(id)
                        .execute(&mut *$tx)
                        .await?;
                    }
                    _ => {
                        sqlx::query(
                            "INSERT INTO revisions (draft_id, doc_id, element_id, user_id, \
                             entity_code, start_at, end_at, first_seq, last_seq, changes, \
                             inserted, deleted, before_heads, after_heads) \
                             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13)",
                        )
                        .bind(&draft_id)
                        .bind(&doc.doc_id)
                        .bind(&element_id)
                        .bind(&run.user_id)
                        .bind(&run.entity_code)
                        .bind(now)
                        .bind(run.first_seq)
                        .bind(run.last_seq)
                        .bind(run.changes)
                        .bind(run.inserted)
                        .bind(run.deleted)
                        .bind(&before_heads)
                        .bind(doc.heads_after)
                        .execute(&mut *$tx)
                        .await?;
                    }
                }
            }
        }
    }};
}

/// Appends to `$qb` (a query whose WHERE clause is open) the conditions of
/// the [`HistoryFilter`] `$filter` (`$p`: the table's alias prefix, e.g.
/// `"r."`; the time range on column `$time`), the cursor `$after` (rows
/// strictly after `(time, $id)`), the order `($time, $id)` and `LIMIT $limit`.
macro_rules! push_history_filter {
    ($qb:expr, $filter:expr, $after:expr, $limit:expr, $p:literal, $time:literal, $id:literal) => {{
        let filter: &HistoryFilter = $filter;
        if let Some(element_id) = &filter.element_id {
            $qb.push(concat!(" AND ", $p, "element_id = "))
                .push_bind(element_id.clone());
        }
        if let Some(entity_code) = &filter.entity_code {
            $qb.push(concat!(" AND ", $p, "entity_code = "))
                .push_bind(entity_code.clone());
        }
        if let Some(user_id) = &filter.user_id {
            $qb.push(concat!(" AND ", $p, "user_id = "))
                .push_bind(user_id.clone());
        }
        if let Some(from) = filter.from {
            $qb.push(concat!(" AND ", $p, $time, " >= "))
                .push_bind(from);
        }
        if let Some(to) = filter.to {
            $qb.push(concat!(" AND ", $p, $time, " < ")).push_bind(to);
        }
        let after: Option<(i64, i64)> = $after;
        if let Some((at, id)) = after {
            // The first condition alone is a range on the index.
            $qb.push(concat!(" AND ", $p, $time, " >= "))
                .push_bind(at)
                .push(concat!(" AND (", $p, $time, " > "))
                .push_bind(at)
                .push(concat!(" OR ", $p, $id, " > "))
                .push_bind(id)
                .push(")");
        }
        $qb.push(concat!(" ORDER BY ", $p, $time, ", ", $p, $id, " LIMIT "))
            .push_bind($limit);
    }};
}

/// Inserts the [`NewEvent`] `$event` of draft `$draft_id` at `$now` within
/// transaction `$tx`. Evaluates to the event's seq.
macro_rules! insert_event {
    ($tx:expr, $draft_id:expr, $event:expr, $now:expr) => {{
        let event: &NewEvent = $event;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO events (draft_id, kind, element_id, user_id, entity_code, data, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
        )
        .bind($draft_id)
        .bind(&event.kind)
        .bind(&event.element_id)
        .bind(&event.user_id)
        .bind(&event.entity_code)
        .bind(&event.data)
        .bind($now)
        .fetch_one(&mut *$tx)
        .await?;
        seq
    }};
}

/// Fails with [`Error::NotFound`] unless draft `$draft_id` exists (within `$tx`).
macro_rules! require_draft {
    ($tx:expr, $draft_id:expr) => {{
        let draft_id: &str = $draft_id;
        let found: Option<(String,)> = sqlx::query_as("SELECT id FROM drafts WHERE id = $1")
            .bind(draft_id)
            .fetch_optional(&mut *$tx)
            .await?;
        if found.is_none() {
            return Err(Error::NotFound(format!("no draft {draft_id:?}")));
        }
    }};
}

/// Fails with [`Error::NotFound`] unless element `$element_id` of draft
/// `$draft_id` exists (within `$tx`).
macro_rules! require_element {
    ($tx:expr, $draft_id:expr, $element_id:expr) => {{
        let (draft_id, element_id): (&str, &str) = ($draft_id, $element_id);
        let found: Option<(String,)> =
            sqlx::query_as("SELECT id FROM elements WHERE id = $1 AND draft_id = $2")
                .bind(element_id)
                .bind(draft_id)
                .fetch_optional(&mut *$tx)
                .await?;
        if found.is_none() {
            return Err(no_element(element_id, draft_id));
        }
    }};
}

/// Appends the [`NewPosition`] `$position` to the ledger within transaction
/// `$tx`. Evaluates to the position's seq.
macro_rules! insert_position {
    ($tx:expr, $position:expr) => {{
        let p: &NewPosition = $position;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO positions (draft_id, element_id, entity_code, stance, note, wording, \
             text_hash, heads, user_id, by_silence, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq",
        )
        .bind(&p.draft_id)
        .bind(&p.element_id)
        .bind(&p.entity_code)
        .bind(&p.stance)
        .bind(&p.note)
        .bind(&p.wording)
        .bind(&p.text_hash)
        .bind(&p.heads)
        .bind(&p.user_id)
        .bind(p.by_silence)
        .bind(p.at)
        .fetch_one(&mut *$tx)
        .await?;
        seq
    }};
}

/// The `positions` columns read into a [`PositionTuple`].
macro_rules! position_columns {
    () => {
        "seq, draft_id, element_id, entity_code, stance, note, wording, text_hash, heads, \
         user_id, by_silence, at"
    };
}

/// The `silences` columns read into a [`SilenceTuple`].
macro_rules! silence_columns {
    () => {
        "id, draft_id, element_id, deadline, locked_text, locked_text_hash, locked_heads, \
         started_by, started_at, state, ended_at, ended_by, reason, confirmed_stale"
    };
}

/// The `adoptions` columns read into an [`AdoptionTuple`].
macro_rules! adoption_columns {
    () => {
        "id, draft_id, element_id, text, text_hash, heads, adopted_by, adopted_at, \
         reopened_by, reopened_at"
    };
}

/// The `versions` columns read into a [`VersionTuple`].
macro_rules! version_columns {
    () => {
        "id, draft_id, name, heads, created_by, created_at, final"
    };
}

/// The `revisions` columns (alias `r`) and the author's name (alias `u`),
/// read into a [`RevisionTuple`].
macro_rules! revision_columns {
    () => {
        "r.id, r.draft_id, r.doc_id, r.element_id, r.user_id, u.name, r.entity_code, \
         r.start_at, r.end_at, r.first_seq, r.last_seq, r.changes, r.inserted, r.deleted, \
         r.before_heads, r.after_heads"
    };
}

/// Inserts a named version of draft `$draft_id` within transaction `$tx`,
/// [`Error::Conflict`] if the draft has one of that name. Evaluates to its id.
macro_rules! insert_version {
    ($tx:expr, $draft_id:expr, $name:expr, $heads:expr, $by:expr, $final:expr, $now:expr) => {{
        let (draft_id, name): (&str, &str) = ($draft_id, $name);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO versions (draft_id, name, heads, created_by, created_at, final) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(draft_id)
        .bind(name)
        .bind($heads)
        .bind($by)
        .bind($now)
        .bind($final)
        .fetch_one(&mut *$tx)
        .await
        .map_err(|e| {
            conflict_if_unique(e, || {
                format!("draft {draft_id:?} has a version named {name:?}")
            })
        })?;
        id
    }};
}

/// Current time in unix milliseconds.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens a pool for `url`:
    /// - `sqlite:PATH`, `sqlite://PATH` (file created if missing; WAL,
    ///   `synchronous=FULL`, foreign keys on, 5 s busy timeout);
    /// - `postgres://...`, `postgresql://...` (`synchronous_commit=on` on
    ///   every connection).
    ///
    /// Does not run migrations: see [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::InvalidUrl(format!("cannot parse SQLite URL: {e}")))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                // An in-memory database exists once per connection: keep exactly one, forever.
                let in_memory = instance::is_in_memory(url);
                let pool_options = if in_memory {
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS)
                };
                // A new file switches to WAL on its first connection: one process at a time.
                let _lock = instance::sqlite_url_migration_lock(url).await?;
                let pool = pool_options.connect_with(options).await?;
                Ok(Store::Sqlite(pool))
            }
            "postgres" | "postgresql" => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| Error::InvalidUrl(format!("cannot parse PostgreSQL URL: {e}")))?
                    .options([("synchronous_commit", "on")]);
                let pool = PgPoolOptions::new()
                    .max_connections(PG_MAX_CONNECTIONS)
                    .connect_with(options)
                    .await?;
                Ok(Store::Postgres(pool))
            }
            _ => Err(Error::InvalidUrl(format!(
                "unsupported scheme {scheme:?}: expected sqlite:PATH, sqlite://PATH, \
                 postgres://... or postgresql://..."
            ))),
        }
    }

    /// Applies the embedded migrations of this backend (idempotent), one
    /// process at a time: on SQLite under the lock file `DB.migrate.lock`
    /// (waiting at most [`MIGRATION_LOCK_WAIT`]), on PostgreSQL under
    /// sqlx's own advisory lock.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(pool) => {
                // The main database's file; empty when it is in memory or temporary.
                let file: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(pool)
                        .await?;
                let _lock = match file.as_str() {
                    "" => None,
                    file => Some(instance::sqlite_migration_lock(file.as_ref()).await?),
                };
                sqlx::migrate!("./migrations/sqlite").run(pool).await?
            }
            Store::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection of the pool (waits for those in use).
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }

    /// The hashes of a document's changes that may delete characters (a
    /// positive `deleted` count, or uncounted changes the server made), in
    /// commit order: the only changes worth decoding to find who removed
    /// what.
    pub async fn deleting_changes(&self, doc_id: &str) -> Result<Vec<Vec<u8>>> {
        let rows: Vec<(Vec<u8>,)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT hash FROM changes WHERE doc_id = $1 \
                 AND (deleted > 0 OR (deleted IS NULL AND user_id IS NULL)) ORDER BY seq",
            )
            .bind(doc_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(h,)| h).collect())
    }

    /// Writes a consistent copy of the whole SQLite database to `path` while
    /// it is in use (`VACUUM INTO`: one read transaction, a compacted file).
    /// PostgreSQL installations back up with `pg_dump` instead
    /// (`Error::Invalid` here).
    pub async fn backup_to(&self, path: &str) -> Result<()> {
        match self {
            Store::Sqlite(pool) => {
                if std::path::Path::new(path).exists() {
                    return Err(Error::Conflict(format!("{path} exists: choose a new file")));
                }
                sqlx::query("VACUUM INTO $1")
                    .bind(path)
                    .execute(pool)
                    .await?;
                Ok(())
            }
            Store::Postgres(_) => Err(Error::Invalid(
                "back up PostgreSQL with pg_dump (see the README)".into(),
            )),
        }
    }

    /// Commits a real write (the `heartbeat` row), so it fails whenever
    /// storage cannot commit. For `/readyz`.
    pub async fn check_health(&self) -> Result<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO heartbeat (id, at) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Inserts or updates `entities`; their order here becomes their position.
    pub async fn upsert_entities(&self, entities: &[Entity]) -> Result<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            for (position, e) in (0_i64..).zip(entities) {
                sqlx::query(
                    "INSERT INTO entities (code, name, position) VALUES ($1, $2, $3) \
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                     position = excluded.position",
                )
                .bind(&e.code)
                .bind(&e.name)
                .bind(position)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every entity, by position.
    pub async fn entities(&self) -> Result<Vec<Entity>> {
        let rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT code, name FROM entities ORDER BY position, code")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(code, name)| Entity { code, name })
            .collect())
    }

    /// Creates a draft in one transaction: the draft, its participating
    /// entities, its index and element documents, its elements (position =
    /// index in `draft.elements`) and each document's initial changes.
    pub async fn create_draft(&self, draft: &NewDraft) -> Result<()> {
        let now = now_ms();
        let docs: Vec<&NewDocument> = std::iter::once(&draft.index)
            .chain(draft.elements.iter().map(|e| &e.doc))
            .collect();
        let changes: Vec<ChangeRow<'_>> = docs
            .iter()
            .flat_map(|d| d.changes.iter().map(|c| ChangeRow::initial(&d.id, c)))
            .collect();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO drafts (id, title, preamble, index_doc, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&draft.id)
            .bind(&draft.title)
            .bind(&draft.preamble)
            .bind(&draft.index.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for code in &draft.entity_codes {
                sqlx::query("INSERT INTO draft_entities (draft_id, entity_code) VALUES ($1, $2)")
                    .bind(&draft.id)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
            }
            for doc in &docs {
                sqlx::query(
                    "INSERT INTO documents (id, draft_id, kind, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&doc.id)
                .bind(&draft.id)
                .bind(doc.kind.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for (position, el) in (0_i64..).zip(&draft.elements) {
                sqlx::query(
                    "INSERT INTO elements (id, draft_id, position, label, doc_id) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&el.id)
                .bind(&draft.id)
                .bind(position)
                .bind(&el.label)
                .bind(&el.doc.id)
                .execute(&mut *tx)
                .await?;
            }
            insert_changes!(tx, changes, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every draft, oldest first.
    pub async fn drafts(&self) -> Result<Vec<DraftRow>> {
        let rows: Vec<DraftTuple> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, title, preamble, index_doc, created_at, adopted_at, adopted_by \
                 FROM drafts ORDER BY created_at, id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(draft_row).collect())
    }

    /// One draft.
    pub async fn draft(&self, id: &str) -> Result<Option<DraftRow>> {
        let row: Option<DraftTuple> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, title, preamble, index_doc, created_at, adopted_at, adopted_by \
                 FROM drafts WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(draft_row))
    }

    /// The draft's non-archived elements, by position.
    pub async fn elements(&self, draft_id: &str) -> Result<Vec<ElementRow>> {
        let rows: Vec<(String, String, i64, String, String, bool)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, draft_id, position, label, doc_id, archived FROM elements \
                 WHERE draft_id = $1 AND NOT archived ORDER BY position, id",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(element_row).collect())
    }

    /// Every element of the draft including archived ones (ordered by
    /// archived, position).
    pub async fn all_elements(&self, draft_id: &str) -> Result<Vec<ElementRow>> {
        let rows: Vec<(String, String, i64, String, String, bool)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, draft_id, position, label, doc_id, archived FROM elements \
                 WHERE draft_id = $1 ORDER BY archived, position, id",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(element_row).collect())
    }

    /// The entities participating in a draft, by entity position.
    pub async fn draft_entities(&self, draft_id: &str) -> Result<Vec<Entity>> {
        let rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT e.code, e.name FROM draft_entities de \
                 JOIN entities e ON e.code = de.entity_code \
                 WHERE de.draft_id = $1 ORDER BY e.position, e.code",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(code, name)| Entity { code, name })
            .collect())
    }

    /// One document the server created, `None` if unknown.
    pub async fn document(&self, id: &str) -> Result<Option<DocumentRow>> {
        let row: Option<(String, String, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT id, draft_id, kind FROM documents WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(id, draft_id, kind)| {
            Ok(DocumentRow {
                id,
                draft_id,
                kind: DocKind::parse(&kind)?,
            })
        })
        .transpose()
    }

    /// The document's snapshot, if any, and every change after it in seq
    /// order; `None` if the document is unknown.
    pub async fn load_document(&self, id: &str) -> Result<Option<StoredDoc>> {
        with_pool!(self, |pool| {
            // The snapshot is read before the changes: a snapshot saved in
            // between can only cover less than what the changes query returns.
            let mut tx = pool.begin().await?;
            let exists: Option<(String,)> =
                sqlx::query_as("SELECT id FROM documents WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Ok(None);
            }
            let snapshot: Option<(Vec<u8>, i64)> =
                sqlx::query_as("SELECT data, through_seq FROM snapshots WHERE doc_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let through = snapshot.as_ref().map_or(0, |(_, t)| *t);
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, data FROM changes WHERE doc_id = $1 AND seq > $2 ORDER BY seq",
            )
            .bind(id)
            .bind(through)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let last_seq = rows.last().map_or(through, |(seq, _)| (*seq).max(through));
            Ok(Some(StoredDoc {
                snapshot: snapshot.map(|(data, _)| data),
                snapshot_through: through,
                changes: rows.into_iter().map(|(_, data)| data).collect(),
                last_seq,
            }))
        })
    }

    /// [`Store::commit_at`] now (the server's clock).
    pub async fn commit(&self, changes: &[NewChange]) -> Result<CommitReceipt> {
        self.commit_at(changes, now_ms()).await
    }

    /// Commits a batch of changes, possibly of many documents, in ONE
    /// transaction (one fsync for the batch), stamped `now` (unix ms). A
    /// change already stored (same document and hash) is skipped, keeping
    /// its first attribution. Either the whole batch is stored or, on error,
    /// none of it. In the same transaction:
    /// - each actor of a change with a `user_id` that has no owner yet is
    ///   recorded as owned by that user (the first in the batch);
    /// - each document with new rows whose changes carry a `heads_after`
    ///   gets a `doc_heads` row (`through_seq` = its highest new seq,
    ///   `committed_at = now`), see [`Store::doc_heads_at`];
    /// - on element documents, each user's new rows extend that user's
    ///   latest revision of the element if it ended less than
    ///   [`REVISION_GAP_MS`] before `now` and no version of the draft was
    ///   named at or after its end, or start a new one (see
    ///   [`Store::revisions`]). Rows without a user make no revision.
    pub async fn commit_at(&self, changes: &[NewChange], now: i64) -> Result<CommitReceipt> {
        let rows = delivered_rows(changes);
        if rows.is_empty() {
            return Ok(CommitReceipt {
                committed_at: now,
                stored: 0,
            });
        }
        // The first user in the batch to deliver from an actor claims it.
        let mut claimed = HashSet::new();
        let owners: Vec<(&[u8], &str)> = changes
            .iter()
            .filter_map(|c| Some((c.actor.as_slice(), c.user_id.as_deref()?)))
            .filter(|(actor, _)| claimed.insert(*actor))
            .collect();
        let stored = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let inserted = insert_changes!(tx, rows, now);
            let stored = inserted.len();
            record_history!(tx, &batch_history(changes, inserted), now);
            for chunk in owners.chunks(CHANGES_PER_INSERT) {
                let mut qb = QueryBuilder::new("INSERT INTO actors (actor, user_id, first_seen) ");
                qb.push_values(chunk, |mut b, (actor, user_id)| {
                    b.push_bind(*actor).push_bind(*user_id).push_bind(now);
                });
                qb.push(" ON CONFLICT (actor) DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            stored
        });
        Ok(CommitReceipt {
            committed_at: now,
            stored,
        })
    }

    /// Stores the compacted document covering its changes with
    /// `seq <= through_seq`. Never replaces a snapshot that covers more.
    pub async fn save_snapshot(&self, doc_id: &str, data: &[u8], through_seq: i64) -> Result<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO snapshots (doc_id, data, through_seq, saved_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (doc_id) DO UPDATE SET data = excluded.data, \
                 through_seq = excluded.through_seq, saved_at = excluded.saved_at \
                 WHERE snapshots.through_seq <= excluded.through_seq",
            )
            .bind(doc_id)
            .bind(data)
            .bind(through_seq)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A value of the `meta` table.
    pub async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT value FROM meta WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(v,)| v))
    }

    /// Sets a value of the `meta` table.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Highest seq among the document's stored changes, 0 if it has none
    /// (the `through_seq` of a snapshot of everything committed so far).
    pub async fn max_seq(&self, doc_id: &str) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE doc_id = $1")
                .bind(doc_id)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// How many changes of the document are stored (tests, metrics).
    pub async fn changes_count(&self, doc_id: &str) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM changes WHERE doc_id = $1")
                .bind(doc_id)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }
    // --- Users, invites and sessions ------------------------------------

    /// Creates a user. [`Error::Conflict`] if the name (or id) is taken;
    /// [`Error::Invalid`] if a delegate has no entity or the entity code does
    /// not exist.
    pub async fn add_user(&self, user: &NewUser) -> Result<UserRow> {
        let now = now_ms();
        if user.role == Role::Delegate && user.entity_code.is_none() {
            return Err(Error::Invalid(format!(
                "delegate {:?} needs an entity",
                user.name
            )));
        }
        let taken = || format!("a user named {:?} exists", user.name);
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let existing: Option<(String, String)> =
                sqlx::query_as("SELECT id, name FROM users WHERE name = $1 OR id = $2")
                    .bind(&user.name)
                    .bind(&user.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((id, name)) = existing {
                return Err(Error::Conflict(if name == user.name {
                    taken()
                } else {
                    format!("a user with id {id:?} exists")
                }));
            }
            if let Some(code) = &user.entity_code {
                let entity: Option<(String,)> =
                    sqlx::query_as("SELECT code FROM entities WHERE code = $1")
                        .bind(code)
                        .fetch_optional(&mut *tx)
                        .await?;
                if entity.is_none() {
                    return Err(Error::Invalid(format!("no entity with code {code:?}")));
                }
            }
            sqlx::query(
                "INSERT INTO users (id, name, role, entity_code, disabled, created_at) \
                 VALUES ($1, $2, $3, $4, FALSE, $5)",
            )
            .bind(&user.id)
            .bind(&user.name)
            .bind(user.role.as_str())
            .bind(&user.entity_code)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_if_unique(e, taken))?;
            tx.commit().await?;
        });
        Ok(UserRow {
            id: user.id.clone(),
            name: user.name.clone(),
            role: user.role,
            entity_code: user.entity_code.clone(),
            disabled: false,
            created_at: now,
        })
    }

    /// Every user, ordered by name.
    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let rows: Vec<UserTuple> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, role, entity_code, disabled, created_at FROM users \
                 ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(user_row).collect()
    }

    /// The user with this id.
    pub async fn user(&self, id: &str) -> Result<Option<UserRow>> {
        let row: Option<UserTuple> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, role, entity_code, disabled, created_at FROM users \
                 WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(user_row).transpose()
    }

    /// The user with this name.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>> {
        let row: Option<UserTuple> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, role, entity_code, disabled, created_at FROM users \
                 WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
        });
        row.map(user_row).transpose()
    }

    /// Disables or re-enables the user named `name`. Disabling also revokes
    /// the user's sessions and unused invites (their `expires_at` becomes
    /// now), in the same transaction. Returns false if no such user.
    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let found: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((id,)) = found else {
                return Ok(false);
            };
            sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                .bind(disabled)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            if disabled {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE invites SET expires_at = $1 \
                     WHERE user_id = $2 AND used_at IS NULL AND expires_at > $1",
                )
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Ends a user's unused invites of `kind` (a fresh invite replaces
    /// them); returns how many.
    pub async fn expire_invites(&self, user_id: &str, kind: InviteKind) -> Result<u64> {
        let now = now_ms();
        let done = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE invites SET expires_at = $1 \
                 WHERE user_id = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(user_id)
            .bind(kind.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// Stores an invite (only the token's hash) for a user.
    /// [`Error::NotFound`] if the user does not exist, [`Error::Conflict`]
    /// if the token hash is already stored.
    pub async fn create_invite(
        &self,
        user_id: &str,
        token_hash: &str,
        kind: InviteKind,
        expires_at: i64,
    ) -> Result<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let found: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(Error::NotFound(format!("no user with id {user_id:?}")));
            }
            sqlx::query(
                "INSERT INTO invites (token_hash, user_id, kind, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(kind.as_str())
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_if_unique(e, || "this invite token exists".into()))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Redeems an invite and opens `session` for its user, in one
    /// transaction. The invite is marked used only if it is unused,
    /// unexpired (`expires_at > now`) and its user enabled, by one
    /// conditional UPDATE: of two concurrent redeems only one succeeds. The
    /// session then gets `created_at = last_seen = now`. Otherwise nothing
    /// is written and the reason is returned (checked in the order unknown,
    /// used, disabled, expired).
    pub async fn redeem_invite(
        &self,
        token_hash: &str,
        session: &NewSession,
        now: i64,
    ) -> Result<Redeemed> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let claimed = sqlx::query(
                "UPDATE invites SET used_at = $1 \
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                 AND EXISTS (SELECT 1 FROM users u WHERE u.id = invites.user_id AND NOT u.disabled)",
            )
            .bind(now)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                let why: Option<(Option<i64>, bool)> = sqlx::query_as(
                    "SELECT i.used_at, u.disabled FROM invites i \
                     JOIN users u ON u.id = i.user_id WHERE i.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                tx.rollback().await?;
                return Ok(match why {
                    None => Redeemed::Unknown,
                    Some((Some(_), _)) => Redeemed::Used,
                    Some((None, true)) => Redeemed::Disabled,
                    Some((None, false)) => Redeemed::Expired,
                });
            }
            let user: UserTuple = sqlx::query_as(
                "SELECT u.id, u.name, u.role, u.entity_code, u.disabled, u.created_at \
                 FROM invites i JOIN users u ON u.id = i.user_id WHERE i.token_hash = $1",
            )
            .bind(token_hash)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO sessions \
                 (token_hash, user_id, created_at, last_seen, expires_at, max_expires_at) \
                 VALUES ($1, $2, $3, $3, $4, $5)",
            )
            .bind(&session.token_hash)
            .bind(&user.0)
            .bind(now)
            .bind(session.expires_at)
            .bind(session.max_expires_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_if_unique(e, || "this session token exists".into()))?;
            tx.commit().await?;
            Ok(Redeemed::Ok(user_row(user)?))
        })
    }

    /// A live session: not revoked, `expires_at > now` (and
    /// `max_expires_at > now`), user not disabled. `None` otherwise.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionRow>> {
        let row: Option<SessionTuple> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT s.token_hash, s.created_at, s.last_seen, s.expires_at, s.max_expires_at, \
                 u.id, u.name, u.role, u.entity_code, u.disabled, u.created_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL \
                 AND s.expires_at > $2 AND s.max_expires_at > $2 AND NOT u.disabled",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        row.map(
            |(
                token_hash,
                created_at,
                last_seen,
                expires_at,
                max_expires_at,
                id,
                name,
                role,
                entity,
                disabled,
                user_created,
            )| {
                Ok(SessionRow {
                    token_hash,
                    user: user_row((id, name, role, entity, disabled, user_created))?,
                    created_at,
                    last_seen,
                    expires_at,
                    max_expires_at,
                })
            },
        )
        .transpose()
    }

    /// Records activity on a (non-revoked) session and slides its expiry to
    /// `expires_at`, capped at the session's `max_expires_at`.
    pub async fn touch_session(
        &self,
        token_hash: &str,
        last_seen: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET last_seen = $1, \
                 expires_at = CASE WHEN $2 < max_expires_at THEN $2 ELSE max_expires_at END \
                 WHERE token_hash = $3 AND revoked_at IS NULL",
            )
            .bind(last_seen)
            .bind(expires_at)
            .bind(token_hash)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Revokes a session (signing out); a revoked session stays revoked.
    pub async fn revoke_session(&self, token_hash: &str, now: i64) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(token_hash)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The sessions revoked at or after `since` (Unix ms): signed out, or
    /// their user disabled, by any process on this database.
    pub async fn sessions_revoked_since(&self, since: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT token_hash FROM sessions WHERE revoked_at >= $1")
                .bind(since)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(hash,)| hash).collect())
    }

    // --- Actor ownership ------------------------------------------------

    /// Every recorded actor owner: (actor bytes, user_id), oldest first.
    pub async fn actor_owners(&self) -> Result<Vec<(Vec<u8>, String)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as("SELECT actor, user_id FROM actors ORDER BY first_seen, actor")
                .fetch_all(pool)
                .await?
        }))
    }

    /// Records `user_id` as the owner of `actor` if the actor has none
    /// (ON CONFLICT DO NOTHING), then returns the actor's owner.
    pub async fn claim_actor(&self, actor: &[u8], user_id: &str) -> Result<String> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO actors (actor, user_id, first_seen) VALUES ($1, $2, $3) \
                 ON CONFLICT (actor) DO NOTHING",
            )
            .bind(actor)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let (owner,): (String,) = sqlx::query_as("SELECT user_id FROM actors WHERE actor = $1")
                .bind(actor)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(owner)
        })
    }

    // --- Structure edits and the timeline --------------------------------

    /// Applies a structure edit in one transaction (in this order: title and
    /// preamble, new elements, labels, archiving, order, index changes,
    /// events) and returns its commit time (unix ms, also the events' `at`).
    /// [`Error::NotFound`] if the draft, a named element (of that draft) or
    /// an index change's document does not exist; [`Error::Invalid`] if
    /// `order` repeats, omits or names an archived element, or an index
    /// change is for another draft's document. Nothing is written on error.
    pub async fn apply_structure(&self, edit: &StructureEdit) -> Result<i64> {
        self.apply_structure_at(edit, now_ms()).await
    }

    /// [`Store::apply_structure`] stamped `now` (the server's clock, which
    /// tests can move), like [`Store::commit_at`].
    pub async fn apply_structure_at(&self, edit: &StructureEdit, now: i64) -> Result<i64> {
        let draft_id = edit.draft_id.as_str();
        if let Some(order) = &edit.order {
            let mut listed = HashSet::with_capacity(order.len());
            if let Some(dup) = order.iter().find(|id| !listed.insert(id.as_str())) {
                return Err(Error::Invalid(format!(
                    "the order lists element {dup:?} twice"
                )));
            }
        }
        let index_rows = delivered_rows(&edit.index_changes);
        let index_docs: HashSet<&str> = index_rows.iter().map(|r| r.doc_id).collect();
        let initial_rows: Vec<ChangeRow<'_>> = edit
            .new_elements
            .iter()
            .flat_map(|el| {
                el.doc
                    .changes
                    .iter()
                    .map(|c| ChangeRow::initial(&el.doc.id, c))
            })
            .collect();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_draft!(tx, draft_id);
            if edit.title.is_some() || edit.preamble.is_some() {
                sqlx::query(
                    "UPDATE drafts SET title = COALESCE($1, title), \
                     preamble = COALESCE($2, preamble) WHERE id = $3",
                )
                .bind(&edit.title)
                .bind(&edit.preamble)
                .bind(draft_id)
                .execute(&mut *tx)
                .await?;
            }
            if !edit.new_elements.is_empty() {
                let (last,): (i64,) = sqlx::query_as(
                    "SELECT COALESCE(MAX(position), -1) FROM elements WHERE draft_id = $1",
                )
                .bind(draft_id)
                .fetch_one(&mut *tx)
                .await?;
                for (position, el) in (last + 1..).zip(&edit.new_elements) {
                    sqlx::query(
                        "INSERT INTO documents (id, draft_id, kind, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&el.doc.id)
                    .bind(draft_id)
                    .bind(el.doc.kind.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        conflict_if_unique(e, || format!("a document {:?} exists", el.doc.id))
                    })?;
                    sqlx::query(
                        "INSERT INTO elements (id, draft_id, position, label, doc_id) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&el.id)
                    .bind(draft_id)
                    .bind(position)
                    .bind(&el.label)
                    .bind(&el.doc.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        conflict_if_unique(e, || format!("an element {:?} exists", el.id))
                    })?;
                }
                insert_changes!(tx, initial_rows, now);
            }
            for (id, label) in &edit.labels {
                let updated =
                    sqlx::query("UPDATE elements SET label = $1 WHERE id = $2 AND draft_id = $3")
                        .bind(label)
                        .bind(id)
                        .bind(draft_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if updated == 0 {
                    return Err(no_element(id, draft_id));
                }
            }
            for (id, archived) in &edit.archived {
                let updated = sqlx::query(
                    "UPDATE elements SET archived = $1 WHERE id = $2 AND draft_id = $3",
                )
                .bind(archived)
                .bind(id)
                .bind(draft_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Err(no_element(id, draft_id));
                }
            }
            if let Some(order) = &edit.order {
                let rows: Vec<(String, bool)> =
                    sqlx::query_as("SELECT id, archived FROM elements WHERE draft_id = $1")
                        .bind(draft_id)
                        .fetch_all(&mut *tx)
                        .await?;
                let archived: std::collections::HashMap<&str, bool> =
                    rows.iter().map(|(id, a)| (id.as_str(), *a)).collect();
                for id in order {
                    match archived.get(id.as_str()) {
                        None => return Err(no_element(id, draft_id)),
                        Some(true) => {
                            return Err(Error::Invalid(format!(
                                "element {id:?} is archived: the order lists only \
                                 non-archived elements"
                            )));
                        }
                        Some(false) => {}
                    }
                }
                let listed: HashSet<&str> = order.iter().map(String::as_str).collect();
                if let Some((missing, _)) = rows
                    .iter()
                    .find(|(id, archived)| !archived && !listed.contains(id.as_str()))
                {
                    return Err(Error::Invalid(format!(
                        "the order omits element {missing:?}"
                    )));
                }
                for (position, id) in (0_i64..).zip(order) {
                    sqlx::query(
                        "UPDATE elements SET position = $1 WHERE id = $2 AND draft_id = $3",
                    )
                    .bind(position)
                    .bind(id)
                    .bind(draft_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for doc_id in &index_docs {
                let owner: Option<(String,)> =
                    sqlx::query_as("SELECT draft_id FROM documents WHERE id = $1")
                        .bind(*doc_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match owner {
                    None => return Err(Error::NotFound(format!("no document {doc_id:?}"))),
                    Some((owner,)) if owner != draft_id => {
                        return Err(Error::Invalid(format!(
                            "document {doc_id:?} is not part of draft {draft_id:?}"
                        )));
                    }
                    Some(_) => {}
                }
            }
            let inserted = insert_changes!(tx, index_rows, now);
            record_history!(tx, &batch_history(&edit.index_changes, inserted), now);
            for event in &edit.events {
                insert_event!(tx, draft_id, event, now);
            }
            tx.commit().await?;
        });
        Ok(now)
    }

    /// The draft's timeline entries with `seq > after_seq`, in seq order, at
    /// most `limit`.
    pub async fn events(
        &self,
        draft_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        let rows: Vec<EventTuple> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, draft_id, kind, element_id, user_id, entity_code, data, at \
                 FROM events WHERE draft_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(draft_id)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(event_row).collect())
    }

    /// Records one timeline entry now. [`Error::NotFound`] if the draft
    /// does not exist.
    pub async fn record_event(&self, draft_id: &str, event: &NewEvent) -> Result<EventRow> {
        self.record_event_at(draft_id, event, now_ms()).await
    }

    /// [`Store::record_event`] at time `now`.
    pub async fn record_event_at(
        &self,
        draft_id: &str,
        event: &NewEvent,
        now: i64,
    ) -> Result<EventRow> {
        let seq = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_draft!(tx, draft_id);
            let seq = insert_event!(tx, draft_id, event, now);
            tx.commit().await?;
            seq
        });
        Ok(EventRow {
            seq,
            draft_id: draft_id.to_owned(),
            kind: event.kind.clone(),
            element_id: event.element_id.clone(),
            user_id: event.user_id.clone(),
            entity_code: event.entity_code.clone(),
            data: event.data.clone(),
            at: now,
        })
    }

    /// The draft's stored changes (index and element documents) with
    /// `seq > after_seq`, in seq order, at most `limit`; with the element
    /// whose document each changes and the delivering user's name.
    pub async fn draft_changes(
        &self,
        draft_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<ChangeInfo>> {
        let rows: Vec<ChangeInfoTuple> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT c.seq, c.hash, c.doc_id, el.id, c.user_id, u.name, c.entity_code, \
                 c.committed_at FROM changes c \
                 JOIN documents d ON d.id = c.doc_id \
                 LEFT JOIN elements el ON el.doc_id = c.doc_id \
                 LEFT JOIN users u ON u.id = c.user_id \
                 WHERE d.draft_id = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3",
            )
            .bind(draft_id)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(seq, hash, doc_id, element_id, user_id, user_name, entity_code, committed_at)| {
                    ChangeInfo {
                        seq,
                        hash,
                        doc_id,
                        element_id,
                        user_id,
                        user_name,
                        entity_code,
                        committed_at,
                    }
                },
            )
            .collect())
    }

    // --- Consensus: positions, silences, adoptions, versions ------------

    /// Appends a position to the ledger (never updated afterwards).
    /// [`Error::NotFound`] if the element is not one of the draft's.
    ///
    /// If `break_silence` is `Some(silence_id)`, in the same transaction that
    /// silence goes from `active` to `broken` (`ended_at` = the position's
    /// `at`, `ended_by` its user, `reason` its note), only if it is still
    /// active and on the position's element, and then an event
    /// `silence_broken` (element, user and entity of the position, data
    /// `{"silence": id, "reason": note}`) is recorded at the position's `at`.
    /// Returns the row and whether this call broke the silence.
    pub async fn record_position(
        &self,
        position: &NewPosition,
        break_silence: Option<i64>,
    ) -> Result<(PositionRow, bool)> {
        let p = position;
        let (seq, broken) = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_element!(tx, &p.draft_id, &p.element_id);
            let seq = insert_position!(tx, p);
            let mut broken = false;
            if let Some(silence_id) = break_silence {
                broken = sqlx::query(
                    "UPDATE silences SET state = 'broken', ended_at = $1, ended_by = $2, \
                     reason = $3 WHERE id = $4 AND element_id = $5 AND state = 'active'",
                )
                .bind(p.at)
                .bind(&p.user_id)
                .bind(&p.note)
                .bind(silence_id)
                .bind(&p.element_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if broken {
                    let event = NewEvent {
                        kind: "silence_broken".into(),
                        element_id: Some(p.element_id.clone()),
                        user_id: p.user_id.clone(),
                        entity_code: Some(p.entity_code.clone()),
                        data: format!(
                            r#"{{"silence":{silence_id},"reason":{}}}"#,
                            json_opt_string(p.note.as_deref())
                        ),
                    };
                    insert_event!(tx, &p.draft_id, &event, p.at);
                }
            }
            tx.commit().await?;
            (seq, broken)
        });
        let row = PositionRow {
            seq,
            draft_id: p.draft_id.clone(),
            element_id: p.element_id.clone(),
            entity_code: p.entity_code.clone(),
            stance: p.stance.clone(),
            note: p.note.clone(),
            wording: p.wording.clone(),
            text_hash: p.text_hash.clone(),
            heads: p.heads.clone(),
            user_id: p.user_id.clone(),
            by_silence: p.by_silence,
            at: p.at,
        };
        Ok((row, broken))
    }

    /// The draft's whole ledger in seq order.
    pub async fn positions(&self, draft_id: &str) -> Result<Vec<PositionRow>> {
        let rows: Vec<PositionTuple> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                position_columns!(),
                " FROM positions WHERE draft_id = $1 ORDER BY seq"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(position_row).collect())
    }

    /// Starts a silence and, in the same transaction, records `event`
    /// (normally of kind `silence_started`, with the starting user and
    /// entity) at `started_at`: its element defaults to the silence's, and
    /// its data becomes `{"silence": id, "deadline": ms}` followed by the
    /// members of `event.data` if that is a non-empty JSON object.
    /// [`Error::Conflict`] if the element already has an active silence;
    /// [`Error::NotFound`] if the element is not one of the draft's.
    pub async fn start_silence(
        &self,
        silence: &NewSilence,
        event: &NewEvent,
    ) -> Result<SilenceRow> {
        let s = silence;
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_element!(tx, &s.draft_id, &s.element_id);
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO silences (draft_id, element_id, deadline, locked_text, \
                 locked_text_hash, locked_heads, started_by, started_at, state, confirmed_stale) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9) RETURNING id",
            )
            .bind(&s.draft_id)
            .bind(&s.element_id)
            .bind(s.deadline)
            .bind(&s.locked_text)
            .bind(&s.locked_text_hash)
            .bind(&s.locked_heads)
            .bind(&s.started_by)
            .bind(s.started_at)
            .bind(&s.confirmed_stale)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                conflict_if_unique(e, || {
                    format!("element {:?} is already under silence", s.element_id)
                })
            })?;
            let event = NewEvent {
                element_id: event
                    .element_id
                    .clone()
                    .or_else(|| Some(s.element_id.clone())),
                data: json_prepend_members(
                    &format!(r#""silence":{id},"deadline":{}"#, s.deadline),
                    &event.data,
                ),
                ..event.clone()
            };
            insert_event!(tx, &s.draft_id, &event, s.started_at);
            tx.commit().await?;
            id
        });
        Ok(SilenceRow {
            id,
            draft_id: s.draft_id.clone(),
            element_id: s.element_id.clone(),
            deadline: s.deadline,
            locked_text: s.locked_text.clone(),
            locked_text_hash: s.locked_text_hash.clone(),
            locked_heads: s.locked_heads.clone(),
            started_by: s.started_by.clone(),
            started_at: s.started_at,
            state: "active".into(),
            ended_at: None,
            ended_by: None,
            reason: None,
            confirmed_stale: s.confirmed_stale.clone(),
        })
    }

    /// Active silences of every draft, by deadline (for the scheduler at start).
    pub async fn active_silences(&self) -> Result<Vec<SilenceRow>> {
        let rows: Vec<SilenceTuple> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                silence_columns!(),
                " FROM silences WHERE state = 'active' ORDER BY deadline, id"
            ))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(silence_row).collect())
    }

    /// Every silence of a draft, newest first.
    pub async fn silences(&self, draft_id: &str) -> Result<Vec<SilenceRow>> {
        let rows: Vec<SilenceTuple> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                silence_columns!(),
                " FROM silences WHERE draft_id = $1 ORDER BY id DESC"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(silence_row).collect())
    }

    /// Fires a silence exactly once. In one transaction: marks it `fired`
    /// (`ended_at = now`) only if it is active and `deadline <= now`; if that
    /// changed the row, appends `entries` (the positions recorded by silence)
    /// and an event `silence_fired` (no user; data `{"silence": id,
    /// "recorded": n}`) at `now`, commits and returns true. Otherwise nothing
    /// is written and it returns false, so of concurrent callers (even on
    /// several server instances) exactly one gets true. [`Error::Invalid`]
    /// (nothing written) if an entry is for another element.
    pub async fn fire_silence(
        &self,
        silence_id: i64,
        now: i64,
        entries: &[NewPosition],
    ) -> Result<bool> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let fired: Vec<(String, String)> = sqlx::query_as(
                "UPDATE silences SET state = 'fired', ended_at = $1 \
                 WHERE id = $2 AND state = 'active' AND deadline <= $1 \
                 RETURNING draft_id, element_id",
            )
            .bind(now)
            .bind(silence_id)
            .fetch_all(&mut *tx)
            .await?;
            let [(draft_id, element_id)] = fired.as_slice() else {
                tx.rollback().await?;
                return Ok(false);
            };
            for entry in entries {
                if entry.draft_id != *draft_id || entry.element_id != *element_id {
                    return Err(Error::Invalid(format!(
                        "silence {silence_id} is on element {element_id:?}, not on {:?}",
                        entry.element_id
                    )));
                }
                insert_position!(tx, entry);
            }
            let event = NewEvent {
                kind: "silence_fired".into(),
                element_id: Some(element_id.clone()),
                user_id: None,
                entity_code: None,
                data: format!(r#"{{"silence":{silence_id},"recorded":{}}}"#, entries.len()),
            };
            insert_event!(tx, draft_id.as_str(), &event, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Cancels an active silence (state `cancelled`, `ended_by`, `ended_at`)
    /// and records an event `silence_cancelled` (data `{"silence": id}`) at
    /// `now`, one transaction; false (nothing written) if it was not active.
    pub async fn cancel_silence(&self, silence_id: i64, by: &str, now: i64) -> Result<bool> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let cancelled: Option<(String, String)> = sqlx::query_as(
                "UPDATE silences SET state = 'cancelled', ended_at = $1, ended_by = $2 \
                 WHERE id = $3 AND state = 'active' RETURNING draft_id, element_id",
            )
            .bind(now)
            .bind(by)
            .bind(silence_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((draft_id, element_id)) = cancelled else {
                tx.rollback().await?;
                return Ok(false);
            };
            let event = NewEvent {
                kind: "silence_cancelled".into(),
                element_id: Some(element_id),
                user_id: Some(by.to_owned()),
                entity_code: None,
                data: format!(r#"{{"silence":{silence_id}}}"#),
            };
            insert_event!(tx, draft_id.as_str(), &event, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Adopts an element (its text locked until reopened) and records an
    /// event `element_adopted` (data `{"adoption": id, "text_hash": hash}`)
    /// at `now`, one transaction. [`Error::Conflict`] if it is already
    /// adopted (and not reopened); [`Error::NotFound`] if the element is not
    /// one of the draft's.
    #[allow(clippy::too_many_arguments)]
    pub async fn adopt_element(
        &self,
        draft_id: &str,
        element_id: &str,
        text: &str,
        text_hash: &str,
        heads: &str,
        by: &str,
        now: i64,
    ) -> Result<AdoptionRow> {
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_element!(tx, draft_id, element_id);
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO adoptions (draft_id, element_id, text, text_hash, heads, \
                 adopted_by, adopted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(draft_id)
            .bind(element_id)
            .bind(text)
            .bind(text_hash)
            .bind(heads)
            .bind(by)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                conflict_if_unique(e, || format!("element {element_id:?} is already adopted"))
            })?;
            let event = NewEvent {
                kind: "element_adopted".into(),
                element_id: Some(element_id.to_owned()),
                user_id: Some(by.to_owned()),
                entity_code: None,
                data: format!(
                    r#"{{"adoption":{id},"text_hash":{}}}"#,
                    json_string(text_hash)
                ),
            };
            insert_event!(tx, draft_id, &event, now);
            tx.commit().await?;
            id
        });
        Ok(AdoptionRow {
            id,
            draft_id: draft_id.to_owned(),
            element_id: element_id.to_owned(),
            text: text.to_owned(),
            text_hash: text_hash.to_owned(),
            heads: heads.to_owned(),
            adopted_by: by.to_owned(),
            adopted_at: now,
            reopened_by: None,
            reopened_at: None,
        })
    }

    /// Reopens an adopted element (the adoption row is kept, marked
    /// reopened) and records an event `element_reopened` (data
    /// `{"adoption": id}`) at `now`, one transaction; false (nothing
    /// written) if the element was not adopted.
    pub async fn reopen_element(
        &self,
        draft_id: &str,
        element_id: &str,
        by: &str,
        now: i64,
    ) -> Result<bool> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let reopened: Option<(i64,)> = sqlx::query_as(
                "UPDATE adoptions SET reopened_by = $1, reopened_at = $2 \
                 WHERE draft_id = $3 AND element_id = $4 AND reopened_at IS NULL \
                 RETURNING id",
            )
            .bind(by)
            .bind(now)
            .bind(draft_id)
            .bind(element_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = reopened else {
                tx.rollback().await?;
                return Ok(false);
            };
            let event = NewEvent {
                kind: "element_reopened".into(),
                element_id: Some(element_id.to_owned()),
                user_id: Some(by.to_owned()),
                entity_code: None,
                data: format!(r#"{{"adoption":{id}}}"#),
            };
            insert_event!(tx, draft_id, &event, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The draft's current (not reopened) adoptions, oldest first.
    pub async fn adoptions(&self, draft_id: &str) -> Result<Vec<AdoptionRow>> {
        let rows: Vec<AdoptionTuple> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                adoption_columns!(),
                " FROM adoptions WHERE draft_id = $1 AND reopened_at IS NULL ORDER BY id"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(adoption_row).collect())
    }

    /// The lock of the element whose document is `doc_id`, if any: the text
    /// of its current adoption, else the locked text of its active silence.
    pub async fn element_lock(&self, doc_id: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT text FROM ( \
                 SELECT 0 AS priority, a.text AS text FROM adoptions a \
                 JOIN elements el ON el.id = a.element_id \
                 WHERE el.doc_id = $1 AND a.reopened_at IS NULL \
                 UNION ALL \
                 SELECT 1 AS priority, s.locked_text AS text FROM silences s \
                 JOIN elements el ON el.id = s.element_id \
                 WHERE el.doc_id = $1 AND s.state = 'active' \
                 ) AS locks ORDER BY priority LIMIT 1",
            )
            .bind(doc_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(text,)| text))
    }

    /// Names a version of the draft and records an event `version_named`
    /// (data `{"version": id, "name": name}`) at `now`, one transaction.
    /// [`Error::Conflict`] if the draft has a version of that name;
    /// [`Error::NotFound`] if the draft does not exist.
    pub async fn create_version(
        &self,
        draft_id: &str,
        name: &str,
        heads: &str,
        by: Option<&str>,
        final_version: bool,
        now: i64,
    ) -> Result<VersionRow> {
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            require_draft!(tx, draft_id);
            let id = insert_version!(tx, draft_id, name, heads, by, final_version, now);
            let event = NewEvent {
                kind: "version_named".into(),
                element_id: None,
                user_id: by.map(str::to_owned),
                entity_code: None,
                data: format!(r#"{{"version":{id},"name":{}}}"#, json_string(name)),
            };
            insert_event!(tx, draft_id, &event, now);
            tx.commit().await?;
            id
        });
        Ok(VersionRow {
            id,
            draft_id: draft_id.to_owned(),
            name: name.to_owned(),
            heads: heads.to_owned(),
            created_by: by.map(str::to_owned),
            created_at: now,
            final_version,
        })
    }

    /// Everyone who appears in the draft's history — authors of revisions,
    /// delegates who recorded positions, chairs who acted — as `(user id,
    /// user name, entity code)`, by name. Positions recorded by silence have
    /// no user and are left out; a user who acted for two entities appears
    /// once per entity.
    pub async fn history_people(
        &self,
        draft_id: &str,
    ) -> Result<Vec<(String, Option<String>, Option<String>)>> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT p.user_id, u.name, p.entity_code FROM ( \
                 SELECT user_id, entity_code FROM revisions WHERE draft_id = $1 \
                 UNION SELECT user_id, entity_code FROM positions \
                 WHERE draft_id = $1 AND user_id IS NOT NULL \
                 UNION SELECT user_id, entity_code FROM events \
                 WHERE draft_id = $1 AND user_id IS NOT NULL) p \
                 LEFT JOIN users u ON u.id = p.user_id",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        let mut rows: Vec<(String, Option<String>, Option<String>)> = rows;
        rows.sort_by(|a, b| {
            let key = |r: &(String, Option<String>, Option<String>)| {
                (
                    r.1.clone().unwrap_or_else(|| r.0.clone()),
                    r.0.clone(),
                    r.2.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        Ok(rows)
    }

    /// The draft's named versions, oldest first.
    pub async fn versions(&self, draft_id: &str) -> Result<Vec<VersionRow>> {
        let rows: Vec<VersionTuple> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                version_columns!(),
                " FROM versions WHERE draft_id = $1 ORDER BY created_at, id"
            ))
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(version_row).collect())
    }

    /// Adopts the whole draft in one transaction: sets `drafts.adopted_at`
    /// and `adopted_by`, names the final version (`final_version = true`)
    /// and records an event `draft_adopted` (data `{"version": id, "name":
    /// name}`) at `now`. [`Error::Conflict`] if the draft is already adopted
    /// or has a version of that name; [`Error::NotFound`] if it does not
    /// exist. Nothing is written on error.
    pub async fn adopt_draft(
        &self,
        draft_id: &str,
        by: &str,
        version_name: &str,
        heads: &str,
        now: i64,
    ) -> Result<VersionRow> {
        let id = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE drafts SET adopted_at = $1, adopted_by = $2 \
                 WHERE id = $3 AND adopted_at IS NULL",
            )
            .bind(now)
            .bind(by)
            .bind(draft_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                require_draft!(tx, draft_id);
                return Err(Error::Conflict(format!(
                    "draft {draft_id:?} is already adopted"
                )));
            }
            let id = insert_version!(tx, draft_id, version_name, heads, Some(by), true, now);
            let event = NewEvent {
                kind: "draft_adopted".into(),
                element_id: None,
                user_id: Some(by.to_owned()),
                entity_code: None,
                data: format!(r#"{{"version":{id},"name":{}}}"#, json_string(version_name)),
            };
            insert_event!(tx, draft_id, &event, now);
            tx.commit().await?;
            id
        });
        Ok(VersionRow {
            id,
            draft_id: draft_id.to_owned(),
            name: version_name.to_owned(),
            heads: heads.to_owned(),
            created_by: Some(by.to_owned()),
            created_at: now,
            final_version: true,
        })
    }

    // --- History -------------------------------------------------------

    /// The revision holding the latest change of element document `doc_id`
    /// by a user (the server's own changes make none), if any.
    pub async fn latest_revision(&self, doc_id: &str) -> Result<Option<RevisionRow>> {
        let row: Option<RevisionTuple> = with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                revision_columns!(),
                " FROM revisions r LEFT JOIN users u ON u.id = r.user_id WHERE r.doc_id = $1 \
                 ORDER BY r.last_seq DESC, r.id DESC LIMIT 1"
            ))
            .bind(doc_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(revision_row))
    }

    /// Revisions of a draft matching `filter` (its time range on `start_at`:
    /// `from` inclusive, `to` exclusive), ordered by `(start_at, id)`, those
    /// strictly after `after = Some((start_at, id))`, at most `limit`.
    pub async fn revisions(
        &self,
        draft_id: &str,
        filter: &HistoryFilter,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<RevisionRow>> {
        let rows: Vec<RevisionTuple> = with_pool!(self, |pool| {
            let mut qb = QueryBuilder::new(concat!(
                "SELECT ",
                revision_columns!(),
                " FROM revisions r LEFT JOIN users u ON u.id = r.user_id WHERE r.draft_id = "
            ));
            qb.push_bind(draft_id.to_owned());
            push_history_filter!(qb, filter, after, limit, "r.", "start_at", "id");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(revision_row).collect())
    }

    /// The document's heads (JSON array of hex hashes) as of time `at`: those
    /// of the latest `doc_heads` row with `committed_at <= at`; `None` if
    /// none was recorded by then.
    pub async fn doc_heads_at(&self, doc_id: &str, at: i64) -> Result<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT heads FROM doc_heads WHERE doc_id = $1 AND committed_at <= $2 \
                 ORDER BY committed_at DESC, id DESC LIMIT 1",
            )
            .bind(doc_id)
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(heads,)| heads))
    }

    /// `(document id, heads)` of every document of the draft (index and
    /// elements, archived ones included) as of time `at`, like
    /// [`Store::doc_heads_at`]: the index document first, then elements in
    /// [`Store::all_elements`] order. Documents without heads recorded by
    /// then are left out.
    pub async fn draft_heads_at(&self, draft_id: &str, at: i64) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, Option<String>)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT d.id, (SELECT h.heads FROM doc_heads h \
                 WHERE h.doc_id = d.id AND h.committed_at <= $2 \
                 ORDER BY h.committed_at DESC, h.id DESC LIMIT 1) \
                 FROM documents d LEFT JOIN elements el ON el.doc_id = d.id \
                 WHERE d.draft_id = $1 \
                 ORDER BY CASE WHEN d.kind = 'index' THEN 0 ELSE 1 END, \
                 el.archived, el.position, d.id",
            )
            .bind(draft_id)
            .bind(at)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(doc_id, heads)| Some((doc_id, heads?)))
            .collect())
    }

    /// Every change of a document as `(hash, user_id, entity_code,
    /// committed_at)`, in seq order: for attributing operations to users.
    pub async fn change_authors(
        &self,
        doc_id: &str,
    ) -> Result<Vec<(Vec<u8>, Option<String>, Option<String>, i64)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT hash, user_id, entity_code, committed_at FROM changes \
                 WHERE doc_id = $1 ORDER BY seq",
            )
            .bind(doc_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The draft's timeline entries matching `filter` (time range on `at`;
    /// element, entity and user of the entry), ordered by `(at, seq)`, those
    /// strictly after `after = Some((at, seq))`, at most `limit`.
    pub async fn events_between(
        &self,
        draft_id: &str,
        filter: &HistoryFilter,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        let rows: Vec<EventTuple> = with_pool!(self, |pool| {
            let mut qb = QueryBuilder::new(
                "SELECT seq, draft_id, kind, element_id, user_id, entity_code, data, at \
                 FROM events WHERE draft_id = ",
            );
            qb.push_bind(draft_id.to_owned());
            push_history_filter!(qb, filter, after, limit, "", "at", "seq");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(event_row).collect())
    }

    /// The draft's ledger rows matching `filter` (time range on `at`;
    /// element, entity holding the position, recording user), ordered by
    /// `(at, seq)`, those strictly after `after = Some((at, seq))`, at most
    /// `limit`.
    pub async fn positions_between(
        &self,
        draft_id: &str,
        filter: &HistoryFilter,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<PositionRow>> {
        let rows: Vec<PositionTuple> = with_pool!(self, |pool| {
            let mut qb = QueryBuilder::new(concat!(
                "SELECT ",
                position_columns!(),
                " FROM positions WHERE draft_id = "
            ));
            qb.push_bind(draft_id.to_owned());
            push_history_filter!(qb, filter, after, limit, "", "at", "seq");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(position_row).collect())
    }
}

fn draft_row(
    (id, title, preamble, index_doc, created_at, adopted_at, adopted_by): DraftTuple,
) -> DraftRow {
    DraftRow {
        id,
        title,
        preamble,
        index_doc,
        created_at,
        adopted_at,
        adopted_by,
    }
}

fn element_row(
    (id, draft_id, position, label, doc_id, archived): (String, String, i64, String, String, bool),
) -> ElementRow {
    ElementRow {
        id,
        draft_id,
        position,
        label,
        doc_id,
        archived,
    }
}

fn user_row((id, name, role, entity_code, disabled, created_at): UserTuple) -> Result<UserRow> {
    let role = Role::parse(&role).ok_or_else(|| {
        Error::Database(sqlx::Error::Decode(
            format!("unknown user role {role:?}").into(),
        ))
    })?;
    Ok(UserRow {
        id,
        name,
        role,
        entity_code,
        disabled,
        created_at,
    })
}

fn event_row(
    (seq, draft_id, kind, element_id, user_id, entity_code, data, at): EventTuple,
) -> EventRow {
    EventRow {
        seq,
        draft_id,
        kind,
        element_id,
        user_id,
        entity_code,
        data,
        at,
    }
}

fn position_row(
    (
        seq,
        draft_id,
        element_id,
        entity_code,
        stance,
        note,
        wording,
        text_hash,
        heads,
        user_id,
        by_silence,
        at,
    ): PositionTuple,
) -> PositionRow {
    PositionRow {
        seq,
        draft_id,
        element_id,
        entity_code,
        stance,
        note,
        wording,
        text_hash,
        heads,
        user_id,
        by_silence,
        at,
    }
}

fn silence_row(
    (
        id,
        draft_id,
        element_id,
        deadline,
        locked_text,
        locked_text_hash,
        locked_heads,
        started_by,
        started_at,
        state,
        ended_at,
        ended_by,
        reason,
        confirmed_stale,
    ): SilenceTuple,
) -> SilenceRow {
    SilenceRow {
        id,
        draft_id,
        element_id,
        deadline,
        locked_text,
        locked_text_hash,
        locked_heads,
        started_by,
        started_at,
        state,
        ended_at,
        ended_by,
        reason,
        confirmed_stale,
    }
}

fn adoption_row(
    (
        id,
        draft_id,
        element_id,
        text,
        text_hash,
        heads,
        adopted_by,
        adopted_at,
        reopened_by,
        reopened_at,
    ): AdoptionTuple,
) -> AdoptionRow {
    AdoptionRow {
        id,
        draft_id,
        element_id,
        text,
        text_hash,
        heads,
        adopted_by,
        adopted_at,
        reopened_by,
        reopened_at,
    }
}

fn version_row(
    (id, draft_id, name, heads, created_by, created_at, final_version): VersionTuple,
) -> VersionRow {
    VersionRow {
        id,
        draft_id,
        name,
        heads,
        created_by,
        created_at,
        final_version,
    }
}

fn revision_row(
    (
        id,
        draft_id,
        doc_id,
        element_id,
        user_id,
        user_name,
        entity_code,
        start_at,
        end_at,
        first_seq,
        last_seq,
        changes,
        inserted,
        deleted,
        before_heads,
        after_heads,
    ): RevisionTuple,
) -> RevisionRow {
    RevisionRow {
        id,
        draft_id,
        doc_id,
        element_id,
        user_id,
        user_name,
        entity_code,
        start_at,
        end_at,
        first_seq,
        last_seq,
        changes,
        inserted,
        deleted,
        before_heads,
        after_heads,
    }
}

/// `s` as a JSON string literal, quoted and escaped (event data is built
/// here without a JSON library).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` as a JSON string literal, `null` if `None`.
fn json_opt_string(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_owned(), json_string)
}

/// The JSON object with `members` (e.g. `"a":1,"b":2`) followed by the
/// members of `object` if it is a non-empty JSON object (anything else is
/// dropped).
fn json_prepend_members(members: &str, object: &str) -> String {
    let inner = object
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .map(str::trim)
        .unwrap_or("");
    if inner.is_empty() {
        format!("{{{members}}}")
    } else {
        format!("{{{members},{inner}}}")
    }
}

/// `e` as [`Error::Conflict`] with `message()` if it is a unique-constraint
/// violation (a concurrent writer won), as [`Error::Database`] otherwise.
fn conflict_if_unique(e: sqlx::Error, message: impl FnOnce() -> String) -> Error {
    match e.as_database_error() {
        Some(db) if db.is_unique_violation() => Error::Conflict(message()),
        _ => Error::Database(e),
    }
}

fn no_element(id: &str, draft_id: &str) -> Error {
    Error::NotFound(format!("no element {id:?} in draft {draft_id:?}"))
}
