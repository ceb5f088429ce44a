//! Outgoing HTTP for plugins: a small blocking client over `wasi:http/outgoing-handler`.
//!
//! The host lets a plugin reach only the hosts its manifest lists under
//! `permissions.network` (`api.example.com`, `127.0.0.1:8080`, `*.example.com`); any other
//! request fails with a `denied` [`PluginError`] before a connection is made.
//!
//! ```no_run
//! use sanctuary_plugin_api::http::{self, Request};
//!
//! let response = Request::post("https://api.example.com/v1/echo")
//!     .header("authorization", "Bearer sk-...")
//!     .json(&serde_json::json!({ "say": "hello" }))
//!     .send()?;
//! if !response.is_success() {
//!     return Err(http::status_error(response.status, response.text()));
//! }
//! let answer: serde_json::Value = response.json()?;
//! # Ok::<(), sanctuary_plugin_api::PluginError>(())
//! ```
//!
//! Streamed answers (server-sent events, NDJSON) are read line by line as they arrive:
//!
//! ```no_run
//! use sanctuary_plugin_api::http::Request;
//!
//! let response = Request::get("https://api.example.com/v1/stream")
//!     .header("accept", "text/event-stream")
//!     .send_streaming()?;
//! for event in response.events() {
//!     let event = event?;
//!     sanctuary_plugin_api::provider::emit_chunk(&event.data);
//! }
//! # Ok::<(), sanctuary_plugin_api::PluginError>(())
//! ```
//!
//! Transport failures become typed errors: a host not granted by the manifest is
//! `denied`; DNS failures, refused connections and timeouts are `unavailable` (callers may
//! retry or fail over); anything else is `failed`. A response with an error status is
//! still a [`Response`]: read the vendor's error body, then pick the error case with
//! [`status_error`].
//!
//! Only inside the host (a `wasm32` build) does [`Request::send`] reach the network; in
//! native builds, such as a plugin's unit tests, it returns a `failed` error. Everything
//! else here ([`join_url`], [`sse`], [`Lines::from_chunks`], [`Response::from_parts`]) is
//! pure and works anywhere.

pub mod sse;
mod transport;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PluginError;

/// The largest body [`Request::send`] buffers (8 MiB); a larger one is a `failed` error.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The longest line [`Lines`] accepts (1 MiB); a longer one is a `failed` error.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
}

impl Method {
    /// The method's name, e.g. `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
        }
    }
}

/// An outgoing request, built step by step and sent with [`Request::send`] or
/// [`Request::send_streaming`].
///
/// Its `Debug` output hides the values of credential headers (`authorization`,
/// `x-api-key`, ...), so a request may be logged without leaking a key.
#[derive(Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    /// A failure of a builder step (such as [`Request::json`]), reported by `send`.
    error: Option<PluginError>,
}

impl Request {
    /// A request with `method` to `url` (`http://` or `https://`), with no headers and an
    /// empty body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            error: None,
        }
    }

    /// A `GET` request to `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `POST` request to `url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// Adds header `name: value` (names are case-insensitive; a repeated name sends the
    /// header several times).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body to `bytes`.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = bytes.into();
        self
    }

    /// Sets the body to `value` as JSON and `content-type: application/json` (unless a
    /// content type was set already). A value that cannot be serialised makes `send`
    /// fail with `failed`.
    ///
    /// ```
    /// use sanctuary_plugin_api::http::Request;
    ///
    /// let request = Request::post("https://api.example.com/v1").json(&serde_json::json!({"a": 1}));
    /// assert_eq!(request.body_bytes(), br#"{"a":1}"#);
    /// assert_eq!(request.header_value("Content-Type"), Some("application/json"));
    /// ```
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.body = bytes,
            Err(err) => {
                self.error = Some(PluginError::failed(format!(
                    "could not serialise the request body: {err}"
                )));
            }
        }
        if self.header_value("content-type").is_none() {
            self.headers
                .push(("content-type".into(), "application/json".into()));
        }
        self
    }

    /// Gives up with an `unavailable` error when connecting, waiting for the response to
    /// start, or waiting between two pieces of its body takes longer than `timeout`.
    /// Without it the host's limits apply (and the plugin's own `timeout_ms` ends the call).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers, in the order they were added.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Sends the request and reads the whole response (at most [`MAX_BODY_BYTES`]).
    /// An error status is not an error here: check [`Response::status`].
    pub fn send(self) -> Result<Response, PluginError> {
        self.send_streaming()?.into_response()
    }

    /// Sends the request and returns as soon as the response's status and headers have
    /// arrived; read its body as it comes with [`StreamingResponse::lines`] or
    /// [`StreamingResponse::events`].
    pub fn send_streaming(self) -> Result<StreamingResponse, PluginError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let target = Target::parse(&self.url)?;
        let (head, reader) = transport::send(&self, &target)?;
        Ok(StreamingResponse {
            status: head.status,
            headers: head.headers,
            body: Body::Wire(reader),
        })
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if is_credential(name) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Whether header `name` carries a credential, whose value must not be shown.
fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["auth", "key", "token", "secret", "cookie"]
        .iter()
        .any(|part| name.contains(part))
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, e.g. `200`.
    pub status: u16,
    /// Headers as received (names in lowercase), values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// A response with these parts; for tests of code that reads responses.
    pub fn from_parts(
        status: u16,
        headers: Vec<(String, String)>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            status,
            headers,
            body: body.into(),
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced by `�`).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into `T`. A body that does not fit is a `failed` error:
    /// the server, not the caller, sent something unexpected.
    ///
    /// ```
    /// use sanctuary_plugin_api::http::Response;
    ///
    /// let response = Response::from_parts(200, Vec::new(), r#"{"n": 1}"#);
    /// let value: serde_json::Value = response.json()?;
    /// assert_eq!(value["n"], 1);
    /// assert_eq!(Response::from_parts(200, Vec::new(), "<html>").json::<serde_json::Value>()
    ///     .err().map(|e| e.kind()), Some("failed"));
    /// # Ok::<(), sanctuary_plugin_api::PluginError>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body).map_err(|err| {
            PluginError::failed(format!(
                "unexpected response body (HTTP {}): {err}",
                self.status
            ))
        })
    }
}

