//! Accord's exports (docs/design.md §4): a draft at one version rendered as
//! Markdown, as a printable HTML page and as an Akoma Ntoso 3.0 `statement`,
//! each followed by (or carrying) the consensus annex: the ledger of
//! positions as it stood at that version.
//!
//! Pure functions only: no I/O, no clock reads. The caller assembles a
//! [`Snapshot`] (texts and positions at the chosen version) and gets a
//! `String` back. The output is deterministic: the same snapshot always gives
//! the same bytes. Every date is shown in UTC.
//!
//! # Positions and the annex
//!
//! [`ElementSnapshot::positions`] holds the positions recorded on the element
//! up to the version, in ledger order (oldest first). For each entity only its
//! **latest** position counts for the annex (the highest `at`; on equal times
//! the later one in the list). A latest position with `current == false` is
//! *stale* (given on an earlier text): the entity is shown as not having
//! responded to this text, with the stale position mentioned. An entity of
//! the draft without any position is shown as *no response*. Positions of
//! entities that are not in [`Snapshot::entities`] are listed after the
//! draft's entities, in order of first appearance.
//!
//! Every recorded position (not only the latest) becomes one `workflow/step`
//! in the Akoma Ntoso export.
//!
//! # Pending amendments and the compilation text
//!
//! [`ElementSnapshot::amendments`] holds the amendments pending on the
//! element at the version (proposed, not yet accepted, rejected or
//! withdrawn), oldest first. [`compilation_markdown`] and
//! [`compilation_html`] render the *compilation text* a meeting reads: each
//! element's text with every pending amendment marked in it, then the list
//! of the element's amendments. The Akoma Ntoso export carries them too
//! (`<del>`/`<ins>` in the text, an `authorialNote` for each). An amendment
//! is marked in the text when its `from`/`to` is a range of the element's
//! text that reads its `original` (so a range from another reading of the
//! text is never applied to this one) and it overlaps no amendment already
//! marked; it is always in the list. Amendments are numbered `A` and their
//! id (`A3`), as the API numbers them.

mod akn;
mod compilation;
mod compile;
mod html;
mod markdown;

pub use akn::akoma_ntoso;
pub use compilation::{compilation_html, compilation_markdown};
pub use html::{html, html_style};
pub use markdown::markdown;

/// A draft at one version, as it is to be exported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub draft_id: String,
    pub title: String,
    pub preamble: String,
    /// Which version: "current", a version name, or a time; shown in the output.
    pub version_label: String,
    /// Server time of the version (unix ms) — the date of the document.
    pub at: i64,
    pub elements: Vec<ElementSnapshot>,
    /// Participating entities, in draft order: (code, name).
    pub entities: Vec<(String, String)>,
}

/// One key element at the version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElementSnapshot {
    pub id: String,
    /// The element's label, e.g. "(a)".
    pub label: String,
    pub text: String,
    /// The element's status, as `accord_consensus::Status::as_str` gives it
    /// (`adopted`, `under_silence`, `objected`, `bracketed`, `agreed`,
    /// `agreed_ad_ref`, `open`).
    pub status: String,
    /// Positions recorded on this element up to the version, oldest first.
    pub positions: Vec<Position>,
    /// Amendments pending on this element at the version, oldest first.
    pub amendments: Vec<PendingAmendment>,
}

/// A proposal, on behalf of an entity, to replace a passage of an element
/// (pending at the version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingAmendment {
    /// Its id; shown as its number, `A{id}`.
    pub id: i64,
    /// The proposing entity's code.
    pub entity: String,
    /// Sponsoring entities' codes, the proposing entity first.
    pub sponsors: Vec<String>,
    /// The passage's range in [`ElementSnapshot::text`], in Unicode code
    /// points (`from == to`: an insertion there); `None` when the passage
    /// could not be located. Listed only, never marked in the text, unless
    /// the range reads `original` in that text.
    pub from: Option<usize>,
    pub to: Option<usize>,
    /// What the text reads in that range (empty: an insertion).
    pub original: String,
    /// The replacement (empty: the passage is deleted).
    pub text: String,
    pub reason: String,
    /// The passage changed since the amendment was anchored: it must be
    /// re-anchored before it can be accepted.
    pub conflict: bool,
}

/// One recorded position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// The entity's code.
    pub entity: String,
    /// `support`, `support_ad_ref`, `reservation`, `abstain` or `object`.
    pub stance: String,
    /// The reservation's note, the objection's reason, or any other note.
    pub note: Option<String>,
    /// Wording proposed with an objection.
    pub wording: Option<String>,
    /// Server time the position was recorded (unix ms).
    pub at: i64,
    /// Recorded as `support` when a silence procedure ended.
    pub by_silence: bool,
    /// Given on the element's text at the version; `false` = stale.
    pub current: bool,
}

// ---------------------------------------------------------------------------
// Shared helpers.

/// An entity's standing on one element at the version.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Standing<'a> {
    /// The latest position, given on the current text.
    Current(&'a Position),
    /// The latest position was given on an earlier text.
    Stale(&'a Position),
    NoResponse,
}

/// One line of the annex for one element.
pub(crate) struct AnnexRow<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub standing: Standing<'a>,
}

