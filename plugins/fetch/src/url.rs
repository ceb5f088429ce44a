//! The little URL handling fetch needs: is it http(s), and where does a redirect's
//! `Location` point.

/// Whether `url` is an absolute http:// or https:// URL with a host.
pub fn is_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://"].iter().any(|scheme| {
        lower
            .strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
    })
}

/// `location` (a redirect's target) resolved against `base`.
pub fn resolve(base: &str, location: &str) -> String {
    let location = location.trim();
    if is_http(location) {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(authority_path) = location.strip_prefix("//") {
        return format!("{scheme}://{authority_path}");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let origin = format!("{scheme}://{authority}");
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    // Relative to the base's directory.
    let path = &rest[authority.len()..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(at) => &path[..=at],
        None => "/",
    };
    format!("{origin}{dir}{location}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_pass() {
        assert!(is_http("https://docs.rs/serde"));
        assert!(is_http("HTTP://127.0.0.1:8080/"));
        assert!(!is_http("file:///etc/passwd"));
        assert!(!is_http("http:///nohost"));
        assert!(!is_http("ftp://x"));
    }

    #[test]
    fn redirect_targets_resolve_against_the_page() {
        let base = "http://127.0.0.1:8080/docs/page.html?x=1";
        assert_eq!(
            resolve(base, "https://other.example/a"),
            "https://other.example/a"
        );
        assert_eq!(resolve(base, "//cdn.example/x"), "http://cdn.example/x");
        assert_eq!(resolve(base, "/root"), "http://127.0.0.1:8080/root");
        assert_eq!(
            resolve(base, "next.html"),
            "http://127.0.0.1:8080/docs/next.html"
        );
        assert_eq!(resolve("http://h", "a"), "http://h/a");
    }
}
