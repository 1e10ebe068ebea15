//! Running a future to completion on the calling thread. Unlike `futures::executor::block_on`
//! it may be nested (a synchronous flow's driver runs the body, which may call a subflow or
//! pause, which block again), because each call waits on its own wake flag, not on the
//! thread's single park token.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Polls `fut` on this thread until it is ready, parking in between.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let signal = Arc::new(ThreadWaker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // A nested block_on may take this thread's unpark token; the flag is not lost.
        while !signal.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_calls_wake_each_other() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let outer = std::thread::spawn(move || {
            block_on(async move {
                let inner = block_on(async { 1 });
                inner + rx.await.expect("sent")
            })
        });
        tx.send(41).expect("the outer call waits");
        assert_eq!(outer.join().expect("no panic"), 42);
    }
}