/// The draft's entities (deduplicated by code, draft order), then entities
/// that appear only in positions, in order of first appearance.
pub(crate) fn all_entities(s: &Snapshot) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    let known = |out: &Vec<(&str, &str)>, code: &str| out.iter().any(|(c, _)| *c == code);
    for (code, name) in &s.entities {
        if !known(&out, code) {
            out.push((code.as_str(), name.as_str()));
        }
    }
    for element in &s.elements {
        let codes = element.positions.iter().map(|p| &p.entity).chain(
            element
                .amendments
                .iter()
                .flat_map(|a| std::iter::once(&a.entity).chain(&a.sponsors)),
        );
        for code in codes {
            if !known(&out, code) {
                out.push((code.as_str(), code.as_str()));
            }
        }
    }
    out
}

/// The latest position of `code` on the element (highest `at`, later in the
/// list on ties).
pub(crate) fn latest<'a>(element: &'a ElementSnapshot, code: &str) -> Option<&'a Position> {
    element
        .positions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.entity == code)
        .max_by_key(|(i, p)| (p.at, *i))
        .map(|(_, p)| p)
}

pub(crate) fn standing<'a>(element: &'a ElementSnapshot, code: &str) -> Standing<'a> {
    match latest(element, code) {
        Some(p) if p.current => Standing::Current(p),
        Some(p) => Standing::Stale(p),
        None => Standing::NoResponse,
    }
}

pub(crate) fn annex_rows<'a>(
    entities: &[(&'a str, &'a str)],
    element: &'a ElementSnapshot,
) -> Vec<AnnexRow<'a>> {
    entities
        .iter()
        .map(|&(code, name)| AnnexRow {
            code,
            name,
            standing: standing(element, code),
        })
        .collect()
}

/// Every stance the consensus rules know, with its outcome name.
pub(crate) const STANCES: [(&str, &str); 5] = [
    ("support", "support"),
    ("support_ad_ref", "support ad referendum"),
    ("reservation", "reservation"),
    ("abstain", "abstention"),
    ("object", "objection"),
];

/// The outcome name of a stance ("abstain" → "abstention"); an unknown
/// stance is shown with underscores as spaces.
pub(crate) fn stance_label(stance: &str) -> String {
    STANCES
        .iter()
        .find(|(s, _)| *s == stance)
        .map(|(_, label)| (*label).to_owned())
        .unwrap_or_else(|| stance.replace('_', " "))
}

/// Every element status, with its name.
pub(crate) const STATUSES: [(&str, &str); 7] = [
    ("adopted", "adopted"),
    ("under_silence", "under silence procedure"),
    ("objected", "objected"),
    ("bracketed", "bracketed"),
    ("agreed", "agreed"),
    ("agreed_ad_ref", "agreed ad referendum"),
    ("open", "open"),
];

pub(crate) fn status_label(status: &str) -> String {
    STATUSES
        .iter()
        .find(|(s, _)| *s == status)
        .map(|(_, label)| (*label).to_owned())
        .unwrap_or_else(|| status.replace('_', " "))
}

/// "reservation" → "Reservation".
pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whitespace runs (newlines included) as single spaces, trimmed: for
/// one-line fields (titles, labels, names, notes in lists).
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The name of an entity (its code when it is not a participant).
pub(crate) fn entity_name<'a>(s: &'a Snapshot, code: &'a str) -> &'a str {
    s.entities
        .iter()
        .find(|(c, _)| c == code)
        .map_or(code, |(_, name)| name.as_str())
}

/// `\r\n` and `\r` as `\n`.
pub(crate) fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// The text's paragraphs: split at blank lines, each a list of its lines
/// (trimmed); empty paragraphs dropped.
pub(crate) fn paragraphs(s: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in normalize_newlines(s).split('\n') {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line.to_owned());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// UTC calendar fields of a unix-ms time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

pub(crate) fn utc(ms: i64) -> Utc {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Utc {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
    }
}

fn year4(year: i64) -> String {
    if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("{year:04}")
    }
}

/// `2013-04-05`.
pub(crate) fn date(ms: i64) -> String {
    let t = utc(ms);
    format!("{}-{:02}-{:02}", year4(t.year), t.month, t.day)
}

/// `2013-04-05 14:03 UTC`.
pub(crate) fn date_time(ms: i64) -> String {
    let t = utc(ms);
    format!("{} {:02}:{:02} UTC", date(ms), t.hour, t.minute)
}

/// `2013-04-05T14:03:07Z` (xsd:dateTime, HTML `datetime`).
pub(crate) fn iso(ms: i64) -> String {
    let t = utc(ms);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(ms),
        t.hour,
        t.minute,
        t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        // 2013-04-05T14:03:07Z
        assert_eq!(iso(1_365_170_587_000), "2013-04-05T14:03:07Z");
        assert_eq!(date_time(1_365_170_587_999), "2013-04-05 14:03 UTC");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59Z");
        assert_eq!(date(253_402_300_799_000), "9999-12-31");
    }

    #[test]
    fn latest_position_wins_ties_by_list_order() {
        let p = |stance: &str, at: i64| Position {
            entity: "IOM".into(),
            stance: stance.into(),
            at,
            current: true,
            ..Position::default()
        };
        let element = ElementSnapshot {
            positions: vec![
                p("object", 5),
                p("support", 9),
                p("abstain", 9),
                p("reservation", 7),
            ],
            ..ElementSnapshot::default()
        };
        assert_eq!(latest(&element, "IOM").unwrap().stance, "abstain");
        assert!(latest(&element, "ILO").is_none());
    }

    #[test]
    fn paragraphs_split_at_blank_lines() {
        assert_eq!(
            paragraphs("  one\r\ntwo \n\n\n three\n"),
            vec![
                vec!["one".to_owned(), "two".to_owned()],
                vec!["three".to_owned()]
            ]
        );
        assert!(paragraphs(" \n ").is_empty());
    }
}
