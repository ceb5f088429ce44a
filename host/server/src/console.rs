//! The operator console: a web page at `/console` (assets under `/console/...`) that signs
//! in with an API key or a user login and shows and steers the installation through the
//! HTTP API: plugins, routes and providers, health, jobs, analytics and the API reference.
//!
//! The page is plain HTML, CSS and JavaScript modules kept in `host/server/console/`; they
//! are the sources, embedded in the binary here with `include_bytes!`, so the console
//! needs no build step, no node toolchain and no network. Every answer carries a strict
//! Content-Security-Policy ([`CSP`]): scripts, styles, images and connections from the
//! server itself only, no inline script or style, no framing.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The console's Content-Security-Policy: nothing but the server itself.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its path under `/console/`, media type and bytes.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $media:expr),* $(,)?) => {
        &[$(Asset {
            path: $path,
            media_type: $media,
            bytes: include_bytes!(concat!("../console/", $path)),
        }),*]
    };
}

/// JavaScript modules.
const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console.
static ASSETS: &[Asset] = assets![
    "index.html" => "text/html; charset=utf-8",
    "console.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "js/app.js" => JS,
    "js/api.js" => JS,
    "js/dom.js" => JS,
    "js/signin.js" => JS,
    "js/plugins.js" => JS,
    "js/plugin_detail.js" => JS,
    "js/install.js" => JS,
    "js/routes.js" => JS,
    "js/health.js" => JS,
    "js/jobs.js" => JS,
    "js/charts.js" => JS,
    "js/analytics.js" => JS,
    "js/reference.js" => JS,
];

/// Routes of the console (outside the API's credential gate: the page itself is public,
/// every API call it makes carries the operator's credential).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console", get(index))
        .route("/console/{*asset}", get(asset))
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    // `/console/` and client-side section links (`/console/plugins`) get the page.
    if path.is_empty() || !path.contains('.') {
        return serve("index.html");
    }
    serve(&path)
}

/// The embedded file at `path`, or a plain 404; with the console's security headers.
fn serve(path: &str) -> Response {
    let mut response = match find(path) {
        Some(asset) => ([(header::CONTENT_TYPE, asset.media_type)], asset.bytes).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such console file",
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // The files change with the binary; always ask again (answers are small).
        (header::CACHE_CONTROL, "no-cache"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::api::test_support::{get as get_request, send, state};

    #[tokio::test]
    async fn the_page_and_its_assets_are_served_with_a_strict_policy() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        let (status, headers, _) = send(app.clone(), get_request("/console")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        let csp = headers["content-security-policy"].to_str().expect("text");
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe"), "{csp}");
        for asset in ASSETS {
            let (status, headers, _) = send(
                app.clone(),
                get_request(&format!("/console/{}", asset.path)),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{}", asset.path);
            assert_eq!(headers["content-type"], asset.media_type, "{}", asset.path);
        }
        let (status, _, _) = send(app.clone(), get_request("/console/js/missing.js")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // `/` keeps the seeds' JSON answer.
        let (_, headers, body) = send(app, get_request("/")).await;
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body["status"], "success");
    }

    #[tokio::test]
    async fn the_page_loads_when_reading_is_closed_and_the_api_still_asks_for_a_credential() {
        let (mut state, _db, _dir) = state().await;
        let mut config = (*state.config).clone();
        config.auth.open_read = false;
        state.config = std::sync::Arc::new(config);
        let app = crate::app(state);
        let (status, _, _) = send(app.clone(), get_request("/console")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = send(app.clone(), get_request("/console/js/app.js")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = send(app, get_request("/api/plugins")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(asset.bytes).expect("utf-8");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(from) = line.split(" from ").nth(1) else {
                    continue;
                };
                let name = from.trim_matches(|c| c == '\'' || c == '"' || c == ';');
                let name = name.trim_start_matches("./");
                assert!(
                    find(&format!("js/{name}")).is_some(),
                    "{} imports {name}, which is not embedded",
                    asset.path
                );
            }
        }
    }
}
