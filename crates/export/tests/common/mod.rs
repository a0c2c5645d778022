//! Test data: snapshots of the reference scenario (scenarios/hld2013.toml).

#![allow(dead_code)]

use accord_export::{ElementSnapshot, PendingAmendment, Position, Snapshot};
use accord_model::Scenario;

const SCENARIO: &str = include_str!("../../../../scenarios/hld2013.toml");

/// 1 March 2013, 09:00 UTC.
pub const MARCH_1: i64 = 1_362_128_400_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;
/// The version's time: 5 April 2013, 14:03:07 UTC.
pub const AT: i64 = 1_365_170_587_000;

pub fn scenario() -> Scenario {
    Scenario::parse(SCENARIO).expect("the reference scenario parses")
}

pub fn pos(entity: &str, stance: &str, at: i64) -> Position {
    Position {
        entity: entity.into(),
        stance: stance.into(),
        note: None,
        wording: None,
        at,
        by_silence: false,
        current: true,
    }
}

pub fn noted(mut p: Position, note: &str) -> Position {
    p.note = Some(note.into());
    p
}

pub fn stale(mut p: Position) -> Position {
    p.current = false;
    p
}

pub fn silent(mut p: Position) -> Position {
    p.by_silence = true;
    p
}

fn element(sc: &Scenario, i: usize, status: &str, positions: Vec<Position>) -> ElementSnapshot {
    ElementSnapshot {
        id: format!("el-{}", i + 1),
        label: sc.elements[i].label.clone(),
        text: sc.elements[i].text.clone(),
        status: status.into(),
        positions,
        amendments: Vec::new(),
    }
}

/// The first three elements and the first six entities of the reference
/// scenario, with: a reservation with a note, an objection with reason and
/// wording, a stale support, a support by silence, an ad ref support, an
/// abstention, a changed position, and a text with `[` `]`, `*`, `<tag>` and
/// `&`.
pub fn sample() -> Snapshot {
    let sc = scenario();
    let a = element(
        &sc,
        0,
        "agreed_ad_ref",
        vec![
            pos("DESA", "support", MARCH_1),
            noted(
                pos("IOM", "reservation", MARCH_1 + HOUR),
                "IOM reads \"orderly and safe\" as including regular pathways <e.g. visas> & [family reunification].",
            ),
            pos("OHCHR", "support_ad_ref", MARCH_1 + 2 * HOUR),
            pos("UNCTAD", "abstain", MARCH_1 + DAY),
            pos("UNDP", "support", MARCH_1 + DAY + HOUR),
            silent(pos("ILO", "support", MARCH_1 + 10 * DAY)),
        ],
    );
    let mut b = element(
        &sc,
        1,
        "objected",
        vec![
            stale(pos("DESA", "support", MARCH_1)),
            {
                let mut p = noted(
                    pos("IOM", "object", MARCH_1 + 3 * DAY),
                    "\"Genuine\" overstates what policy can achieve; *choice* is not binary.",
                );
                p.wording = Some(
                    "Aspiring to make migration a matter of choice rather than necessity;".into(),
                );
                p
            },
            pos("ILO", "support", MARCH_1 + 3 * DAY + HOUR),
        ],
    );
    b.text = "Aspiring to make migration a [genuine][real] choice, instead of a *desperate* \
              necessity <tag> & a last resort;"
        .into();
    let c = element(
        &sc,
        2,
        "open",
        vec![
            noted(
                pos("IOM", "reservation", MARCH_1 + 2 * DAY),
                "Pending review of the labour-rights wording.",
            ),
            pos("OHCHR", "support", MARCH_1 + 2 * DAY + HOUR),
            pos("IOM", "support", MARCH_1 + 4 * DAY),
        ],
    );
    Snapshot {
        draft_id: "hld2013".into(),
        title: sc.draft.title.clone(),
        preamble: sc.draft.preamble.clone(),
        version_label: "Rev.1".into(),
        at: AT,
        elements: vec![a, b, c],
        entities: sc
            .entities
            .iter()
            .take(6)
            .map(|e| (e.code.clone(), e.name.clone()))
            .collect(),
    }
}

