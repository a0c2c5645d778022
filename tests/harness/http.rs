//! HTTP requests to the server (through `reqwest`) and their answers as
//! [`HttpResponse`]s: status, every header as sent, and the body as text.

use std::time::Duration;

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A GET to 127.0.0.1:`port` with `Connection: close`.
pub async fn http_get(port: u16, path: &str) -> std::io::Result<HttpResponse> {
    http_request(port, "GET", path, &[], None).await
}

/// Any request to 127.0.0.1:`port` with `Connection: close`: `headers` as
/// given (a body's `Content-Type` only if they name one), `Content-Length`
/// for a body. The client follows no redirect, uses no proxy, decodes no
/// content encoding and gives up after 10 s.
pub async fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<HttpResponse> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(std::io::Error::other)?;
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut request = client
        .request(method, format!("http://127.0.0.1:{port}{path}"))
        .header(reqwest::header::CONNECTION, "close");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_vec());
    }
    let response = request.send().await.map_err(io_error)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response.bytes().await.map_err(io_error)?;
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn io_error(e: reqwest::Error) -> std::io::Error {
    if e.is_timeout() {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    } else {
        std::io::Error::other(e)
    }
}
