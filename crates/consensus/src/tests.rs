//! The rulebook's tests: every function, every refusal code, a table of
//! status cases, and a property test over random ledgers.

use super::*;

const EL: &str = "el-1";
const PLAIN: &str = "The parties agree to cooperate.";

fn entry(entity: &str, stance: &str, hash: &str, seq: i64) -> PositionEntry {
    let stance = Stance::parse(stance).unwrap_or_else(|| panic!("bad stance {stance}"));
    let note = match stance {
        Stance::Reservation => Some(format!("note of {entity}")),
        Stance::Object => Some(format!("reason of {entity}")),
        _ => None,
    };
    PositionEntry {
        seq,
        element_id: EL.to_owned(),
        entity: entity.to_owned(),
        stance,
        note,
        wording: None,
        text_hash: hash.to_owned(),
        user_id: Some(format!("user-{entity}")),
        by_silence: false,
        at: 1_000 + seq,
    }
}

fn parts(codes: &[&str]) -> Vec<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

fn silence(deadline: i64, hash: &str) -> Silence {
    Silence {
        id: 7,
        deadline,
        started_at: 100,
        locked_text_hash: hash.to_owned(),
        confirmed_stale: Vec::new(),
    }
}

fn facts<'a>(text: &'a str, hash: &'a str, ledger: &'a [PositionEntry]) -> ElementFacts<'a> {
    ElementFacts {
        element_id: EL,
        text,
        text_hash: hash,
        adopted: false,
        silence: None,
        ledger,
    }
}

fn sum(ledger: &[PositionEntry], participants: &[&str]) -> ElementSummary {
    summarize(&facts(PLAIN, "h1", ledger), &parts(participants))
}

fn summary_with_status(id: &str, status: Status) -> ElementSummary {
    ElementSummary {
        element_id: id.to_owned(),
        status,
        cells: vec![],
        not_responded: vec![],
        stale: vec![],
        objections: vec![],
        reservations: vec![],
        ad_ref: vec![],
        bracketed: false,
    }
}

// ---------------------------------------------------------------- stances

#[test]
fn stance_names_round_trip() {
    let names = [
        "support",
        "support_ad_ref",
        "reservation",
        "abstain",
        "object",
    ];
    for (stance, name) in Stance::ALL.into_iter().zip(names) {
        assert_eq!(stance.as_str(), name);
        assert_eq!(Stance::parse(name), Some(stance));
        assert_eq!(name.parse::<Stance>(), Ok(stance));
        assert_eq!(stance.to_string(), name);
        assert_eq!(serde_json::to_value(stance).unwrap(), name);
        assert_eq!(
            serde_json::from_value::<Stance>(serde_json::json!(name)).unwrap(),
            stance
        );
    }
    for bad in ["", "Support", "objection", " support", "ad_ref"] {
        assert_eq!(Stance::parse(bad), None);
        assert_eq!(
            bad.parse::<Stance>(),
            Err(Error::UnknownStance(bad.to_owned()))
        );
    }
}

#[test]
fn which_stances_support() {
    assert!(Stance::Support.supports());
    assert!(Stance::SupportAdRef.supports());
    assert!(Stance::Reservation.supports());
    assert!(!Stance::Abstain.supports());
    assert!(!Stance::Object.supports());
}

#[test]
fn position_entry_json_round_trips() {
    let mut e = entry("A", "object", "h1", 3);
    e.wording = Some("shall [cooperate]".into());
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["stance"], "object");
    assert_eq!(json["by_silence"], false);
    let back: PositionEntry = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
}

// ------------------------------------------------------------- validation

#[test]
fn validate_accepts_well_formed_positions() {
    assert_eq!(validate_position(Stance::Support, None, None), Ok(()));
    assert_eq!(validate_position(Stance::SupportAdRef, None, None), Ok(()));
    assert_eq!(validate_position(Stance::Abstain, None, None), Ok(()));
    assert_eq!(
        validate_position(Stance::Reservation, Some("on para 2"), None),
        Ok(())
    );
    assert_eq!(validate_position(Stance::Object, Some("why"), None), Ok(()));
    assert_eq!(
        validate_position(Stance::Object, Some("why"), Some("better words")),
        Ok(())
    );
    // An optional comment on other stances is fine.
    assert_eq!(
        validate_position(Stance::Support, Some("gladly"), None),
        Ok(())
    );
    // Blank wording counts as absent.
    assert_eq!(validate_position(Stance::Support, None, Some("  ")), Ok(()));
}

#[test]
fn reservation_needs_a_note() {
    for note in [None, Some(""), Some("   \n\t")] {
        let r = validate_position(Stance::Reservation, note, None).unwrap_err();
        assert_eq!(r.code, "note_required", "{note:?}");
    }
}

#[test]
fn objection_needs_a_reason() {
    for note in [None, Some(""), Some(" ")] {
        let r = validate_position(Stance::Object, note, Some("wording")).unwrap_err();
        assert_eq!(r.code, "reason_required", "{note:?}");
    }
}

