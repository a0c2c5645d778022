//! Akoma Ntoso 3.0 export: a `statement` document that validates against the
//! OASIS LegalDocML schema.
//!
//! ```text
//! akomaNtoso
//! └─ statement name="statement"
//!    ├─ meta
//!    │  ├─ identification (FRBRWork / FRBRExpression / FRBRManifestation)
//!    │  ├─ workflow: one step per recorded position
//!    │  │     date="YYYY-MM-DD" by="#org_…" outcome="#outcome_…" href="#para_…"
//!    │  │     refersTo="#bySilence" / "#stale" where so
//!    │  └─ references: TLCObject accord (the source), one TLCOrganization per
//!    │        entity, TLCConcepts for the outcomes (and no response), the
//!    │        element statuses, silence and staleness
//!    ├─ preface: docTitle, docStatus (the version label), docDate
//!    ├─ preamble (when there is one)
//!    └─ mainBody: one paragraph per element, refersTo its status
//!          num (the label), content/p (the text); each pending amendment
//!          marked in the text (`del` the passage, `ins` the replacement,
//!          class "amendment", title its number, refersTo its sponsors'
//!          organisations) followed by its authorialNote (class
//!          "amendment"; "amendment conflict" when in conflict); each
//!          current reservation and objection as an authorialNote at the end
//!          of the text, refersTo the entity and the outcome, then the notes
//!          of amendments not marked in the text (see `compile.rs`)
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::compilation::{not_marked, proposal, tag};
use crate::compile::{Entry, Piece, change_lines, compile, number};
use crate::{
    PendingAmendment, STANCES, STATUSES, Snapshot, Standing, all_entities, date, iso, one_line,
    paragraphs, stance_label, status_label,
};

/// The Akoma Ntoso namespace.
pub const NAMESPACE: &str = "http://docs.oasis-open.org/legaldocml/ns/akn/3.0";

