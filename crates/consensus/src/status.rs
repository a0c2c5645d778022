//! Element status and the consensus matrix row of one element.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::position::{PositionEntry, Stance};
use crate::silence::Silence;

/// What the server knows about one element right now.
#[derive(Clone, Copy, Debug)]
pub struct ElementFacts<'a> {
    pub element_id: &'a str,
    /// Current text (for brackets).
    pub text: &'a str,
    /// Its hash (lowercase hex SHA-256).
    pub text_hash: &'a str,
    /// The chair adopted the element.
    pub adopted: bool,
    /// The active silence procedure, if any.
    pub silence: Option<&'a Silence>,
    /// This element's ledger entries, in any order; the latest by `seq` per
    /// entity counts. Entries with another `element_id` are ignored.
    pub ledger: &'a [PositionEntry],
}

/// An element's status; the first that applies wins (see the crate docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Adopted,
    UnderSilence { deadline: i64 },
    Objected,
    Bracketed,
    Agreed,
    AgreedAdRef,
    Open,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Adopted => "adopted",
            Status::UnderSilence { .. } => "under_silence",
            Status::Objected => "objected",
            Status::Bracketed => "bracketed",
            Status::Agreed => "agreed",
            Status::AgreedAdRef => "agreed_ad_ref",
            Status::Open => "open",
        }
    }

    /// `agreed` or `agreed_ad_ref`.
    pub fn is_agreed(&self) -> bool {
        matches!(self, Status::Agreed | Status::AgreedAdRef)
    }

    /// The text is locked: `adopted` or `under_silence`.
    pub fn is_locked(&self) -> bool {
        matches!(self, Status::Adopted | Status::UnderSilence { .. })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entity's standing on an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "utoipa",
    schema(
        description = "An entity's standing on an element: `current` (its latest position was given on the current text), `stale` (on another text: it does not count), `no_response`."
    )
)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Its latest position was given on the current text.
    Current,
    /// Its latest position was given on another text; it does not count.
    Stale,
    /// It has no position at all.
    NoResponse,
}

/// One matrix cell: an entity's standing on an element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub entity: String,
    pub standing: Standing,
    /// The entity's latest entry (current or stale), if any.
    pub latest: Option<PositionEntry>,
}

/// An element's status and matrix row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ElementSummary {
    pub element_id: String,
    pub status: Status,
    /// One per participant, in the given participant order.
    pub cells: Vec<Cell>,
    /// Participants with no current position (missing or stale), in order.
    pub not_responded: Vec<String>,
    /// Participants whose latest position is stale, in order.
    pub stale: Vec<String>,
    /// Current objections, in participant order.
    pub objections: Vec<PositionEntry>,
    /// Current reservations, in participant order.
    pub reservations: Vec<PositionEntry>,
    /// Participants with a current `support_ad_ref`, in order.
    pub ad_ref: Vec<String>,
    /// The current text contains `[` or `]`.
    pub bracketed: bool,
}

/// The text contains `[` or `]` (unresolved alternatives).
pub fn has_brackets(text: &str) -> bool {
    text.contains(['[', ']'])
}

/// The latest entry (highest `seq`) per entity among `ledger`'s entries for
/// `element_id`. Should two entries of one entity share a `seq`, the one that
/// comes later in the slice wins.
pub fn latest_positions<'a>(
    ledger: &'a [PositionEntry],
    element_id: &str,
) -> HashMap<&'a str, &'a PositionEntry> {
    let mut latest: HashMap<&'a str, &'a PositionEntry> = HashMap::new();
    for entry in ledger.iter().filter(|e| e.element_id == element_id) {
        latest
            .entry(entry.entity.as_str())
            .and_modify(|held| {
                if entry.seq >= held.seq {
                    *held = entry;
                }
            })
            .or_insert(entry);
    }
    latest
}

/// Derives an element's status and matrix row. `participants` are the entity
/// codes of the draft, in display order (expected distinct); ledger entries
/// of anyone else are ignored.
pub fn summarize(facts: &ElementFacts<'_>, participants: &[String]) -> ElementSummary {
    let latest = latest_positions(facts.ledger, facts.element_id);
    let bracketed = has_brackets(facts.text);

    let mut cells = Vec::with_capacity(participants.len());
    let mut not_responded = Vec::new();
    let mut stale = Vec::new();
    let mut objections = Vec::new();
    let mut reservations = Vec::new();
    let mut ad_ref = Vec::new();
    let mut any_supports = false;

    for entity in participants {
        let entry = latest.get(entity.as_str()).copied();
        let standing = match entry {
            None => Standing::NoResponse,
            Some(e) if e.is_current(facts.text_hash) => Standing::Current,
            Some(_) => Standing::Stale,
        };
        match (standing, entry) {
            (Standing::Current, Some(e)) => {
                any_supports |= e.stance.supports();
                match e.stance {
                    Stance::Object => objections.push(e.clone()),
                    Stance::Reservation => reservations.push(e.clone()),
                    Stance::SupportAdRef => ad_ref.push(entity.clone()),
                    Stance::Support | Stance::Abstain => {}
                }
            }
            (Standing::Stale, _) => {
                stale.push(entity.clone());
                not_responded.push(entity.clone());
            }
            _ => not_responded.push(entity.clone()),
        }
        cells.push(Cell {
            entity: entity.clone(),
            standing,
            latest: entry.cloned(),
        });
    }

    let status = if facts.adopted {
        Status::Adopted
    } else if let Some(silence) = facts.silence {
        Status::UnderSilence {
            deadline: silence.deadline,
        }
    } else if !objections.is_empty() {
        Status::Objected
    } else if bracketed {
        Status::Bracketed
    } else if not_responded.is_empty() && any_supports {
        // Everyone has a current position, none objects (checked above), so
        // each is support, support_ad_ref, reservation or abstain.
        if ad_ref.is_empty() {
            Status::Agreed
        } else {
            Status::AgreedAdRef
        }
    } else {
        Status::Open
    };

    ElementSummary {
        element_id: facts.element_id.to_owned(),
        status,
        cells,
        not_responded,
        stale,
        objections,
        reservations,
        ad_ref,
        bracketed,
    }
}
