//! The code `#[task]` and `#[flow]` generate. The function keeps its signature and attributes;
//! its body moves to a private function; and a module of the function's name holds the rest:
//! `META`, `run` (every failure as a value), for flows `deployment`, and for tasks `submit`, `submit_with`, `map` and
//! `WORKER`. That module sits inside a hidden one and is brought in by a glob import, so an
//! explicit import of the same name (`use std::process;` beside `#[task] fn process`) shadows
//! it instead of colliding with it; the function itself reaches the module by its hidden path.
//!
//! Whether the return type is a value or a value-or-failure is decided by the `flowgate`
//! crate's `Fallible` trait (`Probe::<R>::FALLIBLE`), not by the type's name.

use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{Ident, ItemFn, Type};

use crate::options::{Kind, Options};
use crate::signature::{Arg, arguments, check_signature, return_type};

/// Rewrites `println!` to a print that is also logged.
struct LogPrints;

impl VisitMut for LogPrints {
    fn visit_macro_mut(&mut self, m: &mut syn::Macro) {
        if m.path.is_ident("println") {
            m.path = syn::parse_quote!(::flowgate::__log_println);
        }
        syn::visit_mut::visit_macro_mut(self, m);
    }
}

/// What the generated items are built from.
struct Parts {
    /// The recorded name: a task's function name, a flow's with `-` for `_`, or `name = …`.
    display: String,
    /// `Some(seconds)` or `None`, as tokens.
    timeout: Tokens,
    is_async: bool,
    names: Vec<Ident>,
    types: Vec<Type>,
    name_strs: Vec<String>,
    /// `Params::new().add("x", &x)…`: the call's recorded parameters.
    params: Tokens,
    /// The attempts of the call (the arguments moved in).
    attempts: Tokens,
    /// The declared return type `R`.
    ret: Tokens,
    /// `<R as Outcome<__FALLIBLE>>`.
    outcome: Tokens,
    /// `.await` for async functions.
    dot_await: Tokens,
    /// `async` for async functions.
    asyncness: Tokens,
}