#[test]
fn wording_only_with_an_objection() {
    for stance in [
        Stance::Support,
        Stance::SupportAdRef,
        Stance::Reservation,
        Stance::Abstain,
    ] {
        let r = validate_position(stance, Some("note"), Some("wording")).unwrap_err();
        assert_eq!(r.code, "invalid", "{stance}");
        assert!(r.message.contains(stance.as_str()), "{}", r.message);
    }
}

#[test]
fn note_and_wording_length_limits_count_code_points() {
    let note_ok = "é".repeat(MAX_NOTE_CHARS);
    assert_eq!(
        validate_position(Stance::Reservation, Some(&note_ok), None),
        Ok(())
    );
    let note_long = "x".repeat(MAX_NOTE_CHARS + 1);
    let r = validate_position(Stance::Reservation, Some(&note_long), None).unwrap_err();
    assert_eq!(r.code, "invalid");
    assert!(r.message.contains("2000"), "{}", r.message);
    let r = validate_position(Stance::Support, Some(&note_long), None).unwrap_err();
    assert_eq!(r.code, "invalid");

    let wording_ok = "文".repeat(MAX_WORDING_CHARS);
    assert_eq!(
        validate_position(Stance::Object, Some("r"), Some(&wording_ok)),
        Ok(())
    );
    let wording_long = "w".repeat(MAX_WORDING_CHARS + 1);
    let r = validate_position(Stance::Object, Some("r"), Some(&wording_long)).unwrap_err();
    assert_eq!(r.code, "invalid");
    assert!(r.message.contains("10000"), "{}", r.message);
}

#[test]
fn clean_text_drops_blanks_only() {
    assert_eq!(clean_text(None), None);
    assert_eq!(clean_text(Some("")), None);
    assert_eq!(clean_text(Some(" \n ")), None);
    assert_eq!(clean_text(Some(" keep \n")), Some(" keep \n".to_owned()));
}

#[test]
fn refusal_displays_and_serializes() {
    let r = Refusal::new("objected", "no");
    assert_eq!(r.to_string(), "no (objected)");
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"code": "objected", "message": "no"})
    );
}

// ------------------------------------------------------------ summarizing

#[test]
fn brackets_are_square_only() {
    assert!(has_brackets("shall [cooperate]"));
    assert!(has_brackets("a ] b"));
    assert!(has_brackets("["));
    assert!(!has_brackets("(a) {b} <c>"));
    assert!(!has_brackets(""));
}

#[test]
fn status_names_and_json() {
    let all = [
        (Status::Adopted, "adopted"),
        (Status::UnderSilence { deadline: 5 }, "under_silence"),
        (Status::Objected, "objected"),
        (Status::Bracketed, "bracketed"),
        (Status::Agreed, "agreed"),
        (Status::AgreedAdRef, "agreed_ad_ref"),
        (Status::Open, "open"),
    ];
    for (status, name) in all {
        assert_eq!(status.as_str(), name);
        assert_eq!(status.to_string(), name);
        assert_eq!(serde_json::to_value(&status).unwrap()["status"], name);
    }
    assert_eq!(
        serde_json::to_value(Status::UnderSilence { deadline: 5 }).unwrap(),
        serde_json::json!({"status": "under_silence", "deadline": 5})
    );
    assert_eq!(
        serde_json::to_value(Status::Open).unwrap(),
        serde_json::json!({"status": "open"})
    );
    assert!(Status::Agreed.is_agreed() && Status::AgreedAdRef.is_agreed());
    assert!(!Status::Adopted.is_agreed());
    assert!(Status::Adopted.is_locked() && Status::UnderSilence { deadline: 1 }.is_locked());
    assert!(!Status::Objected.is_locked());
    assert_eq!(
        serde_json::to_value(Standing::NoResponse).unwrap(),
        "no_response"
    );
}

#[test]
fn summary_lists_cells_in_participant_order() {
    let ledger = vec![
        entry("C", "object", "h1", 1),
        entry("A", "reservation", "h1", 2),
        entry("B", "support_ad_ref", "h1", 3),
        entry("D", "support", "h0", 4),
        entry("Z", "object", "h1", 5), // not a participant
    ];
    let s = sum(&ledger, &["D", "C", "B", "A", "E"]);
    assert_eq!(s.element_id, EL);
    assert_eq!(s.status, Status::Objected);
    let order: Vec<&str> = s.cells.iter().map(|c| c.entity.as_str()).collect();
    assert_eq!(order, ["D", "C", "B", "A", "E"]);
    let standings: Vec<Standing> = s.cells.iter().map(|c| c.standing).collect();
    assert_eq!(
        standings,
        [
            Standing::Stale,
            Standing::Current,
            Standing::Current,
            Standing::Current,
            Standing::NoResponse
        ]
    );
    assert_eq!(s.cells[0].latest.as_ref().unwrap().seq, 4);
    assert_eq!(s.cells[4].latest, None);
    assert_eq!(s.not_responded, ["D", "E"]);
    assert_eq!(s.stale, ["D"]);
    assert_eq!(s.objections, vec![ledger[0].clone()]);
    assert_eq!(s.reservations, vec![ledger[1].clone()]);
    assert_eq!(s.ad_ref, ["B"]);
    assert!(!s.bracketed);
}

