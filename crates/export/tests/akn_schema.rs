//! The Akoma Ntoso export validates against the OASIS schema (with xmllint).
//!
//! The schema is the repository's copy, `tests/data/akn/akomantoso30.xsd`
//! in this crate (see its README), or `ACCORD_AKN_XSD`. These tests FAIL
//! (never skip) when xmllint (Debian package `libxml2-utils`) or the schema
//! is missing.

mod common;

use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::Command;

use accord_consensus::{Stance, Status};
use accord_export::{Snapshot, akoma_ntoso};

fn schema() -> PathBuf {
    let path = match std::env::var_os("ACCORD_AKN_XSD") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/akn/akomantoso30.xsd"),
    };
    assert!(
        path.is_file(),
        "the Akoma Ntoso schema is missing: {} (the repository's copy is \
         crates/export/tests/data/akn/akomantoso30.xsd; ACCORD_AKN_XSD overrides it; \
         validating also needs xmllint, from the Debian package libxml2-utils)",
        path.display()
    );
    path
}

/// Validates `xml` with xmllint; panics with xmllint's messages on failure.
fn validate(what: &str, xml: &str) {
    let schema = schema();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(format!("{what}.xml"));
    std::fs::write(&file, xml).expect("write the export");
    let output = match Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "xmllint not found: install the Debian package libxml2-utils \
             (apt-get install -y libxml2-utils)"
        ),
        Err(e) => panic!("cannot run xmllint: {e}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("validates"),
        "{what}: the Akoma Ntoso export does not validate against {}:\n{stderr}\n--- document ---\n{xml}",
        schema.display()
    );
}

#[test]
fn the_full_reference_scenario_validates() {
    let s = common::full();
    assert_eq!(s.entities.len(), 28);
    assert_eq!(s.elements.len(), 8);
    let xml = akoma_ntoso(&s);
    validate("full", &xml);

    // One TLCOrganization per entity, one step per recorded position,
    // reservations as authorial notes.
    assert_eq!(xml.matches("<TLCOrganization ").count(), 28);
    let recorded: usize = s.elements.iter().map(|e| e.positions.len()).sum();
    assert_eq!(xml.matches("<step ").count(), recorded);
    assert!(xml.contains("<statement name=\"statement\">"));
    assert!(xml.contains("by=\"#org_UNHCR\" outcome=\"#outcome_reservation\" href=\"#para_a\""));
    assert!(xml.contains("class=\"reservation\" refersTo=\"#org_UNHCR #outcome_reservation\">"));
    assert!(xml.contains("class=\"objection\" refersTo=\"#org_WB #outcome_object\">"));
    // 2 in (a), 1 in (c), 1 in (f): reservations; 1 objection in (d).
    assert_eq!(xml.matches("<authorialNote ").count(), 5);
    for concept in [
        "support",
        "support ad referendum",
        "reservation",
        "abstention",
        "objection",
        "no response",
    ] {
        assert!(
            xml.contains(&format!("showAs=\"{concept}\"")),
            "no TLCConcept for {concept}"
        );
    }
}

#[test]
fn the_sample_validates() {
    validate("sample", &akoma_ntoso(&common::sample()));
}

/// Pending amendments: `del`/`ins` in the text referring to the sponsors'
/// organisations, an authorial note per amendment.
#[test]
fn the_amendments_validate() {
    let xml = akoma_ntoso(&common::amended());
    validate("amended", &xml);
    // Inline: A3 (replacement), A4 (insertion at the start), A5 (at the
    // end), A7 (in conflict), A8 (deletion); A6 overlaps A3, A9 is not
    // located: notes only.
    assert!(xml.contains(
        "<del class=\"amendment\" title=\"A3\" refersTo=\"#org_IOM #org_UNDP\">safe</del>\
         <ins class=\"amendment\" title=\"A3\" refersTo=\"#org_IOM #org_UNDP\">safe, regular</ins>\
         <authorialNote "
    ));
    assert!(xml.contains(
        "<p><ins class=\"amendment\" title=\"A4\" refersTo=\"#org_ILO #org_DESA\">Firmly </ins>"
    ));
    assert!(xml.contains("<ins class=\"amendment\" title=\"A5\" refersTo=\"#org_UNDP\"> (see *annex* {&gt;&gt;x&lt;&lt;} ~&gt; [1])</ins>"));
    assert!(xml.contains("<del class=\"amendment conflict\" title=\"A7\""));
    assert!(xml.contains(
        "<del class=\"amendment\" title=\"A8\" refersTo=\"#org_UNCTAD #org_DESA #org_ILO\">*desperate* </del><authorialNote"
    ));
    assert!(!xml.contains("title=\"A6\"") && !xml.contains("title=\"A9\""));
    assert_eq!(xml.matches("<del ").count(), 3);
    assert_eq!(xml.matches("<ins ").count(), 4);
    assert_eq!(xml.matches("class=\"amendment").count(), 7 + 7);
    assert!(xml.contains("Not marked in the text: it overlaps A3."));
    assert!(xml.contains("Not marked in the text: its passage is not located in it."));
}

#[test]
fn a_hostile_snapshot_still_validates() {
    validate("hostile", &akoma_ntoso(&common::hostile()));
}

#[test]
fn an_empty_snapshot_validates() {
    validate("empty", &akoma_ntoso(&Snapshot::default()));
}

#[test]
fn every_stance_and_status_has_a_concept() {
    let mut s = common::sample();
    let statuses = [
        Status::Adopted,
        Status::UnderSilence { deadline: 0 },
        Status::Objected,
        Status::Bracketed,
        Status::Agreed,
        Status::AgreedAdRef,
        Status::Open,
    ];
    s.elements = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| {
            let mut e = s.elements[0].clone();
            e.label = format!("({})", i + 1);
            e.status = status.as_str().into();
            e.positions = Stance::ALL
                .iter()
                .enumerate()
                .map(|(j, st)| common::pos(&s.entities[j].0, st.as_str(), common::MARCH_1))
                .collect();
            e
        })
        .collect();
    let xml = akoma_ntoso(&s);
    validate("every-stance", &xml);
    for stance in Stance::ALL {
        assert!(
            xml.contains(&format!(
                "/akn/ontology/concepts/accord/outcome/{}\"",
                stance.as_str()
            )),
            "no TLCConcept for stance {}",
            stance.as_str()
        );
        // A known stance gets its own concept, never a fallback one.
        assert!(xml.contains(&format!("outcome=\"#outcome_{}\"", stance.as_str())));
    }
    for status in &statuses {
        assert!(
            xml.contains(&format!("refersTo=\"#status_{}\"", status.as_str())),
            "no status concept for {}",
            status.as_str()
        );
    }
    assert_eq!(xml.matches("<TLCConcept ").count(), 6 + 7 + 2);
}
