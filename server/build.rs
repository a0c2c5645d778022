//! Rebuilds the server when the web app's bundle changes, appears or goes:
//! `web/dist` is embedded at compile time (`src/web.rs`).

fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
    println!("cargo:rerun-if-changed=build.rs");
}
