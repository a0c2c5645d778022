//! The silence procedure: starting it, breaking it, firing it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::Refusal;
use crate::position::{PositionEntry, Stance};
use crate::status::{ElementSummary, Standing, Status, latest_positions};

/// An active silence procedure on an element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: i64,
    /// When it fires, unix ms.
    pub deadline: i64,
    pub started_at: i64,
    /// Hash of the text under silence (the text is locked while it runs).
    pub locked_text_hash: String,
    /// Ledger `seq`s of the stale objections the chair confirmed when
    /// starting it ([`stale_objections`]): only these may become support by
    /// silence at the deadline.
    #[serde(default)]
    pub confirmed_stale: Vec<i64>,
}

/// The stale objections on an element: participants whose latest position
/// is an `object` given on an earlier text. They do not count (the element
/// is not objected), but silence would turn each into support, so starting
/// a silence on such an element needs the chair's explicit confirmation.
/// In participant order.
pub fn stale_objections(summary: &ElementSummary) -> Vec<&PositionEntry> {
    summary
        .cells
        .iter()
        .filter(|c| c.standing == Standing::Stale)
        .filter_map(|c| c.latest.as_ref())
        .filter(|e| e.stance == Stance::Object)
        .collect()
}

/// Whether a position on the text with hash `text_hash` may be recorded
/// while `silence` runs: only on the locked text. An edit that reached the
/// server is reverted only after it is stored, so for a moment the element's
/// text may differ from the locked one; a position given on that text would
/// be stale at once, and an objection on it would neither break the silence
/// nor survive its deadline. Refused with `text_changed`.
pub fn may_record_during_silence(silence: &Silence, text_hash: &str) -> Result<(), Refusal> {
    if text_hash == silence.locked_text_hash {
        Ok(())
    } else {
        Err(Refusal::new(
            "text_changed",
            format!(
                "the element is under silence and its text is locked; state your position on the locked text (hash {})",
                silence.locked_text_hash
            ),
        ))
    }
}

/// Whether the chair may put the element under silence until `deadline`.
///
/// Allowed when the status is `agreed`, `agreed_ad_ref` or `open`. Refusals:
/// `adopted`, `already_under_silence`, `objected`, `bracketed`; then
/// `deadline_too_soon` unless `deadline >= now + min_notice_ms` (a negative
/// minimum counts as zero, so a deadline in the past is always refused).
pub fn may_start_silence(
    summary: &ElementSummary,
    deadline: i64,
    now: i64,
    min_notice_ms: i64,
) -> Result<(), Refusal> {
    match &summary.status {
        Status::Adopted => {
            return Err(Refusal::new(
                "adopted",
                "the element is adopted; reopen it before putting it under silence",
            ));
        }
        Status::UnderSilence { .. } => {
            return Err(Refusal::new(
                "already_under_silence",
                "the element is already under a silence procedure",
            ));
        }
        Status::Objected => {
            let who: Vec<&str> = summary
                .objections
                .iter()
                .map(|o| o.entity.as_str())
                .collect();
            return Err(Refusal::new(
                "objected",
                format!(
                    "an objected element cannot be put under silence (objection by {})",
                    who.join(", ")
                ),
            ));
        }
        Status::Bracketed => {
            return Err(Refusal::new(
                "bracketed",
                "a bracketed element cannot be put under silence; resolve the brackets first",
            ));
        }
        Status::Agreed | Status::AgreedAdRef | Status::Open => {}
    }
    let min = min_notice_ms.max(0);
    if deadline < now.saturating_add(min) {
        let message = if min == 0 {
            "the silence deadline must not be in the past".to_owned()
        } else {
            format!(
                "the silence deadline must be at least {} ahead",
                human_duration(min)
            )
        };
        return Err(Refusal::new("deadline_too_soon", message));
    }
    Ok(())
}

/// A duration in words, in the largest unit that expresses it exactly:
/// days from 2 days, hours from 2 hours, then minutes, seconds,
/// milliseconds. `3_600_000` is "60 minutes", `7_200_000` "2 hours".
pub fn human_duration(ms: i64) -> String {
    const SECOND: i64 = 1000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("{n} {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if ms >= 2 * DAY && ms % DAY == 0 {
        plural(ms / DAY, "day")
    } else if ms >= 2 * HOUR && ms % HOUR == 0 {
        plural(ms / HOUR, "hour")
    } else if ms >= MINUTE && ms % MINUTE == 0 {
        plural(ms / MINUTE, "minute")
    } else if ms >= SECOND && ms % SECOND == 0 {
        plural(ms / SECOND, "second")
    } else {
        plural(ms, "millisecond")
    }
}

/// Whether recording `entry` during `silence` breaks it: a current objection,
/// i.e. an `object` given on the locked text's hash. Support, reservations,
/// abstentions and objections on another text do not.
///
/// Whether the silence is still running (the deadline has not fired) is the
/// caller's to decide: the database orders the objection and the firing.
pub fn breaks_silence(entry: &PositionEntry, silence: &Silence) -> bool {
    entry.stance == Stance::Object && entry.text_hash == silence.locked_text_hash
}

/// At the deadline: the entries to append. Every participant whose latest
/// position on `element_id` is missing or stale relative to the silence's
/// `locked_text_hash` gets `support` by silence (`by_silence`, no user, no
/// note, no wording, the locked hash, `at = now`) — except a stale
/// objection the chair did not confirm (its `seq` is not in
/// `silence.confirmed_stale`): it stands as it is, and the entity stays
/// without a current position. Every current position — `support_ad_ref`
/// included — stands as given. Entries are made in participant order (each
/// entity once), with `seq` counting up from `next_seq`.
///
/// Call [`breaks_silence`] for every position recorded while the silence ran:
/// a current objection means there is nothing to fire.
pub fn fire_silence(
    silence: &Silence,
    element_id: &str,
    ledger: &[PositionEntry],
    participants: &[String],
    now: i64,
    next_seq: i64,
) -> Vec<PositionEntry> {
    let latest = latest_positions(ledger, element_id);
    let mut seen = HashSet::new();
    let mut seq = next_seq;
    let mut out = Vec::new();
    for entity in participants {
        if !seen.insert(entity.as_str()) {
            continue;
        }
        let held = latest.get(entity.as_str());
        let current = held.is_some_and(|e| e.text_hash == silence.locked_text_hash);
        let unconfirmed_objection = held.is_some_and(|e| {
            e.stance == Stance::Object && !silence.confirmed_stale.contains(&e.seq)
        });
        if current || unconfirmed_objection {
            continue;
        }
        out.push(PositionEntry {
            seq,
            element_id: element_id.to_owned(),
            entity: entity.clone(),
            stance: Stance::Support,
            note: None,
            wording: None,
            text_hash: silence.locked_text_hash.clone(),
            user_id: None,
            by_silence: true,
            at: now,
        });
        seq += 1;
    }
    out
}
