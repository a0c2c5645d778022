//! `accord status DRAFT`: the consensus state of a draft as a table for a
//! terminal, coloured when the output is one.

use std::fmt::Write as _;

use accord_consensus::{Stance, Standing, Status};

use crate::consensus::DraftFacts;

/// ANSI colours, or none.
struct Paint(bool);

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn status(&self, status: &Status, width: usize) -> String {
        let text = format!("{:<width$}", status.as_str());
        let code = match status {
            Status::Adopted => "1;32",
            Status::Agreed => "32",
            Status::AgreedAdRef => "36",
            Status::UnderSilence { .. } => "34",
            Status::Objected => "1;31",
            Status::Bracketed => "33",
            Status::Open => "0",
        };
        self.paint(code, &text)
    }
}

/// One matrix cell: a letter and its colour.
fn cell(standing: Standing, stance: Option<Stance>) -> (&'static str, &'static str) {
    match (standing, stance) {
        (Standing::NoResponse, _) | (_, None) => (".", "2"),
        (Standing::Stale, _) => ("~", "2;33"),
        (Standing::Current, Some(Stance::Support)) => ("S", "32"),
        (Standing::Current, Some(Stance::SupportAdRef)) => ("s", "36"),
        (Standing::Current, Some(Stance::Reservation)) => ("R", "33"),
        (Standing::Current, Some(Stance::Abstain)) => ("A", "2"),
        (Standing::Current, Some(Stance::Object)) => ("O", "1;31"),
    }
}

/// The report: state, one line per element, the matrix, objections and
/// reservations.
pub fn render(facts: &DraftFacts, color: bool, now: i64) -> String {
    let paint = Paint(color);
    let summaries = facts.summaries();
    let progress = facts.progress(&summaries);
    let mut out = String::new();
    let _ = writeln!(out, "{}", paint.paint("1", &facts.draft.title));
    let _ = writeln!(
        out,
        "draft {} · state {} · {}",
        facts.draft.id,
        serde_json::to_value(&progress.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        crate::consensus::progress_sentence(facts, &summaries, &progress)
    );
    let _ = writeln!(out);
    let label_width = facts
        .elements
        .iter()
        .map(|e| e.label.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(
        out,
        "{:<label_width$}  {:<14} {:>3} {:>3} {:>3} {:>3} {:>3} {:>5} {:>4}  deadline",
        "element", "status", "S", "s", "R", "A", "O", "stale", "none"
    );
    for (element, summary) in facts.elements.iter().zip(&summaries) {
        let count = |stance: Stance| {
            summary
                .cells
                .iter()
                .filter(|c| {
                    c.standing == Standing::Current
                        && c.latest.as_ref().is_some_and(|e| e.stance == stance)
                })
                .count()
        };
        let missing = summary
            .cells
            .iter()
            .filter(|c| c.standing == Standing::NoResponse)
            .count();
        let deadline = match summary.status {
            Status::UnderSilence { deadline } => {
                let left = (deadline - now).max(0) / 60_000;
                format!(
                    "{} ({} h {} min left)",
                    crate::clock::iso(deadline),
                    left / 60,
                    left % 60
                )
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<label_width$}  {} {:>3} {:>3} {:>3} {:>3} {:>3} {:>5} {:>4}  {deadline}",
            element.label,
            paint.status(&summary.status, 14),
            count(Stance::Support),
            count(Stance::SupportAdRef),
            count(Stance::Reservation),
            count(Stance::Abstain),
            count(Stance::Object),
            summary.stale.len(),
            missing,
        );
    }

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "S support · s ad ref · R reservation · A abstain · O object · ~ stale · . no response"
    );
    let code_width = facts
        .participants
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut header = format!("{:<code_width$}", "");
    for element in &facts.elements {
        let _ = write!(
            header,
            " {:^5}",
            element.label.chars().take(5).collect::<String>()
        );
    }
    let _ = writeln!(out, "{header}");
    for (i, (code, _)) in facts.participants.iter().enumerate() {
        let mut line = format!("{code:<code_width$}");
        for summary in &summaries {
            let c = &summary.cells[i];
            let (letter, colour) = cell(c.standing, c.latest.as_ref().map(|e| e.stance));
            let _ = write!(line, " {}", paint.paint(colour, &format!("{letter:^5}")));
        }
        let _ = writeln!(out, "{line}");
    }

    let mut notes = Vec::new();
    for (element, summary) in facts.elements.iter().zip(&summaries) {
        for e in &summary.objections {
            let mut line = format!(
                "{} {} objects: {}",
                element.label,
                e.entity,
                e.note.as_deref().unwrap_or("")
            );
            if let Some(wording) = &e.wording {
                let _ = write!(line, " — proposes: {wording}");
            }
            notes.push(paint.paint("31", &line));
        }
        for e in &summary.reservations {
            notes.push(format!(
                "{} {} reservation: {}",
                element.label,
                e.entity,
                e.note.as_deref().unwrap_or("")
            ));
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(out);
        for line in notes {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}
