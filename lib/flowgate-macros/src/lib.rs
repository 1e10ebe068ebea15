//! `#[flow]` and `#[task]`: turn plain functions into recorded Flowgate flow runs and task runs.
//! The generated code calls into the `flowgate` crate; use these through it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{Expr, FnArg, Ident, ItemFn, LitStr, Pat, ReturnType, Type, parse_macro_input};

/// Makes a function a Flowgate task: inside a flow, each call is a recorded task run.
///
/// Options: `name = "..."`, `retries = N`, `retry_delay = SECONDS`, `timeout = SECONDS`,
/// `tags = ["a", "b"]`, `log_prints`. Arguments must be owned (`String`, not `&str`), named
/// (`x: T`), serialisable, and `Clone` when `retries` > 0; the return value is serialisable, and
/// a `Result` return makes `Err` a failure. Alongside the function, a module of the same name
/// offers `submit`, `submit_with` and `map`.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::new(Kind::Task);
    let parser = syn::meta::parser(|meta| options.parse(meta));
    parse_macro_input!(attr with parser);
    function(Kind::Task, item.into())
        .and_then(|func| expand(Kind::Task, options, func))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes a function a Flowgate flow: each call is a recorded flow run; tasks called inside it
/// are its task runs, and flows called inside it are subflows.
///
/// Options: `name = "..."` (default: the function's name with `-` for `_`), `retries = N`,
/// `retry_delay = SECONDS`, `tags = ["a"]`, `log_prints`, and `task_runner = EXPR` (for example
/// `ThreadPoolTaskRunner::new(3)`; default sequential).
#[proc_macro_attribute]
pub fn flow(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::new(Kind::Flow);
    let parser = syn::meta::parser(|meta| options.parse(meta));
    parse_macro_input!(attr with parser);
    function(Kind::Flow, item.into())
        .and_then(|func| expand(Kind::Flow, options, func))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Task,
    Flow,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Task => "#[task]",
            Kind::Flow => "#[flow]",
        }
    }
}

struct Options {
    kind: Kind,
    name: Option<LitStr>,
    retries: u32,
    retry_delay: f64,
    timeout: Option<f64>,
    tags: Vec<LitStr>,
    log_prints: bool,
    task_runner: Option<Expr>,
}

impl Options {
    fn new(kind: Kind) -> Options {
        Options {
            kind,
            name: None,
            retries: 0,
            retry_delay: 0.0,
            timeout: None,
            tags: Vec::new(),
            log_prints: false,
            task_runner: None,
        }
    }

    fn parse(&mut self, meta: syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "name" => self.name = Some(meta.value()?.parse()?),
            "retries" => self.retries = meta.value()?.parse::<syn::LitInt>()?.base10_parse()?,
            "retry_delay" => self.retry_delay = seconds(&meta.value()?.parse()?)?,
            "timeout" if self.kind == Kind::Task => {
                self.timeout = Some(seconds(&meta.value()?.parse()?)?)
            }
            "tags" => {
                let list: syn::ExprArray = meta.value()?.parse()?;
                for e in list.elems {
                    match e {
                        Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }) => self.tags.push(s),
                        other => {
                            return Err(syn::Error::new_spanned(
                                other,
                                "tags are string literals: tags = [\"etl\", \"nightly\"]",
                            ));
                        }
                    }
                }
            }
            "log_prints" => {
                self.log_prints = if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<syn::LitBool>()?.value
                } else {
                    true
                };
            }
            "task_runner" if self.kind == Kind::Flow => {
                self.task_runner = Some(meta.value()?.parse()?)
            }
            _ => {
                let expected = match self.kind {
                    Kind::Task => "name, retries, retry_delay, timeout, tags, log_prints",
                    Kind::Flow => "name, retries, retry_delay, tags, log_prints, task_runner",
                };
                return Err(meta.error(format!(
                    "unknown {} option `{key}`; expected one of: {expected}",
                    self.kind.attr()
                )));
            }
        }
        Ok(())
    }
}

