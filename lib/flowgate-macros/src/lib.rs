//! `#[flow]` and `#[task]`: turn plain functions into recorded Flowgate flow runs and task runs.
//! The generated code calls into the `flowgate` crate; use these through it.

mod expand;
mod options;
mod run_input;
mod signature;

use proc_macro::TokenStream;
use syn::parse_macro_input;

use options::{Kind, Options};

/// Makes a function a Flowgate task: inside a flow, each call is a recorded task run.
///
/// Options: `name = "..."`, `retries = N`, `retry_delay = SECONDS`, `timeout = SECONDS`,
/// `tags = ["a", "b"]`, `log_prints`. Arguments must be owned (`String`, not `&str`), named
/// (`x: T`), serialisable, and `Clone` when `retries` > 0; the return value is serialisable. A
/// return type implementing `flowgate::Fallible` (any `Result`, under any alias) makes `Err` a
/// recorded, retried failure. Alongside the function, a module of the same name offers `run`
/// (every failure as a `TaskError`), `submit`, `submit_with` and `map`. Put it on a function
/// at module level, not inside another function's body (the module must see its neighbours).
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Kind::Task, attr, item)
}

/// Makes a function a Flowgate flow: each call is a recorded flow run; tasks called inside it
/// are its task runs, and flows called inside it are subflows.
///
/// Options: `name = "..."` (default: the function's name with `-` for `_`), `retries = N`,
/// `retry_delay = SECONDS`, `timeout = SECONDS`, `tags = ["a"]`, `log_prints`, and
/// `task_runner = EXPR` (for example `ThreadPoolTaskRunner::new(3)`; default sequential).
/// Alongside the function, a module of the same name offers `run` (every failure as a
/// `FlowError`). Put it on a function at module level, not inside another function's body.
#[proc_macro_attribute]
pub fn flow(attr: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Kind::Flow, attr, item)
}

fn attribute(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::new(kind);
    let parser = syn::meta::parser(|meta| options.parse(meta));
    parse_macro_input!(attr with parser);
    signature::function(kind, item.into())
        .and_then(|func| expand::expand(kind, options, func))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `flowgate::RunInput` for a struct or enum that also derives `Serialize`,
/// `Deserialize` and `schemars::JsonSchema`. `#[run_input(validate = path::to_fn)]` names a
/// `fn(&Self) -> Result<(), String>` run in the flow after the server's schema check; an `Err`
/// pauses the run again with its message.
#[proc_macro_derive(RunInput, attributes(run_input))]
pub fn derive_run_input(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    run_input::run_input(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
