//! What the consensus API answers, as types: the bodies the commands
//! return and the refusals that carry more than a code and a message. The
//! OpenAPI document describes these very types (`Stance`, `Standing`,
//! `DraftState` and `Progress` are the rules' own, from `accord-consensus`).
//!
//! Times are RFC 3339, UTC, with milliseconds ([`crate::clock::iso`]);
//! text hashes and heads lowercase hex SHA-256.

use std::collections::BTreeMap;

use accord_consensus::{DraftState, Progress, Stance, Standing, Status};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    Array, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type,
};

use crate::drafts::EntityView;
use crate::error::ApiError;

/// A lowercase hex SHA-256 (a text hash or a change hash).
pub(crate) const HEX_HASH: &str = "^[0-9a-f]{64}$";

/// An element's status; the first that applies (the rules' [`Status`]
/// without the deadline).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(
    description = "An element's status; the first that applies: `adopted` by a chair; `under_silence` (a silence procedure runs); `objected` (a current objection); `bracketed` (the text contains `[` or `]`); `agreed` (every participating entity has a current position, at least one supports, none objects); `agreed_ad_ref` (so, with some support ad referendum); `open`."
)]
pub enum ElementStatus {
    Adopted,
    UnderSilence,
    Objected,
    Bracketed,
    Agreed,
    AgreedAdRef,
    Open,
}

impl From<&Status> for ElementStatus {
    fn from(status: &Status) -> Self {
        match status {
            Status::Adopted => ElementStatus::Adopted,
            Status::UnderSilence { .. } => ElementStatus::UnderSilence,
            Status::Objected => ElementStatus::Objected,
            Status::Bracketed => ElementStatus::Bracketed,
            Status::Agreed => ElementStatus::Agreed,
            Status::AgreedAdRef => ElementStatus::AgreedAdRef,
            Status::Open => ElementStatus::Open,
        }
    }
}

/// One recorded position (the ledger is append-only; an entity's latest
/// counts).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = PositionEntry)]
pub struct Position {
    /// Ledger order.
    pub seq: i64,
    pub entity: String,
    pub position: Stance,
    /// A reservation's note, an objection's reason, or a comment.
    #[schema(required = true)]
    pub note: Option<String>,
    /// An objection's proposed wording.
    #[schema(required = true)]
    pub wording: Option<String>,
    /// The hash of the text the position was given on.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
    /// Who recorded it; null for support recorded by silence.
    #[schema(required = true)]
    pub user: Option<String>,
    #[schema(required = true)]
    pub user_name: Option<String>,
    /// Support recorded when a silence procedure ended without objection.
    pub by_silence: bool,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
}

/// A participating entity's standing on an element, with its latest
/// position (null fields when it has none).
#[derive(Debug, Serialize, ToSchema)]
pub struct MatrixCell {
    pub entity: String,
    pub standing: Standing,
    #[schema(required = true)]
    pub position: Option<Stance>,
    #[schema(required = true)]
    pub note: Option<String>,
    #[schema(required = true)]
    pub wording: Option<String>,
    #[schema(required = true)]
    pub user_name: Option<String>,
    pub by_silence: bool,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime, required = true)]
    pub at: Option<String>,
}

/// A running silence procedure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveSilence {
    pub id: i64,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub deadline: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub started_at: String,
    /// The chair's name.
    pub started_by: String,
}

/// How the element's most recent silence procedure ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedSilence {
    /// `fired`, `broken` or `cancelled`.
    #[schema(schema_with = ended_state)]
    pub state: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub deadline: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime, required = true)]
    pub ended_at: Option<String>,
    /// Who ended it (the objector or the chair who cancelled); null when
    /// it fired.
    #[schema(required = true)]
    pub ended_by: Option<String>,
    /// The entity of whoever ended it.
    #[schema(required = true)]
    pub entity: Option<String>,
    /// The objection's reason when it was broken.
    #[schema(required = true)]
    pub reason: Option<String>,
}

/// An element's adoption.
#[derive(Debug, Serialize, ToSchema)]
pub struct Adoption {
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
    /// The chair's name.
    pub by: String,
    /// The hash of the adopted text.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
}