/// A response whose body is still arriving.
#[derive(Debug)]
pub struct StreamingResponse {
    /// Status code, e.g. `200`.
    pub status: u16,
    /// Headers as received (names in lowercase), values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    body: Body,
}

impl StreamingResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body's lines as they arrive (for NDJSON, or SSE through [`sse::events`]).
    pub fn lines(self) -> Lines {
        Lines::new(self.body)
    }

    /// The body's server-sent events as they arrive.
    pub fn events(self) -> sse::Events<Lines> {
        sse::events(self.lines())
    }

    /// Reads the rest of the body (at most [`MAX_BODY_BYTES`]), e.g. an error status's
    /// explanation.
    pub fn into_response(mut self) -> Result<Response, PluginError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.body.next_chunk() {
            body.extend_from_slice(&chunk?);
            if body.len() > MAX_BODY_BYTES {
                return Err(PluginError::failed(format!(
                    "the response body exceeds {MAX_BODY_BYTES} bytes"
                )));
            }
        }
        Ok(Response {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

/// Where a body's bytes come from.
#[derive(Debug)]
enum Body {
    /// The network.
    Wire(transport::BodyReader),
    /// Given pieces (tests).
    Chunks(std::vec::IntoIter<Vec<u8>>),
}

impl Body {
    /// The next piece of the body, `None` at its end.
    fn next_chunk(&mut self) -> Option<Result<Vec<u8>, PluginError>> {
        match self {
            Self::Wire(reader) => reader.next_chunk(),
            Self::Chunks(chunks) => chunks.next().map(Ok),
        }
    }
}

/// The lines of a body as they arrive, without their `\n` or `\r\n`; invalid UTF-8 is
/// replaced by `�`. A last line without a line break is yielded too. After an error the
/// iterator ends.
#[derive(Debug)]
pub struct Lines {
    body: Body,
    splitter: LineSplitter,
    done: bool,
}

impl Lines {
    fn new(body: Body) -> Self {
        Self {
            body,
            splitter: LineSplitter::default(),
            done: false,
        }
    }

    /// The lines of a body that arrives in `chunks`; for tests of code that reads a stream.
    ///
    /// ```
    /// use sanctuary_plugin_api::http::Lines;
    ///
    /// let lines: Vec<String> = Lines::from_chunks(["data: a\r\n", "\ndata: ", "b"])
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(lines, ["data: a", "", "data: b"]);
    /// # Ok::<(), sanctuary_plugin_api::PluginError>(())
    /// ```
    pub fn from_chunks<I, C>(chunks: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<Vec<u8>>,
    {
        let chunks: Vec<Vec<u8>> = chunks.into_iter().map(Into::into).collect();
        Self::new(Body::Chunks(chunks.into_iter()))
    }
}

impl Iterator for Lines {
    type Item = Result<String, PluginError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(line) = self.splitter.pop() {
                return Some(Ok(line));
            }
            if self.done {
                return None;
            }
            match self.body.next_chunk() {
                Some(Ok(chunk)) => {
                    if let Err(err) = self.splitter.push(&chunk) {
                        self.done = true;
                        return Some(Err(err));
                    }
                }
                Some(Err(err)) => {
                    self.done = true;
                    return Some(Err(err));
                }
                None => {
                    self.done = true;
                    return self.splitter.finish().map(Ok);
                }
            }
        }
    }
}

/// Cuts bytes arriving in arbitrary pieces into lines.
#[derive(Debug, Default)]
struct LineSplitter {
    /// Bytes of the line not yet complete.
    partial: Vec<u8>,
    /// Complete lines not yet taken.
    ready: VecDeque<String>,
}

impl LineSplitter {
    fn push(&mut self, mut chunk: &[u8]) -> Result<(), PluginError> {
        while let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&chunk[..end]);
            self.check_length()?;
            let line = std::mem::take(&mut self.partial);
            self.ready.push_back(decode_line(&line));
            chunk = &chunk[end + 1..];
        }
        self.partial.extend_from_slice(chunk);
        self.check_length()
    }

    fn check_length(&self) -> Result<(), PluginError> {
        if self.partial.len() > MAX_LINE_BYTES {
            return Err(PluginError::failed(format!(
                "a line of the response exceeds {MAX_LINE_BYTES} bytes"
            )));
        }
        Ok(())
    }

    fn pop(&mut self) -> Option<String> {
        self.ready.pop_front()
    }

    /// The last line, if the body did not end with a line break.
    fn finish(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let line = std::mem::take(&mut self.partial);
        Some(decode_line(&line))
    }
}