#[test]
fn stale_objections_and_reservations_are_not_listed() {
    let ledger = vec![
        entry("A", "object", "h0", 1),
        entry("B", "reservation", "h0", 2),
        entry("C", "support_ad_ref", "h0", 3),
    ];
    let s = sum(&ledger, &["A", "B", "C"]);
    assert!(s.objections.is_empty() && s.reservations.is_empty() && s.ad_ref.is_empty());
    assert_eq!(s.stale, ["A", "B", "C"]);
    assert_eq!(s.status, Status::Open);
}

#[test]
fn entries_of_other_elements_are_ignored() {
    let mut other = entry("A", "object", "h1", 9);
    other.element_id = "el-2".into();
    let ledger = vec![entry("A", "support", "h1", 1), other];
    let s = sum(&ledger, &["A"]);
    assert_eq!(s.status, Status::Agreed);
    assert_eq!(s.cells[0].latest.as_ref().unwrap().seq, 1);
    assert!(fire_silence(&silence(10, "h1"), EL, &ledger, &parts(&["A"]), 10, 1).is_empty());
}

#[test]
fn latest_wins_and_ties_go_to_the_later_entry() {
    let ledger = vec![
        entry("A", "object", "h1", 5),
        entry("A", "support", "h1", 2),
        entry("A", "abstain", "h1", 5),
    ];
    let latest = latest_positions(&ledger, EL);
    assert_eq!(latest.len(), 1);
    assert_eq!(latest["A"].stance, Stance::Abstain);
    assert!(latest_positions(&ledger, "nope").is_empty());
}

#[test]
fn bracketed_flag_is_set_whatever_the_status() {
    let ledger = vec![entry("A", "object", "h1", 1)];
    let s = summarize(&facts("[x]", "h1", &ledger), &parts(&["A"]));
    assert_eq!(s.status, Status::Objected);
    assert!(s.bracketed);
}

// ------------------------------------------------------------ table cases

type Row = (&'static str, &'static str, &'static str, i64);

struct Case {
    name: &'static str,
    participants: &'static [&'static str],
    text: &'static str,
    ledger: &'static [Row],
    adopted: bool,
    /// Silence deadline, if one is running.
    silence: Option<i64>,
    status: &'static str,
    not_responded: &'static [&'static str],
    stale: &'static [&'static str],
}