/// An element's status and matrix row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ElementConsensus {
    pub id: String,
    pub label: String,
    pub status: ElementStatus,
    /// The silence deadline when `under_silence`; RFC 3339, UTC, with
    /// milliseconds.
    #[schema(format = DateTime, required = true)]
    pub deadline: Option<String>,
    #[schema(required = true)]
    pub silence: Option<ActiveSilence>,
    #[schema(required = true)]
    pub last_silence: Option<EndedSilence>,
    #[schema(required = true)]
    pub adopted: Option<Adoption>,
    /// SHA-256 of the current text as UTF-8, lowercase hex: what a position
    /// is bound to.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
    /// The element document's heads, lowercase hex change hashes.
    #[schema(schema_with = element_heads)]
    pub heads: Vec<String>,
    /// The text contains `[` or `]`.
    pub bracketed: bool,
    /// Who may type into it (`amendments`: chairs only; delegates propose).
    pub mode: crate::drafts::EditingMode,
    /// Entities without a current position (none or stale).
    pub not_responded: Vec<String>,
    /// Entities whose latest position was given on another text.
    pub stale: Vec<String>,
    /// Current objections.
    pub objections: Vec<Position>,
    /// Current reservations.
    pub reservations: Vec<Position>,
    /// Entities with current support ad referendum.
    pub ad_ref: Vec<String>,
    /// One cell per participating entity, in the draft's order.
    pub matrix: Vec<MatrixCell>,
}

/// A draft's consensus state.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Consensus)]
pub struct ConsensusReport {
    pub draft: String,
    pub state: DraftState,
    pub progress: Progress,
    /// The progress in a sentence, e.g. "5 of 8 elements agreed, 2
    /// adopted; 3 entities have not responded on (c)".
    pub summary: String,
    /// When a chair adopted the draft; RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime, required = true)]
    pub adopted_at: Option<String>,
    /// The elements that are not archived, in order.
    pub elements: Vec<ElementConsensus>,
    /// The participating entities.
    pub entities: Vec<EntityView>,
    /// Participating entities' names by code.
    pub entity_names: BTreeMap<String, String>,
    /// The consensus clock now; RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// The element a position was stated on, and its status now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ElementStatusNow {
    pub id: String,
    pub status: ElementStatus,
}

/// The recorded position and the element's status now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionRecorded {
    pub position: Position,
    #[schema(inline)]
    pub element: ElementStatusNow,
    /// This objection ended the element's silence procedure.
    pub silence_broken: bool,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// An error of stating a position (409): the `Error` body, with
/// `current_hash` when the text changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionError {
    pub error: &'static str,
    pub message: String,
    /// With `text_changed`: the hash of the text now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{64}$", nullable = false)]
    pub current_hash: Option<String>,
}

impl From<PositionError> for ApiError {
    fn from(body: PositionError) -> Self {
        conflict(body.error, body.message.clone(), &body)
    }
}

/// An element a silence procedure cannot start on, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct SilenceRefusal {
    pub element: String,
    pub label: String,
    /// `adopted`, `already_under_silence`, `objected`, `bracketed` or
    /// `deadline_too_soon`.
    #[schema(schema_with = refusal_code)]
    pub error: &'static str,
    pub message: String,
}

/// A stale objection: an entity's latest position on the element is an
/// objection given on an earlier text.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StaleObjection {
    pub element: String,
    pub label: String,
    /// The objecting entity's code.
    pub entity: String,
    pub entity_name: Option<String>,
    /// The objection's place in the positions ledger.
    pub seq: i64,
    /// The objection's reason.
    #[schema(required = true)]
    pub note: Option<String>,
    /// The hash of the earlier text it was given on.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
}

impl StaleObjection {
    /// As confirmed when the silence starts.
    pub fn confirmed(&self) -> ConfirmedStaleObjection {
        ConfirmedStaleObjection {
            entity: self.entity.clone(),
            seq: self.seq,
            note: self.note.clone(),
            text_hash: self.text_hash.clone(),
            at: self.at.clone(),
        }
    }
}

/// A stale objection the chair confirmed when starting the silence (also
/// recorded in the `silence_started` event's data as
/// `confirmed_stale_objections`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConfirmedStaleObjection {
    pub entity: String,
    pub seq: i64,
    #[schema(required = true)]
    pub note: Option<String>,
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
}

/// An error of starting silence procedures (409): the `Error` body, with
/// `refusals` or `stale_objections`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SilenceError {
    pub error: &'static str,
    pub message: String,
    /// With `silence_refused`: each element refused and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, nullable = false)]
    pub refusals: Option<Vec<SilenceRefusal>>,
    /// With `stale_objections`: every stale objection on the elements
    /// named, to confirm with `confirm_stale_objections`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, nullable = false)]
    pub stale_objections: Option<Vec<StaleObjection>>,
}

impl From<SilenceError> for ApiError {
    fn from(body: SilenceError) -> Self {
        conflict(body.error, body.message.clone(), &body)
    }
}

/// A 409 whose body is `body` (which repeats `code` and `message`).
fn conflict(code: &'static str, message: String, body: &impl Serialize) -> ApiError {
    let mut error = ApiError::conflict(code, message);
    error.extra = Some(serde_json::to_value(body).unwrap_or_default());
    error
}

