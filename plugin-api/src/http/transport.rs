//! The wire: sends a [`Request`] through `wasi:http/outgoing-handler` and reads the
//! response body from its `wasi:io` input stream, blocking on the stream's pollables.
//!
//! Only `wasm32` builds talk to the host; native builds (unit tests) get a `failed`
//! error from [`send`]. The mapping of `wasi:http` error codes to [`PluginError`] cases is
//! plain Rust and tested natively.

use wasip2::http::types::ErrorCode;

use super::{Request, Target};
use crate::PluginError;

/// Status and headers of a response.
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
}

/// The [`PluginError`] for a transport failure `code` while talking to `authority`.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn error_from_code(code: &ErrorCode, authority: &str) -> PluginError {
    use ErrorCode as E;
    let unavailable =
        |what: &str| PluginError::unavailable(format!("cannot reach {authority}: {what}"));
    match code {
        E::HttpRequestDenied => PluginError::denied(format!(
            "{authority} is not in permissions.network of this plugin's manifest, so the host \
             refused the request (HTTP-request-denied)"
        )),
        E::DestinationIpProhibited => PluginError::denied(format!(
            "the host does not allow connections to the address of {authority}"
        )),
        E::DnsTimeout => unavailable("DNS lookup timed out"),
        E::DnsError(payload) => unavailable(&format!(
            "DNS lookup failed{}",
            payload
                .rcode
                .as_deref()
                .map(|rcode| format!(" ({rcode})"))
                .unwrap_or_default()
        )),
        E::DestinationNotFound => unavailable("no such host"),
        E::DestinationUnavailable | E::DestinationIpUnroutable => unavailable("host unreachable"),
        E::ConnectionRefused => unavailable("connection refused"),
        E::ConnectionTerminated => unavailable("connection closed by the server"),
        E::ConnectionTimeout => unavailable("connecting timed out"),
        E::ConnectionReadTimeout | E::HttpResponseTimeout => {
            unavailable("timed out waiting for the response")
        }
        E::ConnectionWriteTimeout => unavailable("timed out sending the request"),
        E::ConnectionLimitReached => unavailable("too many connections"),
        E::HttpResponseIncomplete => unavailable("the response ended early"),
        E::TlsProtocolError | E::TlsCertificateError | E::TlsAlertReceived(_) => {
            PluginError::failed(format!("TLS with {authority} failed ({code:?})"))
        }
        E::InternalError(Some(detail)) => {
            PluginError::failed(format!("HTTP request to {authority} failed: {detail}"))
        }
        other => PluginError::failed(format!("HTTP request to {authority} failed ({other:?})")),
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(super) use native::{BodyReader, send};

#[cfg(target_arch = "wasm32")]
pub(super) use wasi::{BodyReader, send};

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::{Head, PluginError, Request, Target};

    /// No body can arrive outside the host.
    #[derive(Debug)]
    pub(crate) enum BodyReader {}

    impl BodyReader {
        pub(crate) fn next_chunk(&mut self) -> Option<Result<Vec<u8>, PluginError>> {
            match *self {}
        }
    }

    pub(crate) fn send(
        request: &Request,
        _target: &Target,
    ) -> Result<(Head, BodyReader), PluginError> {
        Err(PluginError::failed(format!(
            "cannot send {} {}: outgoing HTTP works only inside the Sanctuary host (a wasm32 \
             build)",
            request.method.as_str(),
            request.url
        )))
    }
}

