//! A minimal HTTP/1.0 GET for the server's JSON API on 127.0.0.1 (no TLS).

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET {base}{path}` with a bearer token and parse the body as JSON.
/// `base` is `http://host:port`.
pub async fn get_json(base: &str, path: &str, token: &str) -> anyhow::Result<serde_json::Value> {
    let host = base
        .strip_prefix("http://")
        .context("--api must start with http://")?
        .trim_end_matches('/');
    let mut tcp = tokio::net::TcpStream::connect(host)
        .await
        .with_context(|| format!("connecting to {host}"))?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\
             Authorization: Bearer {token}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP header end")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        bail!("GET {path}: {status}");
    }
    Ok(serde_json::from_slice(&raw[split + 4..])?)
}

/// `POST {base}{path}` with a bearer token and a JSON body; the answer as JSON.
pub async fn post_json(
    base: &str,
    path: &str,
    token: &str,
    body: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let host = base
        .strip_prefix("http://")
        .context("--api must start with http://")?
        .trim_end_matches('/');
    let mut tcp = tokio::net::TcpStream::connect(host)
        .await
        .with_context(|| format!("connecting to {host}"))?;
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP header end")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.lines().next().unwrap_or_default();
    if !(status.contains(" 200 ") || status.contains(" 201 ")) {
        bail!(
            "POST {path}: {status}: {}",
            String::from_utf8_lossy(&raw[split + 4..])
        );
    }
    Ok(serde_json::from_slice(&raw[split + 4..])?)
}