fn decode_line(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `base` and `path` joined by exactly one `/`.
///
/// ```
/// use sanctuary_plugin_api::http::join_url;
///
/// assert_eq!(join_url("https://api.openai.com/v1/", "/chat/completions"),
///            "https://api.openai.com/v1/chat/completions");
/// assert_eq!(join_url("http://localhost:11434", "v1/models"), "http://localhost:11434/v1/models");
/// ```
pub fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{path}")
    }
}

/// The error for an upstream's error status, carrying `message` (best: the vendor's own
/// explanation): 400, 404, 413 and 422 are `invalid-input` (the request was wrong);
/// 401 and 403 are `denied` (a missing or bad key); 408, 425, 429 and every 5xx (such
/// as 503, or 529 "overloaded") are `unavailable` (retry later or fail over); anything
/// else is `failed`.
///
/// ```
/// use sanctuary_plugin_api::http::status_error;
///
/// assert_eq!(status_error(404, "no such model").kind(), "invalid-input");
/// assert_eq!(status_error(401, "bad key").kind(), "denied");
/// assert_eq!(status_error(529, "overloaded").kind(), "unavailable");
/// ```
pub fn status_error(status: u16, message: impl Into<String>) -> PluginError {
    let message = message.into();
    match status {
        400 | 404 | 413 | 422 => PluginError::invalid_input(message),
        401 | 403 => PluginError::denied(message),
        408 | 425 | 429 | 500..=599 => PluginError::unavailable(message),
        _ => PluginError::failed(message),
    }
}

