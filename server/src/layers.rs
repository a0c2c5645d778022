//! The server's layout kept true: which modules may know HTTP (axum), and
//! which may import which. Read from the sources, so a new import against
//! the rules fails here with the file and the line.

use std::path::{Path, PathBuf};

/// A source file of the server: its path below `src/` and its text.
struct Source {
    path: String,
    text: String,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<Source>) {
        for entry in std::fs::read_dir(dir).expect("reading server/src") {
            let path: PathBuf = entry.expect("a folder entry").path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("reading a source file");
                let path = path
                    .strip_prefix(base)
                    .expect("below src/")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push(Source { path, text });
            }
        }
    }
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The lines of `source` (outside comments) that name any of `needles`.
fn offending(source: &Source, needles: &[&str]) -> Vec<String> {
    source
        .text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| needles.iter().any(|n| line.contains(n)))
        .map(|(i, line)| format!("{}:{}: {}", source.path, i + 1, line.trim()))
        .collect()
}

fn in_any(path: &str, places: &[&str]) -> bool {
    places
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
}

/// The modules that serve no request: documents in memory and their
/// commits, the clock, configuration, metrics, the first start, the CLI,
/// connections and presence, the consensus's facts, projection and
/// background tasks. None of them knows HTTP.
const NO_HTTP: &[&str] = &[
    "documents/",
    "cli/",
    "clock.rs",
    "config.rs",
    "metrics.rs",
    "bootstrap.rs",
    "sync/conn.rs",
    "sync/presence.rs",
    "consensus/mod.rs",
    "consensus/facts.rs",
    "consensus/projection.rs",
    "consensus/tasks.rs",
];

#[test]
fn modules_that_serve_no_request_do_not_know_http() {
    let sources = sources();
    assert!(sources.len() > 20, "found {} files", sources.len());
    for place in NO_HTTP {
        assert!(
            sources.iter().any(|s| in_any(&s.path, &[place])),
            "{place} is not in server/src: update NO_HTTP"
        );
    }
    let found: Vec<String> = sources
        .iter()
        .filter(|s| in_any(&s.path, NO_HTTP))
        .flat_map(|s| offending(s, &["axum", "StatusCode"]))
        .collect();
    assert!(
        found.is_empty(),
        "HTTP outside the HTTP layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn imports_point_one_way() {
    let rules: &[(&[&str], &[&str], &str)] = &[
        (
            &["error.rs"],
            &["crate::"],
            "the error type imports nothing of the server",
        ),
        (
            &["clock.rs"],
            &[
                "crate::api",
                "crate::auth",
                "crate::consensus",
                "crate::documents",
                "crate::history",
                "crate::sync",
            ],
            "the clock stands below everything but the error type",
        ),
        (
            &["documents/"],
            &[
                "crate::api",
                "crate::auth",
                "crate::cli",
                "crate::consensus",
                "crate::export",
                "crate::history",
                "crate::structure",
                "crate::web",
            ],
            "documents know nothing of drafts, consensus, history or HTTP",
        ),
        (
            &["cli/"],
            &[
                "crate::api",
                "crate::web",
                "crate::headers",
                "crate::scrape",
                "crate::openapi",
                "crate::sync",
            ],
            "the CLI never goes through the HTTP layer or the websocket",
        ),
        (
            &["consensus/facts.rs", "consensus/projection.rs"],
            &["crate::api", "crate::sync"],
            "the consensus's facts and projection serve no request",
        ),
    ];
    let sources = sources();
    let mut found = Vec::new();
    for (places, forbidden, why) in rules {
        for source in sources.iter().filter(|s| in_any(&s.path, places)) {
            for line in offending(source, forbidden) {
                found.push(format!("{line}  ({why})"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "imports against the layout:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_rules_catch_what_they_forbid() {
    let source = Source {
        path: "documents/mod.rs".into(),
        text: "// crate::api in a comment is fine\nuse crate::api::Body;\n".into(),
    };
    assert_eq!(
        offending(&source, &["crate::api"]),
        vec!["documents/mod.rs:2: use crate::api::Body;"]
    );
    assert!(in_any("documents/actor.rs", &["documents/"]));
    assert!(!in_any("sync/ws.rs", &["sync/conn.rs"]));
}