/// A number of seconds: an integer or float literal.
fn seconds(lit: &syn::Lit) -> syn::Result<f64> {
    let v = match lit {
        syn::Lit::Int(i) => i.base10_parse::<u64>()? as f64,
        syn::Lit::Float(f) => f.base10_parse::<f64>()?,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "expected seconds as a number, e.g. 1.5",
            ));
        }
    };
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(syn::Error::new_spanned(lit, "seconds must be 0 or more"))
    }
}

/// The annotated item, which must be a function.
fn function(kind: Kind, item: Tokens) -> syn::Result<ItemFn> {
    match syn::parse2::<syn::Item>(item)? {
        syn::Item::Fn(f) => Ok(f),
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "{0} goes on a function: `{0} fn name(x: T) -> R {{ ... }}`",
                kind.attr()
            ),
        )),
    }
}

/// One named, owned argument.
struct Arg {
    name: Ident,
    ty: Type,
}

fn arguments(kind: Kind, func: &ItemFn) -> syn::Result<Vec<Arg>> {
    let attr = kind.attr();
    func.sig
        .inputs
        .iter()
        .map(|input| match input {
            FnArg::Receiver(r) => Err(syn::Error::new_spanned(r, format!("{attr} functions cannot take `self`; write a free function and pass the value as an argument"))),
            FnArg::Typed(pt) => {
                let Pat::Ident(pat) = pt.pat.as_ref() else {
                    return Err(syn::Error::new_spanned(&pt.pat, format!("{attr} arguments must be named (`x: T`); destructure inside the function instead")));
                };
                if let Type::Reference(r) = pt.ty.as_ref() {
                    return Err(syn::Error::new_spanned(r, format!("{attr} arguments must be owned values (they are recorded and may run on another thread): take `String` instead of `&str`, `Vec<T>` instead of `&[T]`")));
                }
                Ok(Arg { name: pat.ident.clone(), ty: (*pt.ty).clone() })
            }
        })
        .collect()
}

fn check_signature(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let attr = kind.attr();
    let sig = &func.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "{attr} functions cannot be generic: each call is recorded with concrete argument types; write a non-generic wrapper"
            ),
        ));
    }
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new_spanned(
            c,
            format!("{attr} functions cannot be `const`"),
        ));
    }
    if let Some(u) = &sig.unsafety {
        return Err(syn::Error::new_spanned(
            u,
            format!("{attr} functions cannot be `unsafe`"),
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            v,
            format!("{attr} functions cannot be variadic"),
        ));
    }
    Ok(())
}

/// `Fallible` for a `Result` return type, else `Plain`.
fn outcome_wrapper(output: &ReturnType) -> Tokens {
    let is_result = match output {
        ReturnType::Type(_, ty) => match ty.as_ref() {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
            _ => false,
        },
        ReturnType::Default => false,
    };
    if is_result {
        quote!(::flowgate::__private::Fallible)
    } else {
        quote!(::flowgate::__private::Plain)
    }
}

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