const ABC: &[&str] = &["A", "B", "C"];
const BRACKETS: &str = "The parties [shall][may] cooperate.";
/// The current text's hash in every case; "h0" is an earlier text.
const CUR: &str = "h1";

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let c = |name,
             participants,
             text,
             ledger,
             adopted,
             silence,
             status,
             not_responded,
             stale| Case {
        name,
        participants,
        text,
        ledger,
        adopted,
        silence,
        status,
        not_responded,
        stale,
    };
    let none: &[&str] = &[];
    vec![
        c("all support", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "agreed", none, none),
        c("one reservation", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "reservation", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "agreed", none, none),
        c("all reservations", ABC, PLAIN,
          &[("A", "reservation", "h1", 1), ("B", "reservation", "h1", 2), ("C", "reservation", "h1", 3)],
          false, None, "agreed", none, none),
        c("one ad ref", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support_ad_ref", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "agreed_ad_ref", none, none),
        c("ad ref with reservation and abstain", ABC, PLAIN,
          &[("A", "support_ad_ref", "h1", 1), ("B", "reservation", "h1", 2), ("C", "abstain", "h1", 3)],
          false, None, "agreed_ad_ref", none, none),
        c("ad ref only plus abstentions", ABC, PLAIN,
          &[("A", "abstain", "h1", 1), ("B", "support_ad_ref", "h1", 2), ("C", "abstain", "h1", 3)],
          false, None, "agreed_ad_ref", none, none),
        c("ad ref later confirmed", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support_ad_ref", "h1", 2), ("C", "support", "h1", 3),
            ("B", "support", "h1", 4)],
          false, None, "agreed", none, none),
        c("stale ad ref does not count", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support_ad_ref", "h0", 2), ("C", "support", "h1", 3)],
          false, None, "open", &["B"], &["B"]),
        c("one objection", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "object", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "objected", none, none),
        c("objection with missing responses", ABC, PLAIN,
          &[("B", "object", "h1", 2)],
          false, None, "objected", &["A", "C"], none),
        c("ad ref and objection", ABC, PLAIN,
          &[("A", "support_ad_ref", "h1", 1), ("B", "object", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "objected", none, none),
        c("objection on a stale text does not count", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2), ("C", "object", "h0", 3)],
          false, None, "open", &["C"], &["C"]),
        c("text edited after support", ABC, PLAIN,
          &[("A", "support", "h0", 1), ("B", "support", "h0", 2), ("C", "support", "h0", 3)],
          false, None, "open", ABC, ABC),
        c("objection then support", ABC, PLAIN,
          &[("A", "object", "h1", 1), ("B", "support", "h1", 2), ("C", "support", "h1", 3),
            ("A", "support", "h1", 4)],
          false, None, "agreed", none, none),
        c("support then object", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2), ("C", "support", "h1", 3),
            ("A", "object", "h1", 4)],
          false, None, "objected", none, none),
        c("stale objection then current support", ABC, PLAIN,
          &[("A", "object", "h0", 1), ("B", "support", "h1", 2), ("C", "support", "h1", 3),
            ("A", "support", "h1", 4)],
          false, None, "agreed", none, none),
        c("later stale entry hides an earlier current one", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2), ("C", "support", "h1", 3),
            ("A", "support", "h0", 4)],
          false, None, "open", &["A"], &["A"]),
        c("ledger out of order: highest seq wins", ABC, PLAIN,
          &[("A", "support", "h1", 9), ("B", "support", "h1", 2), ("C", "support", "h1", 3),
            ("A", "object", "h1", 4)],
          false, None, "agreed", none, none),
        c("brackets with all support", ABC, BRACKETS,
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "bracketed", none, none),
        c("brackets with missing responses", ABC, BRACKETS,
          &[("A", "support", "h1", 1)],
          false, None, "bracketed", &["B", "C"], none),
        c("a lone closing bracket", ABC, "cooperate ] fully",
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "bracketed", none, none),
        c("objection and brackets", ABC, BRACKETS,
          &[("A", "support", "h1", 1), ("B", "object", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "objected", none, none),
        c("adopted overrides objection", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "object", "h1", 2), ("C", "support", "h1", 3)],
          true, None, "adopted", none, none),
        c("adopted overrides brackets and silence", ABC, BRACKETS,
          &[("A", "support", "h1", 1)],
          true, Some(5_000), "adopted", &["B", "C"], none),
        c("under silence overrides objection", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "object", "h1", 2), ("C", "support", "h1", 3)],
          false, Some(5_000), "under_silence", none, none),
        c("under silence with nobody responded", ABC, PLAIN,
          &[],
          false, Some(5_000), "under_silence", ABC, none),
        c("under silence overrides brackets", ABC, BRACKETS,
          &[("A", "support", "h0", 1)],
          false, Some(5_000), "under_silence", ABC, &["A"]),
        c("all abstain", ABC, PLAIN,
          &[("A", "abstain", "h1", 1), ("B", "abstain", "h1", 2), ("C", "abstain", "h1", 3)],
          false, None, "open", none, none),
        c("abstain and support", ABC, PLAIN,
          &[("A", "abstain", "h1", 1), ("B", "support", "h1", 2), ("C", "abstain", "h1", 3)],
          false, None, "agreed", none, none),
        c("reservation only plus abstentions", ABC, PLAIN,
          &[("A", "abstain", "h1", 1), ("B", "reservation", "h1", 2), ("C", "abstain", "h1", 3)],
          false, None, "agreed", none, none),
        c("missing one entity", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2)],
          false, None, "open", &["C"], none),
        c("missing and stale", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "reservation", "h0", 2)],
          false, None, "open", &["B", "C"], &["B"]),
        c("entity outside participants is ignored", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2), ("C", "support", "h1", 3),
            ("X", "object", "h1", 4)],
          false, None, "agreed", none, none),
        c("outsider's support does not fill a gap", ABC, PLAIN,
          &[("A", "support", "h1", 1), ("B", "support", "h1", 2), ("X", "support", "h1", 3)],
          false, None, "open", &["C"], none),
        c("empty participants", &[], PLAIN,
          &[("A", "support", "h1", 1)],
          false, None, "open", none, none),
        c("empty ledger", ABC, PLAIN,
          &[],
          false, None, "open", ABC, none),
        c("single participant supports", &["A"], PLAIN,
          &[("A", "support", "h1", 1)],
          false, None, "agreed", none, none),
        c("single participant abstains", &["A"], PLAIN,
          &[("A", "abstain", "h1", 1)],
          false, None, "open", none, none),
        c("single participant withdraws objection by abstaining", &["A", "B"], PLAIN,
          &[("A", "object", "h1", 1), ("B", "support", "h1", 2), ("A", "abstain", "h1", 3)],
          false, None, "agreed", none, none),
        c("two objections, one stale", ABC, PLAIN,
          &[("A", "object", "h0", 1), ("B", "object", "h1", 2), ("C", "support", "h1", 3)],
          false, None, "objected", &["A"], &["A"]),
    ]
}

