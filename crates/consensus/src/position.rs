//! Positions: the five stances, ledger entries, and validation of a new
//! position request.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Refusal};

/// The longest reservation note or objection reason, in Unicode code points.
pub const MAX_NOTE_CHARS: usize = 2000;
/// The longest proposed wording of an objection, in Unicode code points.
pub const MAX_WORDING_CHARS: usize = 10_000;

/// An entity's endorsement state on one element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "utoipa",
    schema(
        description = "An entity's position on an element: `support` joins consensus; `support_ad_ref` provisionally, pending confirmation from headquarters; `reservation` joins consensus with a note placed on record; `abstain` neither blocks nor supports; `object` blocks, with a reason and optionally a proposed wording."
    )
)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    /// Joins consensus.
    Support,
    /// Provisional support, pending confirmation from headquarters.
    SupportAdRef,
    /// Joins consensus, with a note placed on record (note required).
    Reservation,
    /// Stands aside: neither blocks nor supports.
    Abstain,
    /// Blocks; reason required, optionally with proposed wording.
    Object,
}

impl Stance {
    /// Every stance, in the order above.
    pub const ALL: [Stance; 5] = [
        Stance::Support,
        Stance::SupportAdRef,
        Stance::Reservation,
        Stance::Abstain,
        Stance::Object,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stance::Support => "support",
            Stance::SupportAdRef => "support_ad_ref",
            Stance::Reservation => "reservation",
            Stance::Abstain => "abstain",
            Stance::Object => "object",
        }
    }

    /// The stance named by its wire form (exact, lowercase).
    pub fn parse(s: &str) -> Option<Stance> {
        Stance::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether this stance counts as supporting for `agreed`: `support`,
    /// `support_ad_ref` or `reservation`.
    pub fn supports(self) -> bool {
        matches!(
            self,
            Stance::Support | Stance::SupportAdRef | Stance::Reservation
        )
    }
}

impl fmt::Display for Stance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stance {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stance::parse(s).ok_or_else(|| Error::UnknownStance(s.to_owned()))
    }
}

/// One ledger entry (append-only; the latest entry per entity and element
/// counts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionEntry {
    /// Ledger order: the highest `seq` per entity and element is the latest.
    pub seq: i64,
    pub element_id: String,
    pub entity: String,
    pub stance: Stance,
    /// Reservation note or objection reason.
    pub note: Option<String>,
    /// An objection's proposed wording (optional).
    pub wording: Option<String>,
    /// Lowercase hex SHA-256 of the text the position was given on.
    pub text_hash: String,
    /// The user who recorded it; `None` for support recorded by silence.
    pub user_id: Option<String>,
    pub by_silence: bool,
    /// Server time, unix ms.
    pub at: i64,
}

impl PositionEntry {
    /// Whether the position was given on the text with hash `current_hash`.
    pub fn is_current(&self, current_hash: &str) -> bool {
        self.text_hash == current_hash
    }
}

/// `None` for a missing or blank (whitespace only) text, the text unchanged
/// otherwise: what to store for an optional note or wording.
pub fn clean_text(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty()).map(str::to_owned)
}

/// Validates a new position request before it is recorded.
///
/// A blank (empty or whitespace only) note or wording counts as absent (store
/// it through [`clean_text`]). Rules, checked in this order:
/// - `reservation` needs a note: `note_required`;
/// - `object` needs a note, the reason: `reason_required`;
/// - a wording is only allowed with `object`: `invalid`;
/// - a note is at most [`MAX_NOTE_CHARS`] and a wording at most
///   [`MAX_WORDING_CHARS`] code points: `invalid`.
///
/// Other stances may carry an optional note (a comment for the record).
pub fn validate_position(
    stance: Stance,
    note: Option<&str>,
    wording: Option<&str>,
) -> Result<(), Refusal> {
    let note = note.filter(|s| !s.trim().is_empty());
    let wording = wording.filter(|s| !s.trim().is_empty());
    match stance {
        Stance::Reservation if note.is_none() => {
            return Err(Refusal::new(
                "note_required",
                "a reservation needs a note to place on record",
            ));
        }
        Stance::Object if note.is_none() => {
            return Err(Refusal::new(
                "reason_required",
                "an objection needs a reason",
            ));
        }
        _ => {}
    }
    if wording.is_some() && stance != Stance::Object {
        return Err(Refusal::new(
            "invalid",
            format!("proposed wording is only allowed with an objection, not with {stance}"),
        ));
    }
    if let Some(n) = note {
        let len = n.chars().count();
        if len > MAX_NOTE_CHARS {
            return Err(Refusal::new(
                "invalid",
                format!("the note is {len} characters long; at most {MAX_NOTE_CHARS} are allowed"),
            ));
        }
    }
    if let Some(w) = wording {
        let len = w.chars().count();
        if len > MAX_WORDING_CHARS {
            return Err(Refusal::new(
                "invalid",
                format!(
                    "the proposed wording is {len} characters long; at most {MAX_WORDING_CHARS} are allowed"
                ),
            ));
        }
    }
    Ok(())
}