/// The parts of a URL that `wasi:http` wants separately.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    https: bool,
    /// `host[:port]`.
    authority: String,
    /// Starts with `/`; no fragment.
    path_and_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, PluginError> {
        let bad = |why: &str| PluginError::failed(format!("invalid URL `{url}`: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme (http:// or https://)"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("only http and https are supported")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad(
                "credentials in the URL are not supported; send them in a header",
            ));
        }
        if authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad("the host contains white space"));
        }
        let path_and_query = match path.chars().next() {
            None => "/".to_string(),
            Some('?') => format!("/{path}"),
            Some(_) => path.to_string(),
        };
        Ok(Self {
            https,
            authority: authority.to_string(),
            path_and_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&str]) -> Vec<String> {
        Lines::from_chunks(chunks.iter().map(|c| c.as_bytes().to_vec()))
            .collect::<Result<_, _>>()
            .expect("no error")
    }

    #[test]
    fn lines_are_cut_at_line_breaks_whatever_the_chunking() {
        let whole = "a\nbb\r\n\nccc\n";
        let expected = ["a", "bb", "", "ccc"];
        assert_eq!(lines(&[whole]), expected);
        let bytes: Vec<String> = whole.chars().map(String::from).collect();
        let bytes: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(lines(&bytes), expected);
        assert_eq!(lines(&["a\nb", "b\r", "\n\ncc", "c\n"]), expected);
    }

    #[test]
    fn a_last_line_without_a_line_break_is_kept() {
        assert_eq!(lines(&["x\ny"]), ["x", "y"]);
        assert!(lines(&[]).is_empty());
        assert!(lines(&["", ""]).is_empty());
    }

    #[test]
    fn a_character_split_across_chunks_is_decoded_whole() {
        let euro = "€".as_bytes();
        let chunks = vec![vec![b'a', euro[0]], vec![euro[1], euro[2], b'\n']];
        let got: Vec<String> = Lines::from_chunks(chunks)
            .collect::<Result<_, _>>()
            .expect("no error");
        assert_eq!(got, ["a€"]);
    }

    #[test]
    fn an_endless_line_is_refused() {
        let chunk = vec![b'x'; MAX_LINE_BYTES / 2 + 1];
        let mut it = Lines::from_chunks(vec![chunk.clone(), chunk.clone(), chunk]);
        let err = it.next().expect("an item").expect_err("too long");
        assert_eq!(err.kind(), "failed");
        assert!(it.next().is_none(), "iteration stops after an error");
    }

    #[test]
    fn join_url_puts_exactly_one_slash_between_the_parts() {
        assert_eq!(join_url("http://h/v1", "x"), "http://h/v1/x");
        assert_eq!(join_url("http://h/v1//", "//x"), "http://h/v1/x");
        assert_eq!(join_url("http://h", ""), "http://h");
    }

    #[test]
    fn parses_scheme_authority_and_path() {
        let t = Target::parse("https://api.openai.com/v1/chat?x=1#frag").expect("valid");
        assert_eq!(
            t,
            Target {
                https: true,
                authority: "api.openai.com".into(),
                path_and_query: "/v1/chat?x=1".into()
            }
        );
        let t = Target::parse("HTTP://127.0.0.1:8080").expect("valid");
        assert!(!t.https);
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path_and_query, "/");
        let t = Target::parse("http://[::1]:9?q").expect("valid");
        assert_eq!(
            (t.authority.as_str(), t.path_and_query.as_str()),
            ("[::1]:9", "/?q")
        );
    }

    #[test]
    fn refuses_urls_it_cannot_send() {
        for url in [
            "api.openai.com/v1",
            "ftp://example.com/",
            "https:///path",
            "https://user:pw@example.com/",
            "https://exa mple.com/",
        ] {
            let err = Target::parse(url).expect_err(url);
            assert_eq!(err.kind(), "failed", "{url}");
            assert!(err.message().contains(url), "{err:?}");
        }
    }

    #[test]
    fn status_errors_pick_the_case_a_caller_can_act_on() {
        let kind = |s| status_error(s, "m").kind();
        assert_eq!(kind(400), "invalid-input");
        assert_eq!(kind(422), "invalid-input");
        assert_eq!(kind(403), "denied");
        assert_eq!(kind(429), "unavailable");
        assert_eq!(kind(500), "unavailable");
        assert_eq!(kind(503), "unavailable");
        assert_eq!(kind(418), "failed");
        assert_eq!(status_error(404, "no model").message(), "no model");
    }

    #[test]
    fn debug_output_hides_credentials() {
        let request = Request::post("https://api.example.com/")
            .header("Authorization", "Bearer sk-secret")
            .header("x-api-key", "sk-ant-secret")
            .header("x-goog-api-key", "AIza-secret")
            .header("accept", "text/event-stream");
        let shown = format!("{request:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("text/event-stream"), "{shown}");
    }

    #[test]
    fn json_sets_the_body_and_content_type_once() {
        let request = Request::post("http://h/")
            .header("Content-Type", "application/vnd.custom+json")
            .json(&[1, 2]);
        assert_eq!(request.body_bytes(), b"[1,2]");
        let types: Vec<_> = request
            .headers()
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .collect();
        assert_eq!(types.len(), 1);
    }

    #[test]
    fn a_body_that_cannot_be_serialised_fails_the_send() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), "pair keys are not strings");
        let err = Request::post("http://h/")
            .json(&map)
            .send()
            .expect_err("unserialisable");
        assert_eq!(err.kind(), "failed");
        assert!(err.message().contains("serialise"), "{err:?}");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn sending_outside_the_host_is_a_failure_not_a_panic() {
        let err = Request::get("http://127.0.0.1:1/")
            .send()
            .expect_err("native build");
        assert_eq!(err.kind(), "failed");
    }
}