#[test]
fn status_table() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    for case in &cases {
        let ledger: Vec<PositionEntry> = case
            .ledger
            .iter()
            .map(|(entity, stance, hash, seq)| entry(entity, stance, hash, *seq))
            .collect();
        let sil = case.silence.map(|d| silence(d, CUR));
        let f = ElementFacts {
            element_id: EL,
            text: case.text,
            text_hash: CUR,
            adopted: case.adopted,
            silence: sil.as_ref(),
            ledger: &ledger,
        };
        let participants = parts(case.participants);
        let s = summarize(&f, &participants);
        assert_eq!(s.status.as_str(), case.status, "case {:?}", case.name);
        if let Some(d) = case.silence
            && !case.adopted
        {
            assert_eq!(
                s.status,
                Status::UnderSilence { deadline: d },
                "{}",
                case.name
            );
        }
        assert_eq!(s.not_responded, case.not_responded, "case {:?}", case.name);
        assert_eq!(s.stale, case.stale, "case {:?}", case.name);
        assert_eq!(s.cells.len(), participants.len(), "case {:?}", case.name);
        assert_eq!(s.bracketed, has_brackets(case.text), "case {:?}", case.name);
    }
}

// ---------------------------------------------------------------- silence

#[test]
fn silence_may_start_on_agreed_ad_ref_and_open() {
    for status in [Status::Agreed, Status::AgreedAdRef, Status::Open] {
        let s = summary_with_status(EL, status);
        assert_eq!(may_start_silence(&s, 10_000, 0, 10_000), Ok(()));
    }
}

#[test]
fn silence_refusals_have_distinct_codes() {
    let cases = [
        (Status::Objected, "objected"),
        (Status::Bracketed, "bracketed"),
        (
            Status::UnderSilence { deadline: 9 },
            "already_under_silence",
        ),
        (Status::Adopted, "adopted"),
    ];
    for (status, code) in cases {
        let s = summary_with_status(EL, status);
        // Even with a fine deadline.
        let r = may_start_silence(&s, 1_000_000, 0, 0).unwrap_err();
        assert_eq!(r.code, code);
    }
}

#[test]
fn objected_refusal_names_the_objectors() {
    let ledger = vec![
        entry("A", "support", "h1", 1),
        entry("B", "object", "h1", 2),
    ];
    let s = sum(&ledger, &["A", "B"]);
    let r = may_start_silence(&s, 1_000_000, 0, 0).unwrap_err();
    assert_eq!(r.code, "objected");
    assert!(r.message.contains('B'), "{}", r.message);
}

#[test]
fn silence_deadline_needs_minimum_notice() {
    let s = summary_with_status(EL, Status::Agreed);
    let hour = 3_600_000;
    let now = 1_700_000_000_000;
    assert_eq!(may_start_silence(&s, now + hour, now, hour), Ok(()));
    let r = may_start_silence(&s, now + hour - 1, now, hour).unwrap_err();
    assert_eq!(r.code, "deadline_too_soon");
    assert!(
        r.message.contains("at least 60 minutes ahead"),
        "{}",
        r.message
    );
    let r = may_start_silence(&s, now - 1, now, 2 * 86_400_000).unwrap_err();
    assert!(r.message.contains("at least 2 days ahead"), "{}", r.message);
    // No minimum: now is fine, the past is not.
    assert_eq!(may_start_silence(&s, now, now, 0), Ok(()));
    assert_eq!(may_start_silence(&s, now, now, -5), Ok(()));
    let r = may_start_silence(&s, now - 1, now, 0).unwrap_err();
    assert_eq!(r.code, "deadline_too_soon");
    assert!(r.message.contains("past"), "{}", r.message);
    // No overflow near the end of time.
    let r = may_start_silence(&s, i64::MAX - 1, i64::MAX - 10, hour).unwrap_err();
    assert_eq!(r.code, "deadline_too_soon");
    assert_eq!(may_start_silence(&s, i64::MAX, i64::MAX - 10, hour), Ok(()));
}

#[test]
fn human_durations() {
    assert_eq!(human_duration(3_600_000), "60 minutes");
    assert_eq!(human_duration(60_000), "1 minute");
    assert_eq!(human_duration(90 * 60_000), "90 minutes");
    assert_eq!(human_duration(7_200_000), "2 hours");
    assert_eq!(human_duration(86_400_000), "24 hours");
    assert_eq!(human_duration(3 * 86_400_000), "3 days");
    assert_eq!(human_duration(1_000), "1 second");
    assert_eq!(human_duration(45_000), "45 seconds");
    assert_eq!(human_duration(1_500), "1500 milliseconds");
    assert_eq!(human_duration(1), "1 millisecond");
}

#[test]
fn only_a_current_objection_breaks_silence() {
    let sil = silence(5_000, "h1");
    assert!(breaks_silence(&entry("A", "object", "h1", 1), &sil));
    assert!(!breaks_silence(&entry("A", "object", "h0", 1), &sil));
    for stance in ["support", "support_ad_ref", "reservation", "abstain"] {
        assert!(
            !breaks_silence(&entry("A", stance, "h1", 1), &sil),
            "{stance}"
        );
    }
}

