//! `#[tool]`: keeps the function as written and adds, under the same name in the type
//! namespace, an empty struct implementing `mcp::ToolFn` (name, `Tool` record, its
//! `ToolInfo` metadata — title, annotations, output schema —, and a call that parses the
//! arguments and calls the function) with a constant `TOOL`, the entry a plugin lists in
//! `McpServer::TOOLS`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitBool, LitStr, ReturnType};

use crate::docs;

/// The options of `#[tool(...)]`.
#[derive(Default)]
struct Options {
    name: Option<String>,
    title: Option<String>,
    read_only: Option<bool>,
    destructive: Option<bool>,
    idempotent: Option<bool>,
    open_world: Option<bool>,
}

/// What `#[tool(...)]` accepts, for the error on anything else.
const OPTIONS: &str = "`name = \"...\"`, `title = \"...\"`, `read_only`, `destructive`, \
                       `idempotent` and `open_world` (each flag also as `flag = true|false`)";

fn options(attr: TokenStream) -> syn::Result<Options> {
    let mut out = Options::default();
    if attr.is_empty() {
        return Ok(out);
    }
    let parser = syn::meta::parser(|meta| {
        let flag = |meta: &syn::meta::ParseNestedMeta<'_>| -> syn::Result<Option<bool>> {
            if meta.input.peek(syn::Token![=]) {
                Ok(Some(meta.value()?.parse::<LitBool>()?.value))
            } else {
                Ok(Some(true))
            }
        };
        if meta.path.is_ident("name") {
            out.name = Some(meta.value()?.parse::<LitStr>()?.value());
        } else if meta.path.is_ident("title") {
            let title = meta.value()?.parse::<LitStr>()?;
            let text = title.value();
            if text.is_empty() || text.len() > 256 || text.chars().any(char::is_control) {
                return Err(syn::Error::new(
                    title.span(),
                    "a title is 1-256 bytes on one line",
                ));
            }
            out.title = Some(text);
        } else if meta.path.is_ident("read_only") {
            out.read_only = flag(&meta)?;
        } else if meta.path.is_ident("destructive") {
            out.destructive = flag(&meta)?;
        } else if meta.path.is_ident("idempotent") {
            out.idempotent = flag(&meta)?;
        } else if meta.path.is_ident("open_world") {
            out.open_world = flag(&meta)?;
        } else {
            return Err(meta.error(format!("unknown `tool` option; the options are {OPTIONS}")));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    if out.read_only == Some(true) && out.destructive == Some(true) {
        return Err(syn::Error::new(
            proc_macro2::Span::call_site(),
            "a tool cannot be both `read_only` and `destructive`",
        ));
    }
    Ok(out)
}

/// `Some(value)` or `None` as tokens.
fn option<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// Expands `#[tool(attr)] item`.
pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function: ItemFn = syn::parse2(item)?;
    let ident = &function.sig.ident;

    let options = options(attr)?;
    let name = options.name.clone().unwrap_or_else(|| ident.to_string());
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(syn::Error::new(
            ident.span(),
            format!("tool name `{name}` must be lowercase `a-z0-9_-`"),
        ));
    }
    let description = docs::text(&function.attrs).ok_or_else(|| {
        syn::Error::new(
            ident.span(),
            "a tool needs a `///` doc comment: it is the tool's description",
        )
    })?;
    if let Some(asyncness) = &function.sig.asyncness {
        return Err(syn::Error::new(
            asyncness.span(),
            "a tool is a plain (blocking) function",
        ));
    }
    if !function.sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            function.sig.generics.span(),
            "a tool cannot be generic",
        ));
    }

    let sdk = quote!(::sanctuary_plugin_api);
    let inputs: Vec<&FnArg> = function.sig.inputs.iter().collect();
    let (args_ty, call) = match inputs.as_slice() {
        [] => (quote!(#sdk::mcp::NoArgs), quote!(#ident())),
        [FnArg::Typed(typed)] => {
            let ty = &typed.ty;
            (quote!(#ty), quote!(#ident(args)))
        }
        [FnArg::Receiver(receiver)] => {
            return Err(syn::Error::new(
                receiver.span(),
                "a tool is a free function, not a method",
            ));
        }
        [_, extra, ..] => {
            return Err(syn::Error::new(
                extra.span(),
                "a tool takes at most one parameter: a `#[derive(ToolArgs)]` struct of its arguments",
            ));
        }
    };
    let (output_span, output_ty) = match &function.sig.output {
        ReturnType::Default => (function.sig.ident.span(), quote!(())),
        ReturnType::Type(_, ty) => (ty.span(), quote!(#ty)),
    };
    let result = quote_spanned! {output_span=>
        #sdk::mcp::IntoToolResult::into_tool_result(#call)
    };
    let rich_result = quote_spanned! {output_span=>
        #sdk::mcp::IntoToolResult::into_rich_result(#call)
    };
    let title = option(
        options
            .title
            .map(|t| quote!(::std::string::String::from(#t))),
    );
    let read_only = option(options.read_only);
    let destructive = option(options.destructive);
    let idempotent = option(options.idempotent);
    let open_world = option(options.open_world);
    let vis = &function.vis;

    Ok(quote! {
        #function

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        impl #ident {
            /// This tool's entry for `McpServer::TOOLS`.
            #[allow(dead_code)]
            #vis const TOOL: #sdk::mcp::ToolEntry = #sdk::mcp::ToolEntry::of::<#ident>();
        }

        impl #sdk::mcp::ToolFn for #ident {
            const NAME: &'static str = #name;

            fn tool() -> #sdk::mcp::Tool {
                #sdk::mcp::Tool::new(
                    #name,
                    #description,
                    &<#args_ty as #sdk::mcp::ToolArgs>::input_schema(),
                )
            }

            fn info() -> #sdk::mcp::ToolInfo {
                #sdk::mcp::ToolInfo {
                    name: ::std::string::String::from(#name),
                    title: #title,
                    annotations: #sdk::mcp::ToolAnnotations {
                        read_only: #read_only,
                        destructive: #destructive,
                        idempotent: #idempotent,
                        open_world: #open_world,
                    },
                    output_schema: <#output_ty as #sdk::mcp::IntoToolResult>::output_schema()
                        .map(|schema| schema.to_string()),
                }
            }

            fn call(arguments: &str) -> ::core::result::Result<::std::vec::Vec<#sdk::mcp::Content>, #sdk::PluginError> {
                let args: #args_ty = #sdk::args(arguments)?;
                let _ = &args;
                #result
            }

            fn call_rich(arguments: &str) -> ::core::result::Result<#sdk::mcp::ToolResult, #sdk::PluginError> {
                let args: #args_ty = #sdk::args(arguments)?;
                let _ = &args;
                #rich_result
            }
        }
    })
}