/// The draft at the version as an Akoma Ntoso 3.0 `statement` (see the
/// module source for the structure). Validates against the OASIS schema.
pub fn akoma_ntoso(s: &Snapshot) -> String {
    let mut ids = Ids::default();
    ids.take("accord");

    // References: entities, outcomes, statuses.
    let entities = all_entities(s);
    let entity_ids: Vec<String> = entities
        .iter()
        .map(|(code, _)| ids.take(&format!("org_{}", id_part(code))))
        .collect();
    let entity_ref = |code: &str| -> String {
        let i = entities
            .iter()
            .position(|(c, _)| *c == code)
            .expect("every position's entity is listed");
        format!("#{}", entity_ids[i])
    };

    // Outcomes: the known stances, no response, then unknown stances seen.
    let mut outcomes: Vec<(String, String, String)> = Vec::new(); // (stance, eId, showAs)
    for (stance, label) in STANCES {
        let id = ids.take(&format!("outcome_{}", id_part(stance)));
        outcomes.push((stance.to_owned(), id, label.to_owned()));
    }
    let no_response = ids.take("outcome_no_response");
    for element in &s.elements {
        for p in &element.positions {
            if !outcomes.iter().any(|(st, _, _)| *st == p.stance) {
                let id = ids.take(&format!("outcome_{}", id_part(&p.stance)));
                outcomes.push((p.stance.clone(), id, stance_label(&p.stance)));
            }
        }
    }
    let outcome_ref = |stance: &str| -> String {
        let (_, id, _) = outcomes
            .iter()
            .find(|(st, _, _)| st == stance)
            .expect("every stance has an outcome");
        format!("#{id}")
    };

    let mut statuses: Vec<(String, String, String)> = Vec::new();
    for (status, label) in STATUSES {
        let id = ids.take(&format!("status_{}", id_part(status)));
        statuses.push((status.to_owned(), id, label.to_owned()));
    }
    for element in &s.elements {
        if !element.status.is_empty() && !statuses.iter().any(|(st, _, _)| *st == element.status) {
            let id = ids.take(&format!("status_{}", id_part(&element.status)));
            statuses.push((element.status.clone(), id, status_label(&element.status)));
        }
    }
    let by_silence = ids.take("bySilence");
    let stale = ids.take("stale");

    // Element eIds, from the labels ("(a)" → "para_a").
    let element_ids: Vec<String> = s
        .elements
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let num = num_part(&e.label);
            if num.is_empty() {
                ids.take(&format!("para_{}", i + 1))
            } else {
                ids.take(&format!("para_{num}"))
            }
        })
        .collect();

    let day = date(s.at);
    let work = format!("/akn/un/statement/accord/{}", uri_part(&s.draft_id));
    let expression = format!("{work}/eng@{day}");

    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(x, "<akomaNtoso xmlns=\"{NAMESPACE}\">");
    x.push_str("  <statement name=\"statement\">\n");

    // --- meta
    x.push_str("    <meta>\n");
    x.push_str("      <identification source=\"#accord\">\n");
    x.push_str("        <FRBRWork>\n");
    let _ = writeln!(x, "          <FRBRthis value=\"{}/!main\"/>", attr(&work));
    let _ = writeln!(x, "          <FRBRuri value=\"{}\"/>", attr(&work));
    let _ = writeln!(x, "          <FRBRdate date=\"{day}\" name=\"version\"/>");
    for id in &entity_ids {
        let _ = writeln!(x, "          <FRBRauthor href=\"#{id}\"/>");
    }
    if entity_ids.is_empty() {
        x.push_str("          <FRBRauthor href=\"#accord\"/>\n");
    }
    x.push_str("          <FRBRcountry value=\"un\"/>\n");
    let _ = writeln!(
        x,
        "          <FRBRnumber value=\"{}\"/>",
        attr(&one_line(&s.draft_id))
    );
    let _ = writeln!(
        x,
        "          <FRBRname value=\"{}\"/>",
        attr(&one_line(&s.title))
    );
    x.push_str("        </FRBRWork>\n");
    x.push_str("        <FRBRExpression>\n");
    let _ = writeln!(
        x,
        "          <FRBRthis value=\"{}/!main\"/>",
        attr(&expression)
    );
    let _ = writeln!(x, "          <FRBRuri value=\"{}\"/>", attr(&expression));
    let _ = writeln!(
        x,
        "          <FRBRdate date=\"{}\" name=\"version\"/>",
        iso(s.at)
    );
    x.push_str("          <FRBRauthor href=\"#accord\"/>\n");
    let _ = writeln!(
        x,
        "          <FRBRversionNumber value=\"{}\"/>",
        attr(&one_line(&s.version_label))
    );
    x.push_str("          <FRBRlanguage language=\"eng\"/>\n");
    x.push_str("        </FRBRExpression>\n");
    x.push_str("        <FRBRManifestation>\n");
    let _ = writeln!(
        x,
        "          <FRBRthis value=\"{}/!main.xml\"/>",
        attr(&expression)
    );
    let _ = writeln!(
        x,
        "          <FRBRuri value=\"{}.akn\"/>",
        attr(&expression)
    );
    let _ = writeln!(
        x,
        "          <FRBRdate date=\"{}\" name=\"generation\"/>",
        iso(s.at)
    );
    x.push_str("          <FRBRauthor href=\"#accord\"/>\n");
    x.push_str("          <FRBRformat value=\"application/akn+xml\"/>\n");
    x.push_str("        </FRBRManifestation>\n");
    x.push_str("      </identification>\n");

    // Workflow: every recorded position, in time order (ties: element order,
    // then ledger order).
    let mut steps: Vec<(i64, usize, usize)> = Vec::new();
    for (ei, element) in s.elements.iter().enumerate() {
        for (pi, p) in element.positions.iter().enumerate() {
            steps.push((p.at, ei, pi));
        }
    }
    steps.sort();
    if !steps.is_empty() {
        x.push_str("      <workflow source=\"#accord\">\n");
        for (n, &(_, ei, pi)) in steps.iter().enumerate() {
            let p = &s.elements[ei].positions[pi];
            let mut refers = Vec::new();
            if p.by_silence {
                refers.push(format!("#{by_silence}"));
            }
            if !p.current {
                refers.push(format!("#{stale}"));
            }
            let refers = if refers.is_empty() {
                String::new()
            } else {
                format!(" refersTo=\"{}\"", refers.join(" "))
            };
            let _ = writeln!(
                x,
                "        <step eId=\"{}\" date=\"{}\" by=\"{}\" outcome=\"{}\" href=\"#{}\"{refers}/>",
                ids.take(&format!("step_{}", n + 1)),
                date(p.at),
                entity_ref(&p.entity),
                outcome_ref(&p.stance),
                element_ids[ei],
            );
        }
        x.push_str("      </workflow>\n");
    }

    x.push_str("      <references source=\"#accord\">\n");
    x.push_str(
        "        <TLCObject eId=\"accord\" href=\"/akn/ontology/objects/accord\" showAs=\"Accord\"/>\n",
    );
    for (&(code, name), id) in entities.iter().zip(&entity_ids) {
        let _ = writeln!(
            x,
            "        <TLCOrganization eId=\"{id}\" href=\"/akn/ontology/organizations/un/{}\" showAs=\"{}\" shortForm=\"{}\"/>",
            attr(&uri_part(code)),
            attr(&one_line(name)),
            attr(&one_line(code)),
        );
    }
    let concept = |x: &mut String, id: &str, dir: &str, name: &str, show: &str| {
        let _ = writeln!(
            x,
            "        <TLCConcept eId=\"{id}\" href=\"/akn/ontology/concepts/accord/{dir}{}\" showAs=\"{}\"/>",
            attr(&uri_part(name)),
            attr(&one_line(show)),
        );
    };
    for (stance, id, label) in &outcomes {
        concept(&mut x, id, "outcome/", stance, label);
    }
    concept(
        &mut x,
        &no_response,
        "outcome/",
        "no_response",
        "no response",
    );
    for (status, id, label) in &statuses {
        concept(&mut x, id, "status/", status, label);
    }
    concept(&mut x, &by_silence, "", "bySilence", "by silence");
    concept(
        &mut x,
        &stale,
        "",
        "stale",
        "stale (given on an earlier text)",
    );
    x.push_str("      </references>\n");
    x.push_str("    </meta>\n");

    // --- preface and preamble
    x.push_str("    <preface>\n");
    let _ = writeln!(
        x,
        "      <p class=\"title\"><docTitle>{}</docTitle></p>",
        text(&one_line(&s.title))
    );
    let _ = writeln!(
        x,
        "      <p class=\"version\">Version: <docStatus>{}</docStatus>, <docDate date=\"{}\">{}</docDate></p>",
        text(&one_line(&s.version_label)),
        iso(s.at),
        crate::date_time(s.at),
    );
    x.push_str("    </preface>\n");
    let preamble = paragraphs(&s.preamble);
    if !preamble.is_empty() {
        x.push_str("    <preamble>\n");
        for lines in &preamble {
            let _ = writeln!(x, "      <p>{}</p>", lines_xml(lines));
        }
        x.push_str("    </preamble>\n");
    }

    // --- mainBody
    x.push_str("    <mainBody>\n");
    if s.elements.is_empty() {
        x.push_str("      <p/>\n");
    }
    let mut marker = 0;
    for (ei, element) in s.elements.iter().enumerate() {
        let para_id = &element_ids[ei];
        let status_ref = statuses
            .iter()
            .find(|(st, _, _)| *st == element.status)
            .map(|(_, id, _)| format!(" refersTo=\"#{id}\""))
            .unwrap_or_default();
        let _ = writeln!(x, "      <paragraph eId=\"{para_id}\"{status_ref}>");
        let label = one_line(&element.label);
        if !label.is_empty() {
            let _ = writeln!(x, "        <num>{}</num>", text(&label));
        }
        let _ = writeln!(
            x,
            "        <content eId=\"{}\">",
            ids.take(&format!("{para_id}__content"))
        );

        let compiled = compile(element);
        let mut note_n = 0;
        let note_id = |ids: &mut Ids, note_n: &mut usize| {
            *note_n += 1;
            ids.take(&format!("{para_id}__authorialNote_{note_n}"))
        };

        // The text, each amendment marked inline followed by its note.
        let mut paras: Vec<String> = Vec::new();
        for lines in &compiled.paragraphs {
            let mut p = Vec::new();
            for line in lines {
                let mut l = String::new();
                for piece in line {
                    match piece {
                        Piece::Text(t) => l.push_str(&text(t)),
                        Piece::Change(a) => {
                            let refs = sponsor_refs(a, &entity_ref);
                            l.push_str(&change_xml(a, &refs));
                            marker += 1;
                            let id = note_id(&mut ids, &mut note_n);
                            l.push_str(&amendment_note(a, None, &id, marker, &refs, &entity_ref));
                        }
                    }
                }
                p.push(l);
            }
            paras.push(p.join("<br/>"));
        }

        // Notes at the end: each entity's current reservation or objection,
        // then the amendments not marked in the text.
        let mut notes = String::new();
        for &(code, name) in &entities {
            let Standing::Current(p) = crate::standing(element, code) else {
                continue;
            };
            if p.stance != "reservation" && p.stance != "object" {
                continue;
            }
            marker += 1;
            let org = entity_ref(code);
            let _ = write!(
                notes,
                "<authorialNote eId=\"{}\" marker=\"{marker}\" placement=\"bottom\" class=\"{}\" refersTo=\"{org} {}\">",
                note_id(&mut ids, &mut note_n),
                if p.stance == "object" {
                    "objection"
                } else {
                    "reservation"
                },
                outcome_ref(&p.stance),
            );
            let what = if p.stance == "object" {
                "Objection"
            } else {
                "Reservation"
            };
            let _ = write!(
                notes,
                "<p>{what} by <organization refersTo=\"{org}\">{}</organization> ({}), {}",
                text(&one_line(code)),
                text(&one_line(name)),
                date(p.at)
            );
            match p.note.as_deref().map(one_line).filter(|n| !n.is_empty()) {
                Some(note) => {
                    let _ = write!(notes, ": {}</p>", text(&note));
                }
                None => notes.push_str(".</p>"),
            }
            if let Some(wording) = p.wording.as_deref().map(one_line).filter(|w| !w.is_empty()) {
                let _ = write!(notes, "<p>Proposed wording: “{}”</p>", text(&wording));
            }
            notes.push_str("</authorialNote>");
        }
        for e in compiled.entries.iter().filter(|e| !e.inline) {
            let refs = sponsor_refs(e.amendment, &entity_ref);
            marker += 1;
            let id = note_id(&mut ids, &mut note_n);
            notes.push_str(&amendment_note(
                e.amendment,
                Some(e),
                &id,
                marker,
                &refs,
                &entity_ref,
            ));
        }

        if paras.is_empty() && !notes.is_empty() {
            paras.push(String::new());
        }
        let last = paras.len().saturating_sub(1);
        for (pi, body) in paras.iter().enumerate() {
            let tail = if pi == last { notes.as_str() } else { "" };
            let _ = writeln!(x, "          <p>{body}{tail}</p>");
        }
        x.push_str("        </content>\n");
        x.push_str("      </paragraph>\n");
    }
    x.push_str("    </mainBody>\n");
    x.push_str("  </statement>\n");
    x.push_str("</akomaNtoso>\n");
    x
}

