//! Doc comments as descriptions: `///` lines are `#[doc = "..."]` attributes by the time a
//! macro sees them; this turns them back into text.

use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// The doc comment of an item as one text: lines of a paragraph joined by a space,
/// paragraphs by a blank line. `None` when there is no doc comment.
pub fn text(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        // `split`, not `lines`: an empty `///` line is an empty chunk, a paragraph break.
        .flat_map(|chunk| chunk.split('\n').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in &lines {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    (!paragraphs.is_empty()).then(|| paragraphs.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn joins_the_lines_of_a_paragraph_and_keeps_paragraph_breaks() {
        let item: syn::ItemFn = parse_quote! {
            /// Converts a time
            ///   between zones.
            ///
            /// Second paragraph.
            fn f() {}
        };
        assert_eq!(
            text(&item.attrs).as_deref(),
            Some("Converts a time between zones.\n\nSecond paragraph.")
        );
    }

    #[test]
    fn an_undocumented_item_has_no_text() {
        let item: syn::ItemFn = parse_quote! {
            #[inline]
            fn f() {}
        };
        assert_eq!(text(&item.attrs), None);
    }
}
