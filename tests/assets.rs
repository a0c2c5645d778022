//! The web app's files as browsers get them: each large file of the bundle
//! in the encoding the request accepts (brotli, then gzip, else as built),
//! decoding to the very bytes the build wrote; `Vary: Accept-Encoding` on
//! every answer that depends on it; hashed assets cached for good; and an
//! icon at `/favicon.ico` for pages that name none (the HTML export).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY,
};

use crate::harness::{Db, TestServer, within};

/// What Chromium sends.
const BROWSER: &str = "gzip, deflate, br, zstd";

/// The built files of `web/dist/assets` (not their compressed variants).
fn assets() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist/assets");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| !p.extension().is_some_and(|e| e == "br" || e == "gz"))
        .collect();
    files.sort();
    files
}

struct Got {
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `method path` with `Accept-Encoding: accept` (none when empty); the body
/// as sent (the client decodes nothing).
async fn fetch(server: &TestServer, method: &str, path: &str, accept: &str) -> Got {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = client.request(method, format!("{}{path}", server.http_url()));
    if !accept.is_empty() {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    let response = request.send().await.expect("the request");
    assert_eq!(response.status(), 200, "{path} ({accept:?})");
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("the body").to_vec();
    Got { headers, body }
}

fn decode(coding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(body),
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    out
}

#[tokio::test]
async fn assets_are_served_precompressed_by_accept_encoding() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let files = assets();
        assert!(
            files
                .iter()
                .any(|f| f.extension().is_some_and(|e| e == "wasm")),
            "the bundle has Automerge's WebAssembly: {files:?}"
        );
        let mut sent = [0usize; 2];
        for file in &files {
            let built = std::fs::read(file).expect("reading a built file");
            let name = file.file_name().unwrap().to_string_lossy();
            let path = format!("/assets/{name}");
            let mime = mime_guess::from_path(file).first_or_octet_stream();
            for (accept, expected) in [
                (BROWSER, Some("br")),
                ("br", Some("br")),
                ("*", Some("br")),
                ("gzip", Some("gzip")),
                ("br;q=0, gzip;q=0.5", Some("gzip")),
                ("GZip ; q=1", Some("gzip")),
                ("*;q=0, gzip", Some("gzip")),
                ("", None),
                ("identity", None),
                ("deflate, zstd", None),
                ("br;q=0, gzip;q=0", None),
                ("*;q=0", None),
            ] {
                let got = fetch(&server, "GET", &path, accept).await;
                let what = format!("{path} with Accept-Encoding {accept:?}");
                assert_eq!(got.header(CONTENT_ENCODING), expected, "{what}");
                assert_eq!(
                    decode(expected, &got.body),
                    built,
                    "{what}: decodes to the built file"
                );
                assert!(
                    got.header(CONTENT_TYPE)
                        .is_some_and(|t| t.starts_with(mime.essence_str())),
                    "{what}: Content-Type {:?}, the file's own",
                    got.header(CONTENT_TYPE)
                );
                assert_eq!(
                    got.header(VARY),
                    Some("accept-encoding"),
                    "{what}: caches must keep the variants apart"
                );
                assert_eq!(
                    got.header(CACHE_CONTROL),
                    Some("public, max-age=31536000, immutable"),
                    "{what}"
                );
                if accept == BROWSER {
                    sent[0] += got.body.len();
                    sent[1] += built.len();
                    assert!(
                        got.body.len() * 2 < built.len(),
                        "{what}: {} bytes sent for {} built",
                        got.body.len(),
                        built.len()
                    );
                }
            }
            let head = fetch(&server, "HEAD", &path, BROWSER).await;
            assert_eq!(head.header(CONTENT_ENCODING), Some("br"), "HEAD {path}");
            assert!(head.body.is_empty(), "HEAD {path} has no body");
        }
        eprintln!(
            "a browser is sent {} bytes of assets for {} built ({:.1}%)",
            sent[0],
            sent[1],
            100.0 * sent[0] as f64 / sent[1] as f64
        );
    })
    .await;
}

#[tokio::test]
async fn the_page_is_never_cached_and_pages_without_an_icon_get_one() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        for path in ["/", "/drafts/x/board"] {
            let page = fetch(&server, "GET", path, BROWSER).await;
            assert_eq!(page.header(CACHE_CONTROL), Some("no-cache"), "{path}");
            let body = decode(page.header(CONTENT_ENCODING), &page.body);
            assert!(
                String::from_utf8_lossy(&body).contains("<div id=\"app\">"),
                "{path} is the app's page"
            );
        }
        let icon = fetch(&server, "GET", "/favicon.ico", "").await;
        assert_eq!(icon.header(CONTENT_TYPE), Some("image/svg+xml"));
        let svg =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist/favicon.svg"))
                .expect("the app's icon");
        assert_eq!(icon.body, svg, "/favicon.ico is the app's icon");
        assert!(icon.header(CONTENT_LENGTH).is_some());
    })
    .await;
}
