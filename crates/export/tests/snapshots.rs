//! Snapshot tests: each export of `common::sample()` against a file under
//! `tests/expected/`. After a deliberate change, check the new output by eye
//! and rewrite the files with `ACCORD_UPDATE_EXPECTED=1 cargo test -p
//! accord-export --test snapshots`.

mod common;

use std::path::PathBuf;

fn expected_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expected")
}

/// Compares `actual` with the expected file; on a difference, writes the
/// actual output next to the build's temporary files and fails with the first
/// differing line and a `diff -u` command line.
fn check(name: &str, actual: &str) {
    let path = expected_dir().join(name);
    if std::env::var_os("ACCORD_UPDATE_EXPECTED").is_some() {
        std::fs::write(&path, actual).expect("write the expected file");
        eprintln!("updated {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\n(create it with ACCORD_UPDATE_EXPECTED=1 cargo test -p accord-export --test snapshots, then check it by eye)",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let actual_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&actual_path, actual).expect("write the actual output");
    let exp: Vec<&str> = expected.split('\n').collect();
    let act: Vec<&str> = actual.split('\n').collect();
    let line = exp
        .iter()
        .zip(&act)
        .position(|(e, a)| e != a)
        .unwrap_or(exp.len().min(act.len()));
    panic!(
        "{name}: the output differs from the expected file, first at line {}:\n\
         expected: {:?}\n\
         actual:   {:?}\n\
         ({} expected lines, {} actual lines)\n\
         see: diff -u {} {}\n\
         if the change is intended: ACCORD_UPDATE_EXPECTED=1 cargo test -p accord-export --test snapshots",
        line + 1,
        exp.get(line).copied().unwrap_or("<end of file>"),
        act.get(line).copied().unwrap_or("<end of file>"),
        exp.len(),
        act.len(),
        path.display(),
        actual_path.display(),
    );
}

#[test]
fn markdown_matches_expected() {
    check("sample.md", &accord_export::markdown(&common::sample()));
}

#[test]
fn html_matches_expected() {
    check("sample.html", &accord_export::html(&common::sample()));
}

#[test]
fn akoma_ntoso_matches_expected() {
    check("sample.xml", &accord_export::akoma_ntoso(&common::sample()));
}

#[test]
fn compilation_markdown_matches_expected() {
    check(
        "compilation.md",
        &accord_export::compilation_markdown(&common::amended()),
    );
}

#[test]
fn compilation_html_matches_expected() {
    check(
        "compilation.html",
        &accord_export::compilation_html(&common::amended()),
    );
}

#[test]
fn akoma_ntoso_with_amendments_matches_expected() {
    check(
        "amended.xml",
        &accord_export::akoma_ntoso(&common::amended()),
    );
}

#[test]
fn output_is_deterministic() {
    let (a, b) = (common::full(), common::full());
    assert_eq!(accord_export::markdown(&a), accord_export::markdown(&b));
    assert_eq!(accord_export::html(&a), accord_export::html(&b));
    assert_eq!(
        accord_export::akoma_ntoso(&a),
        accord_export::akoma_ntoso(&b)
    );
    let (a, b) = (common::amended(), common::amended());
    assert_eq!(
        accord_export::compilation_markdown(&a),
        accord_export::compilation_markdown(&b)
    );
    assert_eq!(
        accord_export::compilation_html(&a),
        accord_export::compilation_html(&b)
    );
}