impl Parts {
    fn new(kind: Kind, options: &Options, func: &ItemFn, args: &[Arg], body_name: &Ident) -> Parts {
        let is_async = func.sig.asyncness.is_some();
        let names: Vec<Ident> = args.iter().map(|a| a.name.clone()).collect();
        let types: Vec<Type> = args.iter().map(|a| a.ty.clone()).collect();
        let name_strs: Vec<String> = names.iter().map(Ident::to_string).collect();
        let ret = return_type(func);
        let outcome = quote!(<#ret as ::flowgate::__private::Outcome<__FALLIBLE>>);
        let take_args = if options.retries == 0 {
            quote!(
                __flowgate_args
                    .take()
                    .expect("a call without retries runs its body once")
            )
        } else {
            quote!(if __flowgate_last {
                __flowgate_args.take().expect("the last attempt runs once")
            } else {
                ::core::clone::Clone::clone(
                    __flowgate_args
                        .as_ref()
                        .expect("set until the last attempt"),
                )
            })
        };
        let run_body = if is_async {
            quote!(async move { #outcome::split(#body_name(#(#names),*).await) })
        } else {
            quote!(move || #outcome::split(#body_name(#(#names),*)))
        };
        let factory = quote!({
            let mut __flowgate_args = ::core::option::Option::Some((#(#names,)*));
            move |__flowgate_last: bool| {
                let (#(#names,)*) = #take_args;
                #run_body
            }
        });
        let attempts = match (is_async, options.timeout) {
            (true, Some(t)) => {
                quote!(::flowgate::__private::Async::new(::core::option::Option::Some(#t), #factory))
            }
            (true, None) => {
                quote!(::flowgate::__private::Async::new(::core::option::Option::None, #factory))
            }
            (false, Some(t)) => quote!(::flowgate::__private::Threaded::new(#t, #factory)),
            (false, None) => quote!(::flowgate::__private::Inline(#factory)),
        };
        let fn_name = func.sig.ident.to_string();
        let display = match (&options.name, kind) {
            (Some(n), _) => n.value(),
            (None, Kind::Task) => fn_name,
            (None, Kind::Flow) => fn_name.replace('_', "-"),
        };
        Parts {
            display,
            timeout: match options.timeout {
                Some(t) => quote!(::core::option::Option::Some(#t)),
                None => quote!(::core::option::Option::None),
            },
            is_async,
            params: quote!(::flowgate::__private::Params::new() #(.add(#name_strs, &#names))*),
            names,
            types,
            name_strs,
            attempts,
            ret,
            outcome,
            dot_await: if is_async { quote!(.await) } else { quote!() },
            asyncness: if is_async { quote!(async) } else { quote!() },
        }
    }

    /// How a call waits for the run: `.await`, or blocking with `wait`.
    fn wait(&self, wait: Tokens, fut: Tokens) -> Tokens {
        if self.is_async {
            quote!(#fut.await)
        } else {
            quote!(#wait(#fut))
        }
    }
}

/// Expands `#[task]` or `#[flow]` on `func`.
pub fn expand(kind: Kind, options: Options, mut func: ItemFn) -> syn::Result<Tokens> {
    check_signature(kind, &func)?;
    let args = arguments(kind, &func)?;
    if options.log_prints {
        LogPrints.visit_block_mut(&mut func.block);
    }
    let fn_name = func.sig.ident.clone();
    let body_name = format_ident!("__flowgate_body_{}", fn_name);
    let ret = return_type(&func);
    let parts = Parts::new(kind, &options, &func, &args, &body_name);
    // A task's key names its function by the module it is written in: computed out here,
    // where `module_path!()` is that module.
    let key_const = format_ident!("__FLOWGATE_TASK_KEY_{}", fn_name);
    let task_name = &parts.display;
    let key = match kind {
        Kind::Task => quote! {
            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            const #key_const: &str = ::core::concat!(::core::module_path!(), "::", #task_name);
        },
        Kind::Flow => quote!(),
    };
    let (module_doc, items) = match kind {
        Kind::Task => task_items(&options, &parts, &key_const),
        Kind::Flow => flow_items(&options, &parts),
    };
    let outer = match kind {
        Kind::Task => format_ident!("__flowgate_task_{}", fn_name),
        Kind::Flow => format_ident!("__flowgate_flow_{}", fn_name),
    };

    // The body as a private function; the public function keeps the signature and attributes.
    let mut body_fn = func.clone();
    body_fn.sig.ident = body_name;
    body_fn.vis = syn::Visibility::Inherited;
    body_fn.attrs.retain(|a| !a.path().is_ident("doc"));
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    let names = &parts.names;
    let dot_await = &parts.dot_await;

    Ok(quote! {
        #(#attrs)* #vis #sig {
            #outer::#fn_name::__call(#(#names),*) #dot_await
        }

        #[doc(hidden)]
        #[allow(clippy::too_many_arguments)]
        #body_fn

        #key

        #[doc(hidden)]
        #vis mod #outer {
            #[doc = #module_doc]
            pub mod #fn_name {
                #![allow(unused_imports, clippy::too_many_arguments)]
                use super::super::*;
                use ::flowgate::__private::NotFallible as _;

                /// Whether the return type is `Fallible` (its `Err` is a failure).
                #[doc(hidden)]
                pub const __FALLIBLE: bool = ::flowgate::__private::Probe::<#ret>::FALLIBLE;

                /// What a successful call gives.
                #[doc(hidden)]
                pub type __Value = <#ret as ::flowgate::__private::Outcome<__FALLIBLE>>::Value;

                #items
            }
        }

        #[allow(unused_imports)]
        #vis use #outer::*;
    })
}

fn task_items(options: &Options, p: &Parts, key_const: &Ident) -> (String, Tokens) {
    let (names, types, name_strs) = (&p.names, &p.types, &p.name_strs);
    let (params, attempts, ret, outcome) = (&p.params, &p.attempts, &p.ret, &p.outcome);
    let (display, timeout, asyncness) = (&p.display, &p.timeout, &p.asyncness);
    let (retries, retry_delay, tags) = (options.retries, options.retry_delay, &options.tags);
    let call = p.wait(
        quote!(::flowgate::__private::now),
        quote!(::flowgate::__private::task(&META, __flowgate_params, #attempts)),
    );
    let upstream: Vec<Ident> = names
        .iter()
        .map(|n| format_ident!("__flowgate_upstream_{}", n))
        .collect();
    let (submit_fn, resolve) = if p.is_async {
        (
            quote!(::flowgate::__private::submit_async_task),
            quote!(::flowgate::__private::resolve_async),
        )
    } else {
        (
            quote!(::flowgate::__private::submit_task),
            quote!(::flowgate::__private::resolve),
        )
    };
    let (prepare_start, resolved) = if p.is_async {
        let resolved = quote!(#(let (#names, #upstream) = #resolve(#names).await.map_err(|e| ::flowgate::__private::upstream_failed(&META, #name_strs, e))?;)*);
        (quote!(async move), resolved)
    } else {
        let resolved = quote!(#(let (#names, #upstream) = #resolve(#names).map_err(|e| ::flowgate::__private::upstream_failed(&META, #name_strs, e))?;)*);
        (quote!(move ||), resolved)
    };
    let (map_item, map_pat) = if names.len() == 1 {
        (quote!(#(#types)*), quote!(#(#names)*))
    } else {
        (quote!((#(#types,)*)), quote!((#(#names,)*)))
    };
    let items = quote! {
        /// What `#[task]` declared.
        pub static META: ::flowgate::__private::TaskMeta = ::flowgate::__private::TaskMeta {
            name: #display,
            key: super::super::#key_const,
            retries: #retries,
            retry_delay: #retry_delay,
            tags: &[#(#tags),*],
            timeout: #timeout,
        };

        /// The plain call: the body's outcome; any other failure panics.
        #[doc(hidden)]
        pub #asyncness fn __call(#(#names: #types),*) -> #ret {
            let __flowgate_params = #params;
            #outcome::join(::flowgate::__private::task_plain(#call))
        }

        /// Calls the task with every failure as a value: the body's own `Err` (typed, in
        /// `TaskError::Failed`), a panic, a timeout, or an argument that cannot be recorded.
        pub #asyncness fn run(#(#names: #types),*) -> ::core::result::Result<__Value, ::flowgate::TaskError> {
            let __flowgate_params = #params;
            ::flowgate::__private::task_result(#call)
        }

        /// Runs the task on the current flow's task runner; returns its future.
        pub fn submit(#(#names: #types),*) -> ::flowgate::TaskFuture<__Value> {
            #submit_fn(&META, #prepare_start {
                let __flowgate_params = #params;
                ::core::result::Result::Ok::<_, ::flowgate::TaskError>((__flowgate_params, #attempts))
            })
        }

        /// Like `submit`, with each argument a value (`Input::value(x)`) or another task's
        /// future (`Input::from(f)`), which is awaited first and recorded as an upstream input.
        pub fn submit_with(#(#names: ::flowgate::Input<#types>),*) -> ::flowgate::TaskFuture<__Value> {
            #submit_fn(&META, #prepare_start {
                #resolved
                let __flowgate_params = #params #(.upstream(#name_strs, #upstream))*;
                ::core::result::Result::Ok::<_, ::flowgate::TaskError>((__flowgate_params, #attempts))
            })
        }

        /// Submits one run per item.
        pub fn map(items: impl ::core::iter::IntoIterator<Item = #map_item>) -> ::std::vec::Vec<::flowgate::TaskFuture<__Value>> {
            items.into_iter().map(|#map_pat| submit(#(#names),*)).collect()
        }

        /// Lets a task worker run this task: `flowgate::serve(&[&WORKER])`.
        pub static WORKER: ::flowgate::RemoteTask = ::flowgate::RemoteTask { meta: &META, run: __flowgate_remote };

        fn __flowgate_remote(__flowgate_call: &::flowgate::__private::RemoteCall) -> ::core::result::Result<::flowgate::__private::Value, ::std::string::String> {
            #(let #names: #types = __flowgate_call.arg(#name_strs)?;)*
            let __flowgate_params = #params;
            ::flowgate::__private::run_remote(&META, __flowgate_call, __flowgate_params, #attempts)
        }
    };
    (
        format!("Task `{display}`: `run`, `submit`, `submit_with`, `map`, and its `META`."),
        items,
    )
}

fn flow_items(options: &Options, p: &Parts) -> (String, Tokens) {
    let (names, types) = (&p.names, &p.types);
    let (params, attempts, ret, outcome) = (&p.params, &p.attempts, &p.ret, &p.outcome);
    let (display, timeout, asyncness) = (&p.display, &p.timeout, &p.asyncness);
    let (retries, retry_delay, tags) = (options.retries, options.retry_delay, &options.tags);
    let log_prints = options.log_prints;
    let runner = options
        .task_runner
        .as_ref()
        .map(|e| quote!(#e))
        .unwrap_or_else(|| quote!(::flowgate::SequentialTaskRunner));
    let call = p.wait(
        quote!(::flowgate::__private::block_on),
        quote!(::flowgate::__private::flow(&META, __flowgate_params, __flowgate_runner, #attempts)),
    );
    let (name_strs, names_pat) = (&p.name_strs, quote!((#(#names,)*)));
    let entry_call = if p.is_async {
        quote!(::flowgate::__private::block_on(self::run(#(#names),*)))
    } else {
        quote!(self::run(#(#names),*))
    };
    let items = quote! {
        /// What `#[flow]` declared.
        pub static META: ::flowgate::__private::FlowMeta = ::flowgate::__private::FlowMeta {
            name: #display,
            retries: #retries,
            retry_delay: #retry_delay,
            tags: &[#(#tags),*],
            log_prints: #log_prints,
            timeout: #timeout,
        };

        /// The plain call: the body's outcome; any other failure panics.
        #[doc(hidden)]
        pub #asyncness fn __call(#(#names: #types),*) -> #ret {
            let __flowgate_params = #params;
            let __flowgate_runner = #runner;
            #outcome::join(::flowgate::__private::flow_plain(&META, #call))
        }

        /// Runs the flow with every failure as a value: the body's own `Err` (typed, in
        /// `FlowError::Failed`), a panic, a timeout, a cancellation, or the server's trouble;
        /// when only the final report fails, `FlowError::Unrecorded` still holds the value.
        pub #asyncness fn run(#(#names: #types),*) -> ::core::result::Result<__Value, ::flowgate::FlowError<__Value>> {
            let __flowgate_params = #params;
            let __flowgate_runner = #runner;
            ::flowgate::__private::flow_result(#call)
        }

        /// A deployment of this flow named `name` (where and when it runs, its defaults), to
        /// `.apply()` or add to `flowgate::Deployments`. Its parameters' JSON Schema comes from
        /// the argument types.
        pub fn deployment(name: impl ::core::convert::Into<::std::string::String>) -> ::flowgate::Deployment<(#(#types,)*)> {
            ::flowgate::Deployment::new(&META, &[#(#name_strs),*], __flowgate_entry, name)
        }

        /// Runs the flow for a deployment's run, blocking until it ends.
        fn __flowgate_entry(#names_pat: (#(#types,)*)) -> ::core::result::Result<(), ::flowgate::FlowError> {
            #entry_call.map(|_| ()).map_err(::flowgate::FlowError::without_value)
        }
    };
    (
        format!(
            "Flow `{display}`: `run` (every failure as a `FlowError`), `deployment`, and its `META`."
        ),
        items,
    )
}