#[test]
fn firing_silence_supports_the_silent() {
    let sil = silence(5_000, "h1");
    let ledger = vec![
        entry("A", "support", "h1", 1),
        entry("B", "support_ad_ref", "h1", 2),
        entry("C", "support", "h0", 3), // stale
        entry("E", "reservation", "h1", 4),
        entry("F", "abstain", "h1", 5),
        entry("X", "support", "h0", 6), // not a participant
    ];
    let participants = parts(&["A", "B", "C", "D", "E", "F"]);
    let fired = fire_silence(&sil, EL, &ledger, &participants, 5_001, 100);
    let who: Vec<&str> = fired.iter().map(|e| e.entity.as_str()).collect();
    assert_eq!(who, ["C", "D"]);
    for (i, e) in fired.iter().enumerate() {
        assert_eq!(e.seq, 100 + i as i64);
        assert_eq!(e.element_id, EL);
        assert_eq!(e.stance, Stance::Support);
        assert!(e.by_silence);
        assert_eq!(e.user_id, None);
        assert_eq!(e.note, None);
        assert_eq!(e.wording, None);
        assert_eq!(e.text_hash, "h1");
        assert_eq!(e.at, 5_001);
    }

    // Under silence before; agreed ad ref after, with B's ad ref standing.
    let before = summarize(
        &ElementFacts {
            silence: Some(&sil),
            ..facts(PLAIN, "h1", &ledger)
        },
        &participants,
    );
    assert_eq!(before.status, Status::UnderSilence { deadline: 5_000 });
    let mut after_ledger = ledger.clone();
    after_ledger.extend(fired);
    let after = summarize(&facts(PLAIN, "h1", &after_ledger), &participants);
    assert_eq!(after.status, Status::AgreedAdRef);
    assert_eq!(after.ad_ref, ["B"]);
    assert!(after.not_responded.is_empty() && after.stale.is_empty());
    assert_eq!(after.reservations.len(), 1);
    // Firing again finds nothing left to do.
    assert!(fire_silence(&sil, EL, &after_ledger, &participants, 5_002, 200).is_empty());
}

#[test]
fn firing_silence_on_an_open_element_gives_agreed() {
    let sil = silence(5_000, "h1");
    let ledger = vec![entry("B", "support", "h0", 1)];
    let participants = parts(&["A", "B", "C", "C"]); // a duplicate is fired once
    let fired = fire_silence(&sil, EL, &ledger, &participants, 6_000, 2);
    let seqs: Vec<(&str, i64)> = fired.iter().map(|e| (e.entity.as_str(), e.seq)).collect();
    assert_eq!(seqs, [("A", 2), ("B", 3), ("C", 4)]);
    let mut all = ledger;
    all.extend(fired);
    let s = summarize(&facts(PLAIN, "h1", &all), &parts(&["A", "B", "C"]));
    assert_eq!(s.status, Status::Agreed);
    assert!(
        s.cells
            .iter()
            .all(|c| c.latest.as_ref().unwrap().by_silence)
    );
}

#[test]
fn a_stale_objection_becomes_support_by_silence_only_when_confirmed() {
    let ledger = vec![
        entry("A", "object", "h0", 1),  // stale objection
        entry("B", "support", "h0", 2), // stale support
        entry("C", "object", "h0", 3),  // stale objection
        entry("D", "support", "h1", 4),
    ];
    let participants = parts(&["A", "B", "C", "D", "E"]);
    let s = sum(&ledger, &["A", "B", "C", "D", "E"]);
    let stale: Vec<(&str, i64)> = stale_objections(&s)
        .iter()
        .map(|e| (e.entity.as_str(), e.seq))
        .collect();
    assert_eq!(stale, [("A", 1), ("C", 3)]);
    // Nothing confirmed: both stale objections stand; the rest is fired.
    let sil = silence(5_000, "h1");
    let who: Vec<String> = fire_silence(&sil, EL, &ledger, &participants, 5_001, 10)
        .into_iter()
        .map(|e| e.entity)
        .collect();
    assert_eq!(who, ["B", "E"]);
    // A confirmed: A becomes support by silence, C still stands, and the
    // element stays open (C has no current position).
    let sil = Silence {
        confirmed_stale: vec![1],
        ..silence(5_000, "h1")
    };
    let fired = fire_silence(&sil, EL, &ledger, &participants, 5_001, 10);
    let who: Vec<&str> = fired.iter().map(|e| e.entity.as_str()).collect();
    assert_eq!(who, ["A", "B", "E"]);
    let mut after = ledger.clone();
    after.extend(fired);
    let s = summarize(&facts(PLAIN, "h1", &after), &participants);
    assert_eq!(s.status, Status::Open);
    assert_eq!(s.stale, ["C"]);
    // A confirmation names a ledger entry: a newer stale objection of the
    // same entity is not covered by it.
    let mut newer = ledger.clone();
    newer.push(entry("A", "object", "h2", 9));
    let who: Vec<String> = fire_silence(&sil, EL, &newer, &participants, 5_001, 10)
        .into_iter()
        .map(|e| e.entity)
        .collect();
    assert_eq!(who, ["B", "E"]);
}

#[test]
fn during_silence_positions_are_taken_on_the_locked_text_only() {
    let sil = silence(5_000, "h1");
    assert!(may_record_during_silence(&sil, "h1").is_ok());
    let refusal = may_record_during_silence(&sil, "h2").unwrap_err();
    assert_eq!(refusal.code, "text_changed");
    assert!(refusal.message.contains("h1"), "{}", refusal.message);
}

