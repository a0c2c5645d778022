//! Security headers of every response. The web app's files carry the page's
//! policy (`web.rs`, from [`page_policy`]) and the HTML export its own
//! ([`html_export_policy`]); every other response (JSON, errors, the other
//! exports, metrics) gets [`STRICT_POLICY`]. All get `nosniff`.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Nothing may be loaded, run or framed: for responses that are data.
pub const STRICT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// The layer (`axum::middleware::map_response`): `nosniff` on every
/// response, and the strict policy on those that did not set their own.
pub async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STRICT_POLICY),
        );
    }
    response
}

/// The web app's policy: its own origin for everything, and for its
/// websocket the public URL's origin as `ws:`/`wss:` (older browsers do not
/// count a websocket to the page's own host as `'self'`); its own scripts and
/// WebAssembly; never framed.
pub fn page_policy(public_url: &str) -> String {
    let websocket = websocket_origin(public_url)
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'{websocket}; frame-ancestors 'none'; \
         base-uri 'self'; form-action 'self'"
    )
}

/// `ws://host[:port]` or `wss://host[:port]` of an http(s) public URL; none
/// for anything else (or a host that could not stand in a policy).
fn websocket_origin(public_url: &str) -> Option<String> {
    let (scheme, rest) = public_url.trim().split_once("://")?;
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => "ws",
        "https" => "wss",
        _ => return None,
    };
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    plain.then(|| format!("{scheme}://{host}"))
}

/// The HTML export's policy: its one `<style>` element (by hash), nothing
/// else; sandboxed (an opaque origin), never framed.
pub fn html_export_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        let digest = Sha256::digest(accord_export::html_style().as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'none'; sandbox"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_connects_to_its_own_origin_only() {
        for (url, ws) in [
            ("http://127.0.0.1:8080", "ws://127.0.0.1:8080"),
            ("https://Accord.Example.org/", "wss://accord.example.org"),
            (
                "https://accord.example.org:8443/app",
                "wss://accord.example.org:8443",
            ),
            ("http://[::1]:9000", "ws://[::1]:9000"),
        ] {
            let policy = page_policy(url);
            assert!(
                policy.contains(&format!("connect-src 'self' {ws};")),
                "{url}: {policy}"
            );
            assert!(
                !policy.contains("ws: ") && !policy.contains("wss: "),
                "{policy}"
            );
        }
        for url in ["ftp://x", "http://a b;script-src *", "http://"] {
            let policy = page_policy(url);
            assert!(policy.contains("connect-src 'self';"), "{url}: {policy}");
        }
    }

    #[test]
    fn the_export_policy_allows_its_style_by_hash() {
        let policy = html_export_policy();
        assert!(policy.contains("style-src 'sha256-"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(HeaderValue::from_str(policy).is_ok());
    }
}
