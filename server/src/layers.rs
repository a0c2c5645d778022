//! The server's layout kept true: which modules may know HTTP (axum), that
//! the folders import one way (no cycles), and which may import which. Read from the sources, so a new import against
//! the rules fails here with the file and the line.

use std::collections::{BTreeMap, BTreeSet};
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

/// Only the HTTP layer and the websocket endpoint know axum.
const KNOWS_AXUM: &[&str] = &["http/", "sync/ws.rs", "layers.rs"];

/// Status codes belong to the HTTP layer, the websocket endpoint and the
/// error type that carries one; domain code never inspects them.
const KNOWS_STATUS: &[&str] = &["http/", "sync/ws.rs", "error.rs", "layers.rs"];

#[test]
fn only_the_http_layer_knows_http() {
    let sources = sources();
    assert!(sources.len() > 30, "found {} files", sources.len());
    let mut found: Vec<String> = sources
        .iter()
        .filter(|s| !in_any(&s.path, KNOWS_AXUM))
        .flat_map(|s| offending(s, &["axum"]))
        .collect();
    found.extend(
        sources
            .iter()
            .filter(|s| !in_any(&s.path, KNOWS_STATUS))
            .flat_map(|s| offending(s, &["StatusCode"])),
    );
    assert!(
        found.is_empty(),
        "HTTP outside the HTTP layer:\n{}",
        found.join("\n")
    );
}

/// The folder or file below `src/` a source belongs to (`consensus` for
/// `consensus/facts.rs`, `clock` for `clock.rs`).
fn unit(path: &str) -> &str {
    let first = path.split('/').next().unwrap_or(path);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// Which units each unit names (`crate::unit`), outside comments. The crate
/// root (`lib.rs`: the shared state and the wiring) and this test stand
/// outside the graph.
fn imports(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources {
        let from = unit(&source.path);
        if matches!(from, "lib" | "main" | "layers") {
            continue;
        }
        let entry = graph.entry(from.to_owned()).or_default();
        for line in source.text.lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name != from && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                    entry.insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the units along it, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn folders_import_one_way() {
    let graph = imports(&sources());
    assert!(graph.contains_key("http") && graph.contains_key("documents"));
    if let Some(found) = cycle(&graph) {
        panic!(
            "an import cycle between server folders: {}",
            found.join(" → ")
        );
    }
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
                "crate::amendments",
                "crate::auth",
                "crate::consensus",
                "crate::documents",
                "crate::drafts",
                "crate::history",
                "crate::sync",
            ],
            "the clock stands below everything but the error type",
        ),
        (
            &["documents/"],
            &[
                "crate::amendments",
                "crate::auth",
                "crate::cli",
                "crate::consensus",
                "crate::drafts",
                "crate::export",
                "crate::history",
                "crate::sync",
            ],
            "documents know nothing of drafts, consensus, amendments, history or connections' endpoints",
        ),
        (
            &["cli/"],
            &["crate::http", "crate::sync"],
            "the CLI never goes through the HTTP layer or the websocket",
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
    // Only the crate root wires the HTTP layer in.
    for source in sources
        .iter()
        .filter(|s| !in_any(&s.path, &["http/", "lib.rs", "layers.rs"]))
    {
        for line in offending(source, &["crate::http"]) {
            found.push(format!("{line}  (nothing below the HTTP layer uses it)"));
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
    assert!(!in_any("sync/ws.rs", &["sync/presence.rs"]));
    let sources = [
        Source {
            path: "a.rs".into(),
            text: "use crate::b::X;\n".into(),
        },
        Source {
            path: "b/mod.rs".into(),
            text: "// crate::a in a comment\nuse crate::c::Y;\n".into(),
        },
        Source {
            path: "c.rs".into(),
            text: "fn f() { crate::a::g(); crate::AppState::h(); }\n".into(),
        },
    ];
    let graph = imports(&sources);
    assert_eq!(graph["c"], BTreeSet::from(["a".to_owned()]));
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let acyclic = imports(&sources[..2]);
    assert_eq!(cycle(&acyclic), None);
}
