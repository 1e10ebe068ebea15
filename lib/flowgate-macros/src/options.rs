//! The options of `#[task(...)]` and `#[flow(...)]`, read from the attribute.

use syn::{Expr, Ident, LitStr};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Task,
    Flow,
}

impl Kind {
    /// How the attribute is written, for messages.
    pub fn attr(self) -> &'static str {
        match self {
            Kind::Task => "#[task]",
            Kind::Flow => "#[flow]",
        }
    }
}

/// What the attribute says.
pub struct Options {
    pub kind: Kind,
    pub name: Option<LitStr>,
    pub retries: u32,
    pub retry_delay: f64,
    pub timeout: Option<f64>,
    pub tags: Vec<LitStr>,
    pub log_prints: bool,
    pub task_runner: Option<Expr>,
}

impl Options {
    pub fn new(kind: Kind) -> Options {
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

    /// Reads one `key = value` (or bare `key`) of the attribute.
    pub fn parse(&mut self, meta: syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "name" => self.name = Some(meta.value()?.parse()?),
            "retries" => self.retries = meta.value()?.parse::<syn::LitInt>()?.base10_parse()?,
            "retry_delay" => self.retry_delay = seconds(&meta.value()?.parse()?)?,
            "timeout" => self.timeout = Some(seconds(&meta.value()?.parse()?)?),
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
                let runner: Expr = meta.value()?.parse()?;
                check_runner(&runner)?;
                self.task_runner = Some(runner);
            }
            _ => {
                let expected = match self.kind {
                    Kind::Task => "name, retries, retry_delay, timeout, tags, log_prints",
                    Kind::Flow => {
                        "name, retries, retry_delay, timeout, tags, log_prints, task_runner"
                    }
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

/// Refuses what is known to fail on every call: a pool of zero workers.
fn check_runner(runner: &Expr) -> syn::Result<()> {
    let Expr::Call(call) = runner else {
        return Ok(());
    };
    let Expr::Path(func) = call.func.as_ref() else {
        return Ok(());
    };
    let segments: Vec<String> = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let zero = matches!(
        call.args.first(),
        Some(Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. })) if n.base10_digits() == "0"
    );
    if zero && segments.ends_with(&["ThreadPoolTaskRunner".to_owned(), "new".to_owned()]) {
        return Err(syn::Error::new_spanned(
            runner,
            "a thread pool needs at least one worker thread: write `ThreadPoolTaskRunner::new(1)` or more",
        ));
    }
    Ok(())
}
