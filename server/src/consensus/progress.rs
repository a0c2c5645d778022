//! The progress sentence: a draft's consensus in one line, for people. The
//! API's `summary`, the index document's `consensus.summary` (the chair's
//! board shows it live) and `accord status` all say it in these words.

use accord_consensus::{DraftState, ElementSummary, Progress, Status};

use super::facts::DraftFacts;
use crate::clock::iso;

/// "3 of 8 elements agreed (1 adopted); 23 entities have not responded on
/// (b) and 5 responded on an earlier text (stale); (c) objected by FAO;
/// (d) under silence."
pub(crate) fn progress_sentence(
    facts: &DraftFacts,
    summaries: &[ElementSummary],
    p: &Progress,
) -> String {
    let labels: Vec<&str> = facts.elements.iter().map(|e| e.label.as_str()).collect();
    sentence(&labels, summaries, p, facts.draft.adopted_at)
}

/// The sentence from each element's label and summary (in the draft's
/// order), the draft's progress and when the draft was adopted (unix ms).
fn sentence(
    labels: &[&str],
    summaries: &[ElementSummary],
    p: &Progress,
    adopted_at: Option<i64>,
) -> String {
    let n = summaries.len();
    if n == 0 {
        return "This draft has no elements yet.".to_owned();
    }
    let elements = plural(n, "element", "elements");
    if p.state == DraftState::Adopted {
        let on = adopted_at
            .map(|ms| format!(" on {}", utc(ms)))
            .unwrap_or_default();
        return format!("The draft was adopted{on}: all {elements} adopted.");
    }
    let adopted = p.adopted;
    let agreed = p.adopted + p.agreed;
    let mut parts = vec![if adopted > 0 {
        format!("{agreed} of {elements} agreed ({adopted} adopted)")
    } else {
        format!("{agreed} of {elements} agreed")
    }];
    if adopted == n {
        parts.push("every element is adopted: the draft can now be adopted".to_owned());
    }
    // Open elements waiting for answers, grouped by how many have not
    // responded and how many responded on an earlier text (stale); the
    // smallest wait first.
    let mut waiting: Vec<(usize, usize, Vec<&str>)> = Vec::new();
    for (label, s) in labels.iter().zip(summaries) {
        if s.status != Status::Open || s.not_responded.is_empty() {
            continue;
        }
        let stale = s.stale.len();
        let missing = s.not_responded.len() - stale;
        match waiting
            .iter_mut()
            .find(|(m, st, _)| (*m, *st) == (missing, stale))
        {
            Some((_, _, group)) => group.push(label),
            None => waiting.push((missing, stale, vec![label])),
        }
    }
    waiting.sort_by_key(|(missing, stale, _)| (missing + stale, *stale));
    for (missing, stale, group) in &waiting {
        parts.push(not_responded_words(*missing, *stale, &list(group)));
    }
    for (label, s) in labels.iter().zip(summaries) {
        if s.status == Status::Objected {
            let who: Vec<&str> = s.objections.iter().map(|e| e.entity.as_str()).collect();
            parts.push(format!("{label} objected by {}", list(&who)));
        }
    }
    let with = |wanted: fn(&Status) -> bool| -> Vec<&str> {
        labels
            .iter()
            .zip(summaries)
            .filter(|(_, s)| wanted(&s.status))
            .map(|(label, _)| *label)
            .collect()
    };
    let silenced = with(|s| matches!(s, Status::UnderSilence { .. }));
    if !silenced.is_empty() {
        parts.push(format!("{} under silence", list(&silenced)));
    }
    let bracketed = with(|s| *s == Status::Bracketed);
    if !bracketed.is_empty() {
        parts.push(format!("{} bracketed", list(&bracketed)));
    }
    format!("{}.", parts.join("; "))
}