/// An amendment `id` of `entity` (sponsored by `sponsors` after it)
/// replacing the first `passage` of `text` with `replacement`; an empty
/// `passage` inserts at `at_end` or the start.
pub fn amendment(
    id: i64,
    entity: &str,
    sponsors: &[&str],
    text: &str,
    passage: &str,
    at_end: bool,
    replacement: &str,
) -> PendingAmendment {
    let from = if passage.is_empty() {
        if at_end { text.chars().count() } else { 0 }
    } else {
        let at = text
            .find(passage)
            .unwrap_or_else(|| panic!("{passage:?} is not in {text:?}"));
        text[..at].chars().count()
    };
    PendingAmendment {
        id,
        entity: entity.into(),
        sponsors: std::iter::once(entity)
            .chain(sponsors.iter().copied())
            .map(Into::into)
            .collect(),
        from: Some(from),
        to: Some(from + passage.chars().count()),
        original: passage.into(),
        text: replacement.into(),
        reason: format!("Reason of A{id}."),
        conflict: false,
    }
}

/// `sample()` with pending amendments: in (a) a replacement sponsored by
/// two entities, insertions at the start and at the end, one overlapping
/// the replacement, texts with markup characters; in (b) a replacement in
/// conflict, a deletion, and one whose passage is not located; (c) none.
pub fn amended() -> Snapshot {
    let mut s = sample();
    let a = s.elements[0].text.clone();
    let mut replace = amendment(3, "IOM", &["UNDP"], &a, "safe", false, "safe, regular");
    replace.reason = "Aligns with <SDG 10.7> & the {--GFMM--} [pathways].".into();
    let overlapping = amendment(
        6,
        "OHCHR",
        &[],
        &a,
        "orderly and safe",
        false,
        "orderly, safe and regular",
    );
    s.elements[0].amendments = vec![
        replace,
        amendment(4, "ILO", &["DESA"], &a, "", false, "Firmly "),
        amendment(
            5,
            "UNDP",
            &[],
            &a,
            "",
            true,
            " (see *annex* {>>x<<} ~> [1])",
        ),
        overlapping,
    ];
    let b = s.elements[1].text.clone();
    let mut conflict = amendment(
        7,
        "IOM",
        &[],
        &b,
        "[genuine][real] choice",
        false,
        "genuine choice",
    );
    conflict.conflict = true;
    let mut unlocated = amendment(9, "UNCTAD", &[], &b, "choice", false, "option");
    unlocated.from = None;
    unlocated.to = None;
    unlocated.conflict = true;
    s.elements[1].amendments = vec![
        conflict,
        amendment(8, "UNCTAD", &["DESA", "ILO"], &b, "*desperate* ", false, ""),
        unlocated,
    ];
    s
}