#[test]
fn firing_with_no_participants_or_all_current_appends_nothing() {
    let sil = silence(5_000, "h1");
    assert!(fire_silence(&sil, EL, &[], &[], 1, 1).is_empty());
    let ledger = vec![entry("A", "abstain", "h1", 1)];
    assert!(fire_silence(&sil, EL, &ledger, &parts(&["A"]), 1, 2).is_empty());
}

// --------------------------------------------------------------- adoption

#[test]
fn only_agreed_elements_may_be_adopted() {
    assert_eq!(may_adopt(&summary_with_status(EL, Status::Agreed)), Ok(()));

    let ledger = vec![
        entry("A", "support", "h1", 1),
        entry("B", "support_ad_ref", "h1", 2),
    ];
    let s = sum(&ledger, &["A", "B"]);
    assert_eq!(s.status, Status::AgreedAdRef);
    let r = may_adopt(&s).unwrap_err();
    assert_eq!(r.code, "ad_ref_pending");
    assert!(r.message.contains('B'), "{}", r.message);

    for status in [
        Status::Adopted,
        Status::UnderSilence { deadline: 3 },
        Status::Objected,
        Status::Bracketed,
        Status::Open,
    ] {
        let name = status.as_str();
        let r = may_adopt(&summary_with_status(EL, status)).unwrap_err();
        assert_eq!(r.code, "not_agreed");
        assert!(r.message.contains(name), "{}", r.message);
    }
}

#[test]
fn draft_adoption_needs_every_element_adopted() {
    let adopted = |id| summary_with_status(id, Status::Adopted);
    assert_eq!(may_adopt_draft(&[adopted("e1"), adopted("e2")]), Ok(()));

    let r = may_adopt_draft(&[
        adopted("e1"),
        summary_with_status("e2", Status::Agreed),
        adopted("e3"),
        summary_with_status("e4", Status::Objected),
    ])
    .unwrap_err();
    assert_eq!(r.code, "not_all_adopted");
    assert!(r.message.contains("e2 (agreed)"), "{}", r.message);
    assert!(r.message.contains("e4 (objected)"), "{}", r.message);
    assert!(!r.message.contains("e1") && !r.message.contains("e3"));

    let r = may_adopt_draft(&[]).unwrap_err();
    assert_eq!(r.code, "not_all_adopted");
}

#[test]
fn progress_counts_and_states() {
    let s = |st| summary_with_status("e", st);
    let all = [
        s(Status::Adopted),
        s(Status::UnderSilence { deadline: 1 }),
        s(Status::Objected),
        s(Status::Bracketed),
        s(Status::Agreed),
        s(Status::AgreedAdRef),
        s(Status::Open),
    ];
    let p = progress(&all, false);
    assert_eq!(
        p,
        Progress {
            elements: 7,
            agreed: 2,
            adopted: 1,
            objected: 1,
            bracketed: 1,
            under_silence: 1,
            open: 1,
            state: DraftState::Open,
        }
    );
    assert_eq!(progress(&all, true).state, DraftState::Adopted);

    let agreed = [
        s(Status::Adopted),
        s(Status::Agreed),
        s(Status::AgreedAdRef),
    ];
    assert_eq!(progress(&agreed, false).state, DraftState::Agreed);
    let adopted = [s(Status::Adopted), s(Status::Adopted)];
    assert_eq!(progress(&adopted, false).state, DraftState::AllAdopted);
    assert_eq!(progress(&adopted, true).state, DraftState::Adopted);
    let silent = [s(Status::Agreed), s(Status::UnderSilence { deadline: 1 })];
    assert_eq!(progress(&silent, false).state, DraftState::Open);

    let empty = progress(&[], false);
    assert_eq!(empty.elements, 0);
    assert_eq!(empty.state, DraftState::Open);
    assert_eq!(progress(&[], true).state, DraftState::Adopted);

    let json = serde_json::to_value(progress(&adopted, false)).unwrap();
    assert_eq!(json["state"], "all_adopted");
    assert_eq!(json["adopted"], 2);
}

// ---------------------------------------------------------- property test

/// splitmix64: a tiny deterministic PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// An independent, naive statement of the status rules.
fn oracle(
    adopted: bool,
    silence: Option<&Silence>,
    text: &str,
    hash: &str,
    ledger: &[PositionEntry],
    participants: &[String],
) -> Status {
    let current: Vec<Option<Stance>> = participants
        .iter()
        .map(|p| {
            ledger
                .iter()
                .filter(|e| e.element_id == EL && &e.entity == p)
                .max_by_key(|e| e.seq)
                .filter(|e| e.text_hash == hash)
                .map(|e| e.stance)
        })
        .collect();
    if adopted {
        Status::Adopted
    } else if let Some(s) = silence {
        Status::UnderSilence {
            deadline: s.deadline,
        }
    } else if current.contains(&Some(Stance::Object)) {
        Status::Objected
    } else if text.contains('[') || text.contains(']') {
        Status::Bracketed
    } else if current.iter().all(Option::is_some)
        && current.iter().any(|s| {
            matches!(
                s,
                Some(Stance::Support | Stance::SupportAdRef | Stance::Reservation)
            )
        })
    {
        if current.contains(&Some(Stance::SupportAdRef)) {
            Status::AgreedAdRef
        } else {
            Status::Agreed
        }
    } else {
        Status::Open
    }
}

