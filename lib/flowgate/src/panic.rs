//! Panics in flow and task bodies are outcomes the SDK records, so they must not also print the
//! default "thread panicked at …" message (and a backtrace under `RUST_BACKTRACE`) on every
//! attempt. While a body runs under [`catch`] or [`CatchPanic`], a panic hook (installed once,
//! wrapping whatever hook was there) keeps where the panic happened for the record instead of
//! printing it; every other panic goes to the previous hook as before.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

thread_local! {
    /// How many SDK catch regions this thread is inside.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
    /// Where the last caught panic happened, and its backtrace when `RUST_BACKTRACE` asks.
    static LAST: RefCell<Option<(String, Option<String>)>> = const { RefCell::new(None) };
}

/// A caught panic: its payload (to re-raise in a plain call) and a message for the record.
#[doc(hidden)]
pub struct Panic {
    /// What `panic!` was given.
    pub(crate) payload: Box<dyn Any + Send>,
    /// `message (at file:line:col)`.
    pub(crate) message: String,
    /// `file:line:col`, when known.
    location: Option<String>,
    /// The backtrace, when `RUST_BACKTRACE` asked for one.
    pub(crate) backtrace: Option<String>,
}

impl Panic {
    /// A failure of the SDK's own machinery, reported like a panic of the body.
    pub(crate) fn message_only(message: String) -> Panic {
        Panic {
            payload: Box::new(message.clone()),
            message,
            location: None,
            backtrace: None,
        }
    }

    fn new(payload: Box<dyn Any + Send>) -> Panic {
        let (location, backtrace) = LAST.with(|l| l.borrow_mut().take()).unzip();
        let text = message_of(payload.as_ref());
        let message = match &location {
            Some(at) => format!("{text} (at {at})"),
            None => text,
        };
        Panic {
            payload,
            message,
            location,
            backtrace: backtrace.flatten(),
        }
    }

    /// Re-raises the panic in the caller (without running the hook again); an enclosing catch
    /// (the flow around a task) still learns where it happened.
    pub fn resume(self) -> ! {
        if let Some(at) = self.location {
            LAST.with(|l| *l.borrow_mut() = Some((at, None)));
        }
        std::panic::resume_unwind(self.payload)
    }
}

/// The text of a panic payload.
pub(crate) fn message_of(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
}

fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) == 0 {
                return previous(info);
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "an unknown place".to_owned());
            let backtrace = std::backtrace::Backtrace::capture();
            let backtrace = (backtrace.status() == std::backtrace::BacktraceStatus::Captured)
                .then(|| backtrace.to_string());
            LAST.with(|l| *l.borrow_mut() = Some((location, backtrace)));
        }));
    });
}

/// Marks this thread as inside a catch region until dropped.
struct Catching;

impl Catching {
    fn enter() -> Catching {
        install_hook();
        CATCHING.with(|c| c.set(c.get() + 1));
        Catching
    }
}

impl Drop for Catching {
    fn drop(&mut self) {
        CATCHING.with(|c| c.set(c.get() - 1));
    }
}

/// Runs `f`, catching a panic as a [`Panic`] without printing it.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    let _catching = Catching::enter();
    catch_unwind(AssertUnwindSafe(f)).map_err(Panic::new)
}

/// A future whose panics become a [`Panic`], without printing them.
pub(crate) struct CatchPanic<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> CatchPanic<F> {
    pub fn new(inner: F) -> CatchPanic<F> {
        CatchPanic {
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match catch(|| inner.poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}