/// A silence procedure started.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartedSilence {
    pub id: i64,
    pub element: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub deadline: String,
    /// The hash of the text locked under silence.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
    /// The stale objections on this element the chair confirmed (empty
    /// when there were none).
    pub confirmed_stale_objections: Vec<ConfirmedStaleObjection>,
}

/// The procedures started.
#[derive(Debug, Serialize, ToSchema)]
pub struct SilencesStarted {
    #[schema(min_items = 1)]
    pub silences: Vec<StartedSilence>,
}

/// The procedures cancelled.
#[derive(Debug, Serialize, ToSchema)]
pub struct SilencesCancelled {
    /// The elements whose procedure was cancelled.
    #[schema(min_items = 1)]
    pub cancelled: Vec<String>,
}

/// An element's status now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ElementState {
    pub id: String,
    pub label: String,
    pub status: ElementStatus,
}

/// Every document of a draft by document id: its heads.
pub type DocumentHeads = BTreeMap<String, Vec<String>>;

/// The final version.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinalVersion {
    pub name: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Every document of the draft (the index and each element) by
    /// document id: its heads, lowercase hex change hashes.
    #[schema(schema_with = document_heads)]
    pub heads: DocumentHeads,
}

/// The draft adopted: its final version.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftAdopted {
    #[schema(inline)]
    pub version: FinalVersion,
}

/// A named version: every document's heads when it was named.
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub name: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Who named it; null for the server.
    #[schema(required = true)]
    pub created_by: Option<String>,
    /// The final version recorded when the draft was adopted.
    #[serde(rename = "final")]
    pub final_version: bool,
    /// Document id → that document's heads (hex change hashes).
    #[schema(schema_with = version_heads)]
    pub heads: DocumentHeads,
}

/// A draft's named versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// Oldest first.
    pub versions: Vec<Version>,
    /// The consensus clock now; RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// The consensus clock.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Clock)]
pub struct ClockReading {
    /// The consensus clock now; RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub now: String,
}

/// A string that is one of `values`.
fn one_of_strings(values: &[&str], description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .build()
}

fn ended_state() -> Object {
    one_of_strings(
        &["fired", "broken", "cancelled"],
        "How it ended: `fired` at the deadline, `broken` by an objection, `cancelled` by a chair.",
    )
}

fn refusal_code() -> Object {
    one_of_strings(
        &[
            "adopted",
            "already_under_silence",
            "objected",
            "bracketed",
            "deadline_too_soon",
        ],
        "Why the element is refused.",
    )
}

/// Hex change hashes.
fn hashes() -> ArrayBuilder {
    ArrayBuilder::new().items(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(HEX_HASH)),
    )
}

fn element_heads() -> Array {
    hashes()
        .description(Some(
            "The element document's heads, lowercase hex change hashes.",
        ))
        .build()
}

/// Document id → heads.
fn heads_by_document(description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(hashes()))
        .description(Some(description))
        .build()
}

fn document_heads() -> Object {
    heads_by_document(
        "Every document of the draft (the index and each element) by document id: its heads, lowercase hex change hashes.",
    )
}

fn version_heads() -> Object {
    heads_by_document("Document id → that document's heads (hex change hashes).")
}

/// The `elements` of a silence request: element ids, or "all".
pub(crate) fn element_selection() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["all"]))
                    .build(),
            )))
            .item(RefOr::T(Schema::Array(
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .min_items(Some(1))
                    .build(),
            )))
            .description(Some(
                "Element ids, or \"all\" for every element of the draft.",
            ))
            .build(),
    )
}

/// A position request's `heads`: 1 to 64 hex change hashes.
pub(crate) fn read_heads() -> Array {
    hashes()
        .min_items(Some(1))
        .max_items(Some(64))
        .description(Some(
            "The element document's heads as you read them (409 `not_synced` while the server lacks them).",
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_statuses_say_the_rules_words() {
        for status in [
            Status::Adopted,
            Status::UnderSilence { deadline: 1 },
            Status::Objected,
            Status::Bracketed,
            Status::Agreed,
            Status::AgreedAdRef,
            Status::Open,
        ] {
            assert_eq!(
                serde_json::to_value(ElementStatus::from(&status)).unwrap(),
                status.as_str()
            );
        }
    }

    #[test]
    fn refusals_are_error_bodies_with_their_fields() {
        let error = ApiError::from(PositionError {
            error: "text_changed",
            message: "changed".into(),
            current_hash: Some("ab".into()),
        });
        assert_eq!(error.code, "text_changed");
        assert_eq!(error.extra.unwrap()["current_hash"], "ab");
        let error = ApiError::from(SilenceError {
            error: "no",
            message: "no".into(),
            refusals: None,
            stale_objections: None,
        });
        assert_eq!(error.status.as_u16(), 409);
        assert!(error.extra.unwrap().get("refusals").is_none());
    }
}