fn expand(kind: Kind, options: Options, mut func: ItemFn) -> syn::Result<Tokens> {
    check_signature(kind, &func)?;
    let args = arguments(kind, &func)?;
    if options.log_prints {
        LogPrints.visit_block_mut(&mut func.block);
    }
    let fn_name = func.sig.ident.clone();
    let body_name = format_ident!("__flowgate_body_{}", fn_name);
    let is_async = func.sig.asyncness.is_some();
    let wrapper = outcome_wrapper(&func.sig.output);
    let names: Vec<&Ident> = args.iter().map(|a| &a.name).collect();
    let types: Vec<&Type> = args.iter().map(|a| &a.ty).collect();
    let name_strs: Vec<String> = names.iter().map(|n| n.to_string()).collect();

    // The body as a private function; the public function keeps the signature and attributes.
    let mut body_fn = func.clone();
    body_fn.sig.ident = body_name.clone();
    body_fn.vis = syn::Visibility::Inherited;
    body_fn.attrs.retain(|a| !a.path().is_ident("doc"));
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;

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
    let call_body = if is_async {
        quote!({
            let mut __flowgate_args = ::core::option::Option::Some((#(#names,)*));
            move |__flowgate_last: bool| {
                let (#(#names,)*) = #take_args;
                async move { #wrapper(#body_name(#(#names),*).await) }
            }
        })
    } else {
        quote!({
            let mut __flowgate_args = ::core::option::Option::Some((#(#names,)*));
            move |__flowgate_last: bool| {
                let (#(#names,)*) = #take_args;
                #wrapper(#body_name(#(#names),*))
            }
        })
    };
    let params = quote!(::flowgate::__private::Params::new() #(.add(#name_strs, &#names))*);
    let retries = options.retries;
    let retry_delay = options.retry_delay;
    let tags = &options.tags;

    match kind {
        Kind::Task => {
            let display = options
                .name
                .map(|n| n.value())
                .unwrap_or_else(|| fn_name.to_string());
            let timeout = match options.timeout {
                Some(t) => quote!(::core::option::Option::Some(#t)),
                None => quote!(::core::option::Option::None),
            };
            let meta = quote!(::flowgate::__private::TaskMeta {
                name: #display,
                key: ::core::concat!(::core::module_path!(), "::", #display),
                retries: #retries,
                retry_delay: #retry_delay,
                tags: &[#(#tags),*],
                timeout: #timeout,
            });
            let public = if is_async {
                quote!(#(#attrs)* #vis #sig {
                    ::flowgate::__private::call_task_async(&#fn_name::META, #params, #call_body).await
                })
            } else {
                quote!(#(#attrs)* #vis #sig {
                    ::flowgate::__private::call_task(&#fn_name::META, #params, #call_body)
                })
            };
            let value_ty = match &func.sig.output {
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) if wrapper.to_string().contains("Fallible") => {
                    quote!(<#ty as ::flowgate::__private::ResultParts>::Ok)
                }
                ReturnType::Type(_, ty) => quote!(#ty),
            };
            let upstream: Vec<Ident> = names
                .iter()
                .map(|n| format_ident!("__flowgate_upstream_{}", n))
                .collect();
            let boxed_body = if is_async {
                quote!()
            } else {
                quote!(::std::boxed::Box::new(#call_body))
            };
            let submit = if is_async {
                quote!()
            } else {
                let map_item = if args.len() == 1 {
                    quote!(#(#types)*)
                } else {
                    quote!((#(#types,)*))
                };
                let map_pat = if args.len() == 1 {
                    quote!(#(#names)*)
                } else {
                    quote!((#(#names,)*))
                };
                quote! {
                    /// Runs the task on the current flow's task runner; returns its future.
                    pub fn submit(#(#names: #types),*) -> ::flowgate::TaskFuture<#value_ty> {
                        ::flowgate::__private::submit_task(&META, move || {
                            let params = #params;
                            ::core::result::Result::Ok((params, #boxed_body))
                        }, ::flowgate::__private::decode::<#value_ty>)
                    }

                    /// Like `submit`, with each argument a value (`Input::value(x)`) or another
                    /// task's future (`Input::from(f)`), which is awaited first and recorded as
                    /// an upstream input.
                    pub fn submit_with(#(#names: ::flowgate::Input<#types>),*) -> ::flowgate::TaskFuture<#value_ty> {
                        ::flowgate::__private::submit_task(&META, move || {
                            #(let (#names, #upstream) = ::flowgate::__private::resolve(#names).map_err(|e| ::flowgate::__private::upstream_failed(&META, #name_strs, e))?;)*
                            let params = #params #(.upstream(#name_strs, #upstream))*;
                            ::core::result::Result::Ok((params, #boxed_body))
                        }, ::flowgate::__private::decode::<#value_ty>)
                    }

                    /// Lets a task worker run this task: `flowgate::serve(&[&WORKER])`.
                    pub static WORKER: ::flowgate::RemoteTask = ::flowgate::RemoteTask { meta: &META, run: __flowgate_remote };

                    fn __flowgate_remote(call: &::flowgate::__private::RemoteCall) -> ::core::result::Result<::flowgate::__private::Value, ::std::string::String> {
                        #(let #names: #types = call.arg(#name_strs)?;)*
                        let params = #params;
                        ::flowgate::__private::run_remote(&META, call, params, #call_body)
                    }

                    /// Submits one run per item.
                    pub fn map(items: impl ::core::iter::IntoIterator<Item = #map_item>) -> ::std::vec::Vec<::flowgate::TaskFuture<#value_ty>> {
                        items.into_iter().map(|#map_pat| submit(#(#names),*)).collect()
                    }
                }
            };
            let module_doc =
                format!("Task `{display}`: its metadata and `submit`, `submit_with`, `map`.");
            Ok(quote! {
                #public

                #[doc(hidden)]
                #[allow(clippy::too_many_arguments)]
                #body_fn

                #[doc = #module_doc]
                #vis mod #fn_name {
                    #![allow(unused_imports, clippy::too_many_arguments)]
                    use super::*;

                    /// What `#[task]` declared.
                    pub static META: ::flowgate::__private::TaskMeta = #meta;

                    #submit
                }
            })
        }
        Kind::Flow => {
            let display = options
                .name
                .map(|n| n.value())
                .unwrap_or_else(|| fn_name.to_string().replace('_', "-"));
            let meta_name = Ident::new(
                &format!("__FLOWGATE_FLOW_{}", fn_name.to_string().to_uppercase()),
                Span::call_site(),
            );
            let log_prints = options.log_prints;
            let runner = options
                .task_runner
                .map(|e| quote!(#e))
                .unwrap_or_else(|| quote!(::flowgate::SequentialTaskRunner));
            let call = if is_async {
                quote!(::flowgate::__private::run_flow_async(&#meta_name, #params, #runner, #call_body).await)
            } else {
                quote!(::flowgate::__private::run_flow(&#meta_name, #params, #runner, #call_body))
            };
            Ok(quote! {
                #(#attrs)* #vis #sig {
                    #call
                }

                #[doc(hidden)]
                #[allow(clippy::too_many_arguments)]
                #body_fn

                #[doc(hidden)]
                #[allow(non_upper_case_globals)]
                static #meta_name: ::flowgate::__private::FlowMeta = ::flowgate::__private::FlowMeta {
                    name: #display,
                    retries: #retries,
                    retry_delay: #retry_delay,
                    tags: &[#(#tags),*],
                    log_prints: #log_prints,
                };
            })
        }
    }
}

/// Implements `flowgate::RunInput` for a struct or enum that also derives `Serialize`,
/// `Deserialize` and `schemars::JsonSchema`. `#[run_input(validate = path::to_fn)]` names a
/// `fn(&Self) -> Result<(), String>` run in the flow after the server's schema check; an `Err`
/// pauses the run again with its message.
#[proc_macro_derive(RunInput, attributes(run_input))]
pub fn derive_run_input(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    run_input(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn run_input(input: syn::DeriveInput) -> syn::Result<Tokens> {
    let mut validator: Option<syn::Path> = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("run_input"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("validate") {
                validator = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown #[run_input] option; expected `validate = path::to_fn`"))
            }
        })?;
    }
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(RunInput)] types cannot be generic",
        ));
    }
    let name = &input.ident;
    let validate = validator.map(|path| {
        quote! {
            fn validate(&self) -> ::core::result::Result<(), ::std::string::String> {
                #path(self)
            }
        }
    });
    Ok(quote! {
        impl ::flowgate::RunInput for #name {
            #validate
        }
    })
}
