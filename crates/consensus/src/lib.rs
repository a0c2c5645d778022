//! Accord's consensus rules (docs/design.md §2): positions, the ledger,
//! element status, the consensus matrix, the silence procedure and adoption.
//!
//! Pure functions only: no I/O, no async, no clock reads. Time is passed in as
//! unix milliseconds (`i64`); the caller decides what "now" is.
//!
//! # The ledger
//!
//! Positions are appended to a ledger ([`PositionEntry`]) that is never
//! updated in place. For each entity on each element only the **latest entry
//! (highest `seq`)** counts; earlier entries are history. Entries for another
//! element (a different `element_id`) and entries of entities that are not
//! participants of the draft are ignored.
//!
//! A position is bound to the text it was given on (`text_hash`). It is
//! **stale** exactly when its hash differs from the hash of the element's
//! current text, and a stale position does not count: the entity's
//! [`Standing`] is then [`Standing::Stale`] and it has not responded to the
//! current text. Only the latest entry is judged, so an older entry on the
//! current text never revives behind a newer stale one.
//!
//! # Status, first that applies wins
//!
//! 1. [`Status::Adopted`] — the chair adopted the element;
//! 2. [`Status::UnderSilence`] — a silence procedure is running (with its
//!    deadline), whatever the positions say;
//! 3. [`Status::Objected`] — at least one participant's current position is
//!    `object`;
//! 4. [`Status::Bracketed`] — the current text contains `[` or `]`;
//! 5. [`Status::Agreed`] — every participant has a current position, each one
//!    `support`, `support_ad_ref`, `reservation` or `abstain`; at least one of
//!    them *supports*; and none is `support_ad_ref`;
//! 6. [`Status::AgreedAdRef`] — as agreed, but at least one current position
//!    is `support_ad_ref` (provisional, pending confirmation);
//! 7. [`Status::Open`] — anything else: a participant has not responded
//!    (missing or stale), every participant abstains, or there are no
//!    participants at all.
//!
//! "Supports" means `support`, `support_ad_ref` or `reservation`: a
//! reservation joins consensus (with a note on record), and an ad ref support
//! is a support awaiting confirmation. `abstain` stands aside: it neither
//! blocks nor supports, but it is a response, so an abstaining entity
//! participates. Hence all-abstain is `open`, while one support plus
//! abstentions is `agreed`.
//!
//! # Silence procedure
//!
//! [`may_start_silence`] allows `agreed`, `agreed_ad_ref` and `open` elements
//! only, with a deadline at least a minimum notice ahead. A stale objection
//! ([`stale_objections`]: an objection given on an earlier text) does not
//! stop it, but the chair must confirm each one by name, and the silence
//! keeps which (`Silence::confirmed_stale`). While it runs, positions are
//! taken on the locked text only ([`may_record_during_silence`]), so no
//! position goes stale during a silence, and a current objection breaks it
//! ([`breaks_silence`]). At the deadline [`fire_silence`] yields the entries
//! to append: `support` by silence for every participant whose position is
//! missing or stale, except a stale objection the chair did not confirm,
//! which stands; every current position (ad ref included) stands as given.
//!
//! # Adoption
//!
//! An element may be adopted only when `agreed` ([`may_adopt`]):
//! `agreed_ad_ref` is refused with `ad_ref_pending` because ad ref positions
//! must be confirmed first. The draft may be adopted when every element is
//! adopted ([`may_adopt_draft`]). [`progress`] sums a draft up.

mod adoption;
mod error;
mod position;
mod silence;
mod status;

pub use adoption::{DraftState, Progress, may_adopt, may_adopt_draft, progress};
pub use error::{Error, Refusal, Result};
pub use position::{
    MAX_NOTE_CHARS, MAX_WORDING_CHARS, PositionEntry, Stance, clean_text, validate_position,
};
pub use silence::{
    Silence, breaks_silence, fire_silence, human_duration, may_record_during_silence,
    may_start_silence, stale_objections,
};
pub use status::{
    Cell, ElementFacts, ElementSummary, Standing, Status, has_brackets, latest_positions, summarize,
};

#[cfg(test)]
mod tests;