/// "23 entities have not responded on (b) and 5 responded on an earlier
/// text (stale)": missing and stale positions counted apart.
fn not_responded_words(missing: usize, stale: usize, on: &str) -> String {
    let on = if on.is_empty() {
        String::new()
    } else {
        format!(" on {on}")
    };
    if stale == 0 {
        format!(
            "{} not responded{on}",
            plural(missing, "entity has", "entities have")
        )
    } else if missing == 0 {
        format!(
            "{} responded{on} only on an earlier text (stale)",
            plural(stale, "entity", "entities")
        )
    } else {
        format!(
            "{} not responded{on} and {stale} responded on an earlier text (stale)",
            plural(missing, "entity has", "entities have")
        )
    }
}

/// "a", "a and b", "a, b and c".
fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `one` or `many` after the count: "1 entity", "5 entities".
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "2026-05-01 12:00 UTC" from unix ms.
fn utc(ms: i64) -> String {
    let at = iso(ms);
    match (at.get(..10), at.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => at,
    }
}

#[cfg(test)]
mod tests {
    use accord_consensus::{ElementFacts, PositionEntry, Silence, Stance, progress, summarize};

    use super::*;

    const TEXT: &str = "The text.";
    const HASH: &str = "current";

    /// The draft's entities: E00, E01, …
    fn entities(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("E{i:02}")).collect()
    }

    fn entry(element: &str, entity: &str, stance: Stance, text_hash: &str) -> PositionEntry {
        PositionEntry {
            seq: 0,
            element_id: element.to_owned(),
            entity: entity.to_owned(),
            stance,
            note: None,
            wording: None,
            text_hash: text_hash.to_owned(),
            user_id: None,
            by_silence: false,
            at: 0,
        }
    }

    /// An element as the board sees it: its label, its text, whether it is
    /// adopted or under silence, and its ledger.
    struct El {
        label: &'static str,
        text: &'static str,
        adopted: bool,
        silence: Option<i64>,
        ledger: Vec<PositionEntry>,
    }

    impl El {
        fn new(label: &'static str) -> Self {
            Self {
                label,
                text: TEXT,
                adopted: false,
                silence: None,
                ledger: Vec::new(),
            }
        }

        /// `stance` on the current text by the given entities.
        fn current(mut self, entities: &[String], stance: Stance) -> Self {
            for e in entities {
                self.ledger.push(entry(self.label, e, stance, HASH));
            }
            self
        }

        /// `stance` on an earlier text by the given entities.
        fn stale(mut self, entities: &[String], stance: Stance) -> Self {
            for e in entities {
                self.ledger.push(entry(self.label, e, stance, "earlier"));
            }
            self
        }
    }

    fn say(participants: &[String], els: &[El], draft_adopted_at: Option<i64>) -> String {
        let summaries: Vec<ElementSummary> = els
            .iter()
            .map(|el| {
                let silence = el.silence.map(|deadline| Silence {
                    id: 1,
                    deadline,
                    started_at: 0,
                    locked_text_hash: HASH.to_owned(),
                    confirmed_stale: Vec::new(),
                });
                summarize(
                    &ElementFacts {
                        element_id: el.label,
                        text: el.text,
                        text_hash: HASH,
                        adopted: el.adopted,
                        silence: silence.as_ref(),
                        ledger: &el.ledger,
                    },
                    participants,
                )
            })
            .collect();
        let p = progress(&summaries, draft_adopted_at.is_some());
        let labels: Vec<&str> = els.iter().map(|e| e.label).collect();
        sentence(&labels, &summaries, &p, draft_adopted_at)
    }

    #[test]
    fn no_elements() {
        assert_eq!(
            say(&entities(3), &[], None),
            "This draft has no elements yet."
        );
    }

    #[test]
    fn stale_positions_are_counted_apart_from_missing_ones() {
        // The board test's draft: 28 entities; (r1) with one support, (r2)
        // with five stale positions and none on the current text, (r3) with
        // one stale position.
        let all = entities(28);
        let els = [
            El::new("(r1)").current(&all[..1], Stance::Support),
            El::new("(r2)").stale(&all[..5], Stance::Support),
            El::new("(r3)").stale(&all[..1], Stance::Support),
        ];
        assert_eq!(
            say(&all, &els, None),
            "0 of 3 elements agreed; 27 entities have not responded on (r1); \
             27 entities have not responded on (r3) and 1 responded on an earlier text (stale); \
             23 entities have not responded on (r2) and 5 responded on an earlier text (stale)."
        );
    }

    #[test]
    fn elements_waiting_alike_are_named_together_singular_and_plural_right() {
        let all = entities(3);
        let els = [
            El::new("(a)").current(&all[..2], Stance::Support),
            El::new("(b)").current(&all[..2], Stance::Abstain),
            El::new("(c)")
                .current(&all[1..], Stance::Support)
                .stale(&all[..1], Stance::Support),
            El::new("(d)").stale(&all, Stance::Support),
            El::new("(e)").current(&all[..2], Stance::Support),
        ];
        assert_eq!(
            say(&all, &els, None),
            "0 of 5 elements agreed; 1 entity has not responded on (a), (b) and (e); \
             1 entity responded on (c) only on an earlier text (stale); \
             3 entities responded on (d) only on an earlier text (stale)."
        );
    }

    #[test]
    fn objections_silence_and_brackets() {
        let all = entities(4);
        let els = [
            El::new("(a)").current(&all, Stance::Support),
            El::new("(b)")
                .current(&all[..2], Stance::Support)
                .current(&all[2..], Stance::Object),
            El::new("(c)")
                .current(&all[..3], Stance::Support)
                .current(&all[3..], Stance::Object),
            El::new("(d)").current(&all, Stance::SupportAdRef),
            El {
                silence: Some(1_000),
                ..El::new("(e)")
            },
            El {
                silence: Some(2_000),
                ..El::new("(f)")
            },
            El {
                text: "A [bracketed] text.",
                ..El::new("(g)")
            }
            .current(&all, Stance::Support),
        ];
        assert_eq!(
            say(&all, &els, None),
            "2 of 7 elements agreed; (b) objected by E02 and E03; (c) objected by E03; \
             (e) and (f) under silence; (g) bracketed."
        );
    }

    #[test]
    fn adopted_elements_and_an_adoptable_draft() {
        let all = entities(2);
        let some = [
            El {
                adopted: true,
                ..El::new("(a)")
            },
            El::new("(b)").current(&all, Stance::Support),
            El::new("(c)").current(&all[..1], Stance::Support),
        ];
        assert_eq!(
            say(&all, &some, None),
            "2 of 3 elements agreed (1 adopted); 1 entity has not responded on (c)."
        );
        let every = [
            El {
                adopted: true,
                ..El::new("(a)")
            },
            El {
                adopted: true,
                ..El::new("(b)")
            },
        ];
        assert_eq!(
            say(&all, &every, None),
            "2 of 2 elements agreed (2 adopted); every element is adopted: the draft can now be adopted."
        );
    }

    #[test]
    fn an_adopted_draft() {
        let all = entities(2);
        let every = [
            El {
                adopted: true,
                ..El::new("(a)")
            },
            El {
                adopted: true,
                ..El::new("(b)")
            },
        ];
        // 2026-05-01T12:00:30Z
        assert_eq!(
            say(&all, &every, Some(1_777_636_830_000)),
            "The draft was adopted on 2026-05-01 12:00 UTC: all 2 elements adopted."
        );
        assert_eq!(
            say(&all, &every[..1], Some(1_777_636_830_000)),
            "The draft was adopted on 2026-05-01 12:00 UTC: all 1 element adopted."
        );
    }

    #[test]
    fn lists() {
        assert_eq!(list(&[]), "");
        assert_eq!(list(&["a"]), "a");
        assert_eq!(list(&["a", "b"]), "a and b");
        assert_eq!(list(&["a", "b", "c"]), "a, b and c");
    }
}