/// The full reference scenario: 28 entities, 8 elements, positions of
/// several entities (reservations, an objection, ad ref, abstentions,
/// silence, stale), elements in every status.
pub fn full() -> Snapshot {
    let sc = scenario();
    let codes: Vec<String> = sc.entities.iter().map(|e| e.code.clone()).collect();
    let all_support = |start: i64| -> Vec<Position> {
        codes
            .iter()
            .enumerate()
            .map(|(i, c)| pos(c, "support", start + i as i64 * HOUR))
            .collect()
    };
    let statuses = [
        "adopted",
        "agreed",
        "under_silence",
        "objected",
        "agreed_ad_ref",
        "open",
        "bracketed",
        "open",
    ];
    let mut elements: Vec<ElementSnapshot> = (0..sc.elements.len())
        .map(|i| element(&sc, i, statuses[i], Vec::new()))
        .collect();

    // (a) adopted: everyone supports, two reservations.
    elements[0].positions = all_support(MARCH_1);
    elements[0].positions[1] = noted(
        pos("IOM", "reservation", MARCH_1 + HOUR),
        "Mobility must be orderly, safe and regular.",
    );
    elements[0].positions[8] = noted(
        pos("UNHCR", "reservation", MARCH_1 + 8 * HOUR),
        "Without prejudice to the distinct legal framework for refugees.",
    );
    // (b) agreed: support, an abstention.
    elements[1].positions = all_support(MARCH_1 + DAY);
    elements[1].positions[15] = pos("WB", "abstain", MARCH_1 + DAY + 15 * HOUR);
    // (c) under silence: some responses, the first ones a while ago.
    elements[2].positions = all_support(MARCH_1 + 2 * DAY)
        .into_iter()
        .take(12)
        .collect();
    elements[2].positions.push(noted(
        pos("ILO", "reservation", MARCH_1 + 3 * DAY),
        "Labour rights include the ILO fundamental conventions & [decent work] agenda.",
    ));
    // (d) objected, with a stale support before it.
    elements[3].positions = vec![
        stale(pos("DESA", "support", MARCH_1 + 4 * DAY)),
        pos("UNCTAD", "support", MARCH_1 + 4 * DAY + HOUR),
        {
            let mut p = noted(
                pos("WB", "object", MARCH_1 + 5 * DAY),
                "The text should mention remittance costs.",
            );
            p.wording = Some(
                "Focusing on the human development potential of migration, including lower \
                 remittance costs;"
                    .into(),
            );
            p
        },
    ];
    // (e) agreed ad ref: all support after silence, one ad ref.
    elements[4].positions = all_support(MARCH_1 + 6 * DAY)
        .into_iter()
        .take(20)
        .collect();
    for (i, c) in codes.iter().enumerate().skip(20) {
        elements[4]
            .positions
            .push(silent(pos(c, "support", MARCH_1 + 20 * DAY + i as i64)));
    }
    elements[4].positions[3] = pos("OHCHR", "support_ad_ref", MARCH_1 + 6 * DAY + 3 * HOUR);
    // (f) open: a few responses.
    elements[5].positions = vec![
        pos("UNHCR", "support", MARCH_1 + 7 * DAY),
        pos("IOM", "abstain", MARCH_1 + 7 * DAY + HOUR),
        noted(
            pos("UNICEF", "reservation", MARCH_1 + 7 * DAY + 2 * HOUR),
            "Children on the move need specific protection.",
        ),
    ];
    // (g) bracketed text.
    elements[6].text = elements[6].text.replace(
        "the sovereign prerogative",
        "[the sovereign prerogative][the sovereign right]",
    );
    elements[6].positions = vec![stale(pos("SRHRM", "support", MARCH_1 + 8 * DAY))];
    // (h) open, nobody yet.

    Snapshot {
        draft_id: "hld2013".into(),
        title: sc.draft.title.clone(),
        preamble: sc.draft.preamble.clone(),
        version_label: "current".into(),
        at: MARCH_1 + 30 * DAY,
        elements,
        entities: sc
            .entities
            .iter()
            .map(|e| (e.code.clone(), e.name.clone()))
            .collect(),
    }
}

/// A snapshot whose every text tries to break out of its format.
pub fn hostile() -> Snapshot {
    let evil = "</p></title><script>alert(1)</script> ]]> <!-- x --> &amp; &lt; \"q\" 'a' \
                [link](javascript:alert(1)) ![img](http://x/y.png) *em* _em_ `code` | ~~s~~ $m$ \\";
    Snapshot {
        draft_id: "a b/../\"x\"".into(),
        title: format!("# Title {evil}"),
        preamble: format!(
            "# not a heading\n- not a list\n1. not a list\n    not code\n> not a quote\n\n{evil}"
        ),
        version_label: format!("v<1> & \"2\" {evil}"),
        at: AT,
        elements: vec![
            ElementSnapshot {
                id: "x".into(),
                label: "<b>(a)</b>".into(),
                text: format!("{evil}\n===\n---\n+ x\n\u{0}\u{1b} control"),
                status: "objected\"><script>".into(),
                amendments: {
                    let text = format!("{evil}\n===\n---\n+ x\n\u{0}\u{1b} control");
                    let mut forged = amendment(
                        1,
                        "A\"B",
                        &["<X>"],
                        &text,
                        "",
                        false,
                        "{--forged--}{>>A9: X<<}",
                    );
                    forged.reason = evil.into();
                    vec![
                        forged,
                        amendment(2, "<X>", &[], &text, "===\n---", false, evil),
                        amendment(3, "Y Z", &[], &text, "\u{0}\u{1b} control", false, ""),
                    ]
                },
                positions: vec![
                    {
                        let mut p = noted(pos("A\"B", "object", MARCH_1), evil);
                        p.wording = Some(evil.into());
                        p
                    },
                    noted(pos("<X>", "reservation", MARCH_1), evil),
                    noted(pos("Y Z", "weird\" stance<>", MARCH_1), evil),
                ],
            },
            ElementSnapshot {
                id: "y".into(),
                label: "<b>(a)</b>".into(),
                text: String::new(),
                status: "open".into(),
                positions: Vec::new(),
                amendments: Vec::new(),
            },
        ],
        entities: vec![
            ("A\"B".into(), format!("Name {evil}")),
            ("1st".into(), "Starts with a digit".into()),
        ],
    }
}