#[test]
fn random_ledgers_keep_the_invariants() {
    const POOL: [&str; 8] = ["A", "B", "C", "D", "E", "F", "G", "H"];
    const HASHES: [&str; 3] = ["h0", "h1", "h2"];
    const TEXTS: [&str; 3] = [PLAIN, "a [b] c", "no brackets here"];
    let mut rng = Rng(0x5EED_2013);
    let mut seen = std::collections::HashSet::new();

    for round in 0..5_000 {
        // Distinct participants, shuffled.
        let mut pool: Vec<&str> = POOL.to_vec();
        for i in (1..pool.len()).rev() {
            pool.swap(i, rng.below(i + 1));
        }
        let participants = parts(&pool[..rng.below(7)]);
        let hash = HASHES[rng.below(2)];
        let text = TEXTS[rng.below(TEXTS.len())];
        let ledger: Vec<PositionEntry> = (0..rng.below(16))
            .map(|_| {
                let mut e = entry(
                    POOL[rng.below(POOL.len())],
                    Stance::ALL[rng.below(5)].as_str(),
                    HASHES[rng.below(HASHES.len())],
                    rng.below(12) as i64,
                );
                if rng.chance(10) {
                    e.element_id = "el-other".into();
                }
                e
            })
            .collect();
        let adopted = rng.chance(10);
        let sil = rng.chance(8).then(|| silence(round, hash));
        let f = ElementFacts {
            element_id: EL,
            text,
            text_hash: hash,
            adopted,
            silence: sil.as_ref(),
            ledger: &ledger,
        };

        let s = summarize(&f, &participants);
        seen.insert(s.status.as_str());
        let ctx = || format!("round {round}: {participants:?} {hash} {text:?} {ledger:#?}");

        assert_eq!(
            s.status,
            oracle(adopted, sil.as_ref(), text, hash, &ledger, &participants),
            "{}",
            ctx()
        );
        assert_eq!(s.cells.len(), participants.len(), "{}", ctx());
        let not_current: Vec<String> = s
            .cells
            .iter()
            .filter(|c| c.standing != Standing::Current)
            .map(|c| c.entity.clone())
            .collect();
        assert_eq!(s.not_responded, not_current, "{}", ctx());
        let stale: Vec<String> = s
            .cells
            .iter()
            .filter(|c| c.standing == Standing::Stale)
            .map(|c| c.entity.clone())
            .collect();
        assert_eq!(s.stale, stale, "{}", ctx());
        for (cell, p) in s.cells.iter().zip(&participants) {
            assert_eq!(&cell.entity, p);
            assert_eq!(cell.standing == Standing::NoResponse, cell.latest.is_none());
        }
        assert!(
            s.objections
                .iter()
                .all(|e| e.stance == Stance::Object && e.text_hash == hash)
        );
        assert!(
            s.reservations
                .iter()
                .all(|e| e.stance == Stance::Reservation)
        );
        if s.status.is_agreed() {
            assert!(s.not_responded.is_empty() && s.objections.is_empty() && !s.bracketed);
        }

        // Firing a silence whose start confirmed every stale objection
        // leaves nobody without a current position; the result is agreed
        // unless someone objects, the text is bracketed, or every current
        // position abstains.
        let unconfirmed = silence(round, hash);
        let standing: Vec<String> = fire_silence(&unconfirmed, EL, &ledger, &participants, 99, 100)
            .into_iter()
            .map(|e| e.entity)
            .collect();
        for e in stale_objections(&s) {
            assert!(!standing.contains(&e.entity), "{}", ctx());
        }
        let locked = Silence {
            confirmed_stale: stale_objections(&s).iter().map(|e| e.seq).collect(),
            ..silence(round, hash)
        };
        let fired = fire_silence(&locked, EL, &ledger, &participants, 99, 100);
        assert!(
            fired
                .iter()
                .all(|e| e.by_silence && e.stance == Stance::Support)
        );
        let mut after = ledger.clone();
        after.extend(fired);
        let s2 = summarize(&facts(text, hash, &after), &participants);
        assert!(s2.not_responded.is_empty(), "{}", ctx());
        if !s2.bracketed && s2.objections.is_empty() && !participants.is_empty() {
            let all_abstain = s2
                .cells
                .iter()
                .all(|c| c.latest.as_ref().unwrap().stance == Stance::Abstain);
            let expect_open = all_abstain;
            assert_eq!(s2.status == Status::Open, expect_open, "{}", ctx());
            if !expect_open {
                assert!(s2.status.is_agreed(), "{}", ctx());
            }
        }
    }
    // The generator reaches every status.
    assert_eq!(seen.len(), 7, "{seen:?}");
}
