//! `#[suite_test]`: one test of hookd's end-to-end suite, which is compiled into two binaries.
//!
//! - `tests/it` (SQLite) uses the standard test harness, which runs `#[test]` functions.
//! - `tests/it_postgres` has `harness = false` and runs its tests with `libtest-mimic`, so that
//!   it can report them as *ignored* (with the reason) when no PostgreSQL server is reachable;
//!   the standard harness can only decide that at compile time. Without the standard harness,
//!   rustc drops every `#[test]` function, so this runner must find the tests itself.
//!
//! So the attribute turns `async fn name() { body }` into three items, the same in both builds
//! (both have `cfg(test)`, so nothing can tell them apart at expansion):
//! - `async fn __suite_test_name() { body }`, the test itself;
//! - `#[tokio::test(args)] async fn name()` awaiting it: what the standard harness runs, under
//!   the test's own name; dropped by rustc in the `harness = false` build;
//! - an `inventory` registration of `crate::harness::SuiteTest` (module, name, runtime flavour)
//!   pointing at the test: what the PostgreSQL runner collects; unused in `tests/it`.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, Expr, ExprLit, ItemFn, Lit, MetaNameValue, Token};

/// Marks an `async fn` without arguments as a suite test. Takes `#[tokio::test]`'s
/// `flavor = "multi_thread"` and `worker_threads = N`, nothing else.
#[proc_macro_attribute]
pub fn suite_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let tokio_args = proc_macro2::TokenStream::from(args.clone());
    let args =
        parse_macro_input!(args with Punctuated::<MetaNameValue, Token![,]>::parse_terminated);
    let function = parse_macro_input!(item as ItemFn);
    match expand(&args, tokio_args, &function) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(
    args: &Punctuated<MetaNameValue, Token![,]>,
    tokio_args: proc_macro2::TokenStream,
    function: &ItemFn,
) -> syn::Result<proc_macro2::TokenStream> {
    if function.sig.asyncness.is_none() || !function.sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &function.sig,
            "a suite test is an `async fn` without arguments",
        ));
    }
    let mut multi_thread = false;
    let mut worker_threads: Option<usize> = None;
    for arg in args {
        let value = match &arg.value {
            Expr::Lit(ExprLit { lit, .. }) => lit,
            other => return Err(syn::Error::new_spanned(other, "expected a literal")),
        };
        match (
            arg.path.get_ident().map(|i| i.to_string()).as_deref(),
            value,
        ) {
            (Some("flavor"), Lit::Str(s)) if s.value() == "multi_thread" => multi_thread = true,
            (Some("flavor"), Lit::Str(s)) if s.value() == "current_thread" => {}
            (Some("worker_threads"), Lit::Int(n)) => worker_threads = Some(n.base10_parse()?),
            _ => {
                return Err(syn::Error::new_spanned(
                    arg,
                    "supported: flavor = \"multi_thread\" | \"current_thread\", worker_threads = N",
                ))
            }
        }
    }
    let worker_threads = match (multi_thread, worker_threads) {
        (false, None) => quote!(::core::option::Option::None),
        (true, n) => {
            let n = n.unwrap_or(2);
            quote!(::core::option::Option::Some(#n))
        }
        (false, Some(_)) => {
            return Err(syn::Error::new_spanned(
                args,
                "worker_threads needs flavor = \"multi_thread\"",
            ))
        }
    };
    let name = &function.sig.ident;
    let body_name = quote::format_ident!("__suite_test_{}", name);
    let mut body = function.clone();
    body.sig.ident = body_name.clone();
    body.attrs.retain(|attr| !attr.path().is_ident("doc"));
    let attrs = &function.attrs;
    let vis = &function.vis;
    Ok(quote! {
        #body

        #(#attrs)*
        #[::tokio::test(#tokio_args)]
        #vis async fn #name() {
            #body_name().await
        }

        ::inventory::submit! {
            crate::harness::SuiteTest {
                module: ::core::module_path!(),
                name: ::core::stringify!(#name),
                worker_threads: #worker_threads,
                run: || ::std::boxed::Box::pin(#body_name()),
            }
        }
    })
}
