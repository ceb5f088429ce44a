//! HTML reduced to readable text: scripts, styles and comments dropped, tags removed
//! (block elements become line breaks, list items `- `, headings `#`), common entities
//! decoded, whitespace collapsed. Pure, so it is tested natively.

/// Elements whose content is never text for a reader.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "object", "canvas",
];

/// Elements that start a new line.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hr",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "title",
    "tr",
    "ul",
    "td",
    "th",
];

/// The readable text of `html`.
pub fn to_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if rest.starts_with("<!--") {
            i = lower[i + 4..]
                .find("-->")
                .map_or(html.len(), |end| i + 4 + end + 3);
            continue;
        }
        if !rest.starts_with('<') {
            let end = rest.find('<').map_or(html.len(), |n| i + n);
            out.push_str(&decode_entities(&html[i..end]));
            i = end;
            continue;
        }
        let starts_tag = rest[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        let Some(tag_end) = tag_end(html, i).filter(|_| starts_tag) else {
            // A lone `<` is text.
            out.push('<');
            i += 1;
            continue;
        };
        let tag = &lower[i + 1..tag_end];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        i = tag_end + 1;
        if name.is_empty() {
            // `<!doctype ...>`, `<?xml ...?>` and the like.
            continue;
        }
        if !closing && SKIPPED.contains(&name.as_str()) && !tag.ends_with('/') {
            let close = format!("</{name}");
            i = match lower[i..].find(&close) {
                Some(at) => tag_end_or_len(html, i + at),
                None => html.len(),
            };
            continue;
        }
        match name.as_str() {
            "li" if !closing => out.push_str("\n- "),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                out.push_str("\n\n");
                if !closing {
                    let level = usize::from(name.as_bytes()[1] - b'0');
                    out.push_str(&"#".repeat(level));
                    out.push(' ');
                }
            }
            "p" | "blockquote" | "pre" | "table" if !closing => out.push_str("\n\n"),
            "td" | "th" if !closing => out.push(' '),
            name if BLOCKS.contains(&name) => out.push('\n'),
            _ => {}
        }
    }
    collapse_whitespace(&out)
}

/// The index of the `>` ending the tag that starts at `start`, skipping quoted values.
fn tag_end(html: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (offset, c) in html[start + 1..].char_indices() {
        match (quote, c) {
            (None, '>') => return Some(start + 1 + offset),
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

fn tag_end_or_len(html: &str, start: usize) -> usize {
    tag_end(html, start).map_or(html.len(), |end| end + 1)
}

/// Decodes the named entities common in pages, and numeric ones; others stay as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest[1..]
            .find(';')
            .filter(|&end| end > 0 && end <= 10)
            .and_then(|end| entity(&rest[1..=end]).map(|c| (c, end + 2)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "deg" => '°',
        "times" => '×',
        "larr" => '←',
        "rarr" => '→',
        "euro" => '€',
        "pound" => '£',
        _ => return None,
    })
}

/// Runs of spaces become one space, lines are trimmed, and at most one blank line
/// separates paragraphs.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(&line);
    }
    out
}

/// Whether a body is HTML, by its `Content-Type` or, when that says nothing, its start.
pub fn is_html(content_type: Option<&str>, body: &str) -> bool {
    match content_type.map(|t| t.to_ascii_lowercase()) {
        Some(t) if t.contains("html") => true,
        Some(t) if !t.is_empty() && !t.starts_with("application/octet-stream") => false,
        _ => {
            let start = body
                .trim_start()
                .get(..15)
                .unwrap_or_default()
                .to_ascii_lowercase();
            start.starts_with("<!doctype html") || start.starts_with("<html")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_styles_and_comments_disappear() {
        let html = r#"<html><head><title>Docs</title><style>p { color: red }</style>
            <script type="text/javascript">if (a < b) { alert("</p>") }</script></head>
            <body><!-- nav <p>hidden</p> --><p>Visible</p><noscript>enable js</noscript></body></html>"#;
        assert_eq!(to_text(html), "Docs\n\nVisible");
    }

    #[test]
    fn blocks_become_lines_and_lists_and_headings_are_marked() {
        let html = "<h1>Title</h1><p>One <b>bold</b> word.</p><ul><li>first</li><li>second</li></ul>\
                    <h2>More</h2>a<br>b<div>c</div>";
        assert_eq!(
            to_text(html),
            "# Title\n\nOne bold word.\n\n- first\n- second\n\n## More\n\na\nb\nc"
        );
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(
            to_text(
                "<p>Fish &amp; chips &lt;3 &#8212; &#x41;&nbsp;&copy; &amp;lt; &bogus; & done</p>"
            ),
            "Fish & chips <3 — A © &lt; &bogus; & done"
        );
    }

    #[test]
    fn whitespace_is_collapsed() {
        assert_eq!(
            to_text("<p>  many \n\t spaces  </p>\n\n\n\n<p>next</p>"),
            "many\nspaces\n\nnext"
        );
    }

    #[test]
    fn a_greater_than_sign_in_an_attribute_does_not_end_the_tag() {
        assert_eq!(
            to_text(r#"<a title="a > b" href="/x">link</a> text"#),
            "link text"
        );
    }

    #[test]
    fn a_lone_less_than_sign_is_text() {
        assert_eq!(to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
    }

    #[test]
    fn an_unclosed_script_drops_the_rest() {
        assert_eq!(to_text("<p>before</p><script>var x = 1;"), "before");
    }

    #[test]
    fn html_is_recognised_by_content_type_or_by_its_start() {
        assert!(is_html(Some("text/html; charset=utf-8"), ""));
        assert!(!is_html(Some("application/json"), "<html>"));
        assert!(is_html(None, "  <!DOCTYPE html><html>"));
        assert!(!is_html(None, "plain"));
    }
}