/// The organisations sponsoring an amendment (the proposer when none), as
/// references.
fn sponsor_refs(a: &PendingAmendment, entity_ref: &impl Fn(&str) -> String) -> String {
    let mut refs: Vec<String> = Vec::new();
    for code in a
        .sponsors
        .iter()
        .chain(a.sponsors.is_empty().then_some(&a.entity))
    {
        let r = entity_ref(code);
        if !refs.contains(&r) {
            refs.push(r);
        }
    }
    refs.join(" ")
}

/// An amendment marked in the text: the passage in `<del>`, the replacement
/// in `<ins>`, both `class="amendment"` (and `conflict`), titled with its
/// number, referring to its sponsors.
fn change_xml(a: &PendingAmendment, refs: &str) -> String {
    let class = if a.conflict {
        "amendment conflict"
    } else {
        "amendment"
    };
    let n = number(a);
    let content = |s: &str| {
        change_lines(s)
            .iter()
            .map(|l| text(l))
            .collect::<Vec<_>>()
            .join("<br/>")
    };
    let mut out = String::new();
    if !a.original.is_empty() {
        let _ = write!(
            out,
            "<del class=\"{class}\" title=\"{n}\" refersTo=\"{refs}\">{}</del>",
            content(&a.original)
        );
    }
    if !a.text.is_empty() {
        let _ = write!(
            out,
            "<ins class=\"{class}\" title=\"{n}\" refersTo=\"{refs}\">{}</ins>",
            content(&a.text)
        );
    }
    out
}

