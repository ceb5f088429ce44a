//! `#[tool]`: keeps the function as written and adds, under the same name in the type
//! namespace, an empty struct implementing `mcp::ToolFn` (name, `Tool` record, and a call
//! that parses the arguments and calls the function) with a constant `TOOL`, the entry a
//! plugin lists in `McpServer::TOOLS`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType};

use crate::docs;

/// Expands `#[tool(attr)] item`.
pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function: ItemFn = syn::parse2(item)?;
    let ident = &function.sig.ident;

    let mut name = ident.to_string();
    if !attr.is_empty() {
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("name") {
                name = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(meta.error("unknown `tool` option; the only one is `name = \"...\"`"))
            }
        });
        syn::parse::Parser::parse2(parser, attr)?;
    }
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
    let output_span = match &function.sig.output {
        ReturnType::Default => function.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let result = quote_spanned! {output_span=>
        #sdk::mcp::IntoToolResult::into_tool_result(#call)
    };
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

            fn call(arguments: &str) -> ::core::result::Result<::std::vec::Vec<#sdk::mcp::Content>, #sdk::PluginError> {
                let args: #args_ty = #sdk::args(arguments)?;
                let _ = &args;
                #result
            }
        }
    })
}