#[cfg(target_arch = "wasm32")]
mod wasi {
    use std::fmt;
    use std::time::Duration;

    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        self as http, Fields, FutureIncomingResponse, HeaderError, IncomingBody, IncomingResponse,
        OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
    };
    use wasip2::io::streams::{InputStream, StreamError};

    use super::{Head, PluginError, Request, Target, error_from_code};
    use crate::http::Method;

    /// How much to ask the stream for at a time.
    const READ_SIZE: u64 = 16 * 1024;
    /// The most `blocking-write-and-flush` takes at once.
    const WRITE_SIZE: usize = 4096;

    /// The body of a response, read from the network.
    pub(crate) struct BodyReader {
        // Field order is drop order: the stream is a child of the body, which came from
        // the response.
        stream: Option<InputStream>,
        _body: IncomingBody,
        _response: IncomingResponse,
        authority: String,
    }

    impl fmt::Debug for BodyReader {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("BodyReader")
                .field("authority", &self.authority)
                .field("open", &self.stream.is_some())
                .finish()
        }
    }

    impl BodyReader {
        pub(crate) fn next_chunk(&mut self) -> Option<Result<Vec<u8>, PluginError>> {
            let stream = self.stream.as_ref()?;
            loop {
                match stream.blocking_read(READ_SIZE) {
                    Ok(bytes) if bytes.is_empty() => continue,
                    Ok(bytes) => return Some(Ok(bytes)),
                    Err(StreamError::Closed) => {
                        self.stream = None;
                        return None;
                    }
                    Err(StreamError::LastOperationFailed(err)) => {
                        self.stream = None;
                        let error = match http::http_error_code(&err) {
                            Some(code) => error_from_code(&code, &self.authority),
                            None => PluginError::unavailable(format!(
                                "reading the response from {} failed: {}",
                                self.authority,
                                err.to_debug_string()
                            )),
                        };
                        return Some(Err(error));
                    }
                }
            }
        }
    }

    pub(crate) fn send(
        request: &Request,
        target: &Target,
    ) -> Result<(Head, BodyReader), PluginError> {
        let authority = target.authority.as_str();
        let outgoing = OutgoingRequest::new(headers(request)?);
        let invalid =
            |what: &str| PluginError::failed(format!("invalid {what} for {}", request.url));
        outgoing
            .set_method(&method(request.method))
            .map_err(|()| invalid("method"))?;
        outgoing
            .set_scheme(Some(if target.https {
                &Scheme::Https
            } else {
                &Scheme::Http
            }))
            .map_err(|()| invalid("scheme"))?;
        outgoing
            .set_authority(Some(authority))
            .map_err(|()| invalid("host"))?;
        outgoing
            .set_path_with_query(Some(&target.path_and_query))
            .map_err(|()| invalid("path"))?;
        let body = outgoing
            .body()
            .map_err(|()| PluginError::failed("the request body was taken twice"))?;

        let future = outgoing_handler::handle(outgoing, options(request.timeout))
            .map_err(|code| error_from_code(&code, authority))?;
        // Write the body after handing the request over, so a body larger than the
        // host's buffer streams out instead of blocking. A write failure usually means
        // the request itself failed (refused, unreachable): the response says which.
        let written = write_body(body, &request.body);
        let response = wait(&future, authority)?;
        written?;

        let head = Head {
            status: response.status(),
            headers: response
                .headers()
                .entries()
                .into_iter()
                .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
                .collect(),
        };
        let incoming = response
            .consume()
            .map_err(|()| PluginError::failed("the response body was taken twice"))?;
        let stream = incoming
            .stream()
            .map_err(|()| PluginError::failed("the response body stream was taken twice"))?;
        Ok((
            head,
            BodyReader {
                stream: Some(stream),
                _body: incoming,
                _response: response,
                authority: authority.to_string(),
            },
        ))
    }

    fn method(method: Method) -> http::Method {
        match method {
            Method::Get => http::Method::Get,
            Method::Post => http::Method::Post,
            Method::Put => http::Method::Put,
            Method::Patch => http::Method::Patch,
            Method::Delete => http::Method::Delete,
            Method::Head => http::Method::Head,
        }
    }

    fn headers(request: &Request) -> Result<Fields, PluginError> {
        let mut entries: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
            .collect();
        let sends_body = !request.body.is_empty()
            || matches!(request.method, Method::Post | Method::Put | Method::Patch);
        if sends_body && request.header_value("content-length").is_none() {
            entries.push((
                "content-length".into(),
                request.body.len().to_string().into_bytes(),
            ));
        }
        Fields::from_list(&entries).map_err(|err| {
            let why = match err {
                HeaderError::InvalidSyntax => "a header name or value is not valid",
                HeaderError::Forbidden => "a header the host sets itself was given",
                HeaderError::Immutable => "the headers cannot be changed",
            };
            // Names only: values may be credentials.
            let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
            PluginError::failed(format!(
                "cannot send {}: {why} (headers: {})",
                request.url,
                names.join(", ")
            ))
        })
    }

    fn options(timeout: Option<Duration>) -> Option<RequestOptions> {
        let timeout = timeout?;
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let options = RequestOptions::new();
        // A host that does not support one of these keeps its own limit.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        Some(options)
    }

    fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), PluginError> {
        let failed =
            |what: String| PluginError::failed(format!("sending the request body failed: {what}"));
        {
            let stream = body
                .write()
                .map_err(|()| failed("the body stream was taken twice".into()))?;
            for chunk in bytes.chunks(WRITE_SIZE) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|err| match err {
                        StreamError::Closed => failed("the connection closed".into()),
                        StreamError::LastOperationFailed(err) => failed(err.to_debug_string()),
                    })?;
            }
            // The stream is a child of the body and must go before `finish`.
        }
        OutgoingBody::finish(body, None).map_err(|code| failed(format!("{code:?}")))
    }

    fn wait(
        future: &FutureIncomingResponse,
        authority: &str,
    ) -> Result<IncomingResponse, PluginError> {
        loop {
            match future.get() {
                Some(Ok(Ok(response))) => return Ok(response),
                Some(Ok(Err(code))) => return Err(error_from_code(&code, authority)),
                Some(Err(())) => {
                    return Err(PluginError::failed("the response was taken twice"));
                }
                None => future.subscribe().block(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasip2::http::types::DnsErrorPayload;

    #[test]
    fn a_host_outside_the_manifest_is_denied_and_named() {
        let err = error_from_code(&ErrorCode::HttpRequestDenied, "evil.example");
        assert_eq!(err.kind(), "denied");
        assert!(err.message().contains("evil.example"), "{err:?}");
        assert!(err.message().contains("permissions.network"), "{err:?}");
    }

    #[test]
    fn refused_connections_dns_failures_and_timeouts_are_unavailable() {
        for code in [
            ErrorCode::ConnectionRefused,
            ErrorCode::ConnectionTimeout,
            ErrorCode::ConnectionReadTimeout,
            ErrorCode::HttpResponseTimeout,
            ErrorCode::DnsTimeout,
            ErrorCode::DnsError(DnsErrorPayload {
                rcode: Some("NXDOMAIN".into()),
                info_code: None,
            }),
            ErrorCode::ConnectionTerminated,
        ] {
            let err = error_from_code(&code, "127.0.0.1:9");
            assert_eq!(err.kind(), "unavailable", "{code:?}");
            assert!(
                err.message().starts_with("cannot reach 127.0.0.1:9"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn other_transport_failures_are_failures() {
        assert_eq!(
            error_from_code(&ErrorCode::TlsCertificateError, "h").kind(),
            "failed"
        );
        let err = error_from_code(&ErrorCode::InternalError(Some("boom".into())), "h");
        assert_eq!(err.kind(), "failed");
        assert!(err.message().contains("boom"));
        assert_eq!(
            error_from_code(&ErrorCode::HttpProtocolError, "h").kind(),
            "failed"
        );
    }
}