/// An amendment's `authorialNote`: number, proposer, sponsors, what it
/// proposes, reason, conflict; for one not marked in the text (`entry`),
/// why.
fn amendment_note(
    a: &PendingAmendment,
    entry: Option<&Entry<'_>>,
    id: &str,
    marker: usize,
    refs: &str,
    entity_ref: &impl Fn(&str) -> String,
) -> String {
    let class = if a.conflict {
        "amendment conflict"
    } else {
        "amendment"
    };
    let (_, codes) = tag(a);
    let mut out = format!(
        "<authorialNote eId=\"{id}\" marker=\"{marker}\" placement=\"bottom\" class=\"{class}\" refersTo=\"{refs}\">\
         <p>Amendment {} by <organization refersTo=\"{}\">{}</organization>; sponsors: {}.",
        number(a),
        entity_ref(&a.entity),
        text(&one_line(&a.entity)),
        text(&codes.join(", ")),
    );
    let (verb, old, new) = proposal(a);
    let quote = |t: Option<String>| t.map(|t| format!("“{}”", text(&t)));
    match (quote(old), quote(new)) {
        (Some(old), Some(new)) => {
            let _ = write!(out, " {verb} {old} with {new}.");
        }
        (Some(old), None) => {
            let _ = write!(out, " {verb} {old}.");
        }
        (None, new) => {
            let _ = write!(out, " {verb} {}.", new.unwrap_or_default());
        }
    }
    let reason = one_line(&a.reason);
    if !reason.is_empty() {
        let _ = write!(out, " Reason: {}", text(&reason));
    }
    if a.conflict {
        out.push_str(" In conflict: its passage changed since it was proposed.");
    }
    if let Some(why) = entry.and_then(not_marked) {
        let _ = write!(out, " {}", text(&why));
    }
    out.push_str("</p></authorialNote>");
    out
}

/// The eIds taken so far; every eId in a document is unique.
#[derive(Default)]
struct Ids(BTreeSet<String>);

impl Ids {
    /// `base` if free, else `base-2`, `base-3`…
    fn take(&mut self, base: &str) -> String {
        let mut id = base.to_owned();
        let mut n = 1;
        while self.0.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        self.0.insert(id.clone());
        id
    }
}

/// A piece of an eId: letters, digits, `-`, `_` and `.` kept (ASCII only),
/// anything else as `_`; never empty.
fn id_part(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() { "_".to_owned() } else { out }
}

/// The number in a label, for an eId: "(a)" → "a", "1." → "1", "(a)(ii)" →
/// "a_ii"; lowercase ASCII letters and digits, runs joined with `_`.
fn num_part(label: &str) -> String {
    label
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|run| !run.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}

/// One segment of a URI path: unreserved characters kept, every other byte
/// (`/` included) percent-encoded.
fn uri_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.is_empty() { "_".to_owned() } else { out }
}

/// Lines of one paragraph, joined with `<br/>`.
fn lines_xml(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| text(l))
        .collect::<Vec<_>>()
        .join("<br/>")
}

/// Escapes character data; characters XML 1.0 does not allow become U+FFFD.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(xml_char(c)),
        }
    }
    out
}

/// Escapes an attribute value (double-quoted); whitespace characters as
/// references, so that attribute normalisation keeps them.
pub(crate) fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(xml_char(c)),
        }
    }
    out
}

fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(
            text("<a href=\"x\">&amp;</a>]]>"),
            "&lt;a href=\"x\"&gt;&amp;amp;&lt;/a&gt;]]&gt;"
        );
        assert_eq!(
            attr("\"x\" & 'y' <z>\n"),
            "&quot;x&quot; &amp; &apos;y&apos; &lt;z&gt;&#10;"
        );
        assert_eq!(text("a\u{1}b\u{FFFF}"), "a\u{FFFD}b\u{FFFD}");
    }

    #[test]
    fn eids_are_valid_and_unique() {
        assert_eq!(num_part("(a)"), "a");
        assert_eq!(num_part("(a)(ii)"), "a_ii");
        assert_eq!(num_part("12."), "12");
        assert_eq!(num_part("—"), "");
        assert_eq!(id_part("UN-Women"), "UN-Women");
        assert_eq!(id_part("a b/c\"d"), "a_b_c_d");
        let mut ids = Ids::default();
        assert_eq!(ids.take("para_a"), "para_a");
        assert_eq!(ids.take("para_a"), "para_a-2");
        assert_eq!(ids.take("para_a"), "para_a-3");
    }

    #[test]
    fn uri_parts_are_percent_encoded() {
        assert_eq!(uri_part("UN-Women"), "UN-Women");
        assert_eq!(uri_part("a b\"<é/x"), "a%20b%22%3C%C3%A9%2Fx");
    }
}
