//! Background services: each is named, owned by a [`Services`] registry, told to stop through a
//! shared [`Shutdown`] signal, and awaited on shutdown so none is left detached.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A cloneable view of the shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Resolves once shutdown has been requested.
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether shutdown has been requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }
}

/// The owner of every background service.
pub struct Services {
    signal: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    health: ServiceHealth,
}

impl Default for Services {
    fn default() -> Self {
        Services {
            signal: watch::channel(false).0,
            tasks: Vec::new(),
            health: ServiceHealth::default(),
        }
    }
}

/// Which services are running, for `/metrics`: a service counts as up until its task ends,
/// returning or panicking.
#[derive(Clone, Default)]
pub struct ServiceHealth(Arc<Mutex<Vec<ServiceFlag>>>);

/// A service's name and whether it is running.
type ServiceFlag = (&'static str, Arc<AtomicBool>);

impl ServiceHealth {
    /// Each service's name and whether it is running, in start order.
    pub fn report(&self) -> Vec<(&'static str, bool)> {
        let services = self.0.lock().expect("services lock");
        services
            .iter()
            .map(|(name, up)| (*name, up.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Marks its service ended when dropped: when the task returns, and when a panic unwinds it.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

impl Services {
    /// A handle on the shutdown signal, for services and connections.
    pub fn shutdown_signal(&self) -> Shutdown {
        Shutdown(self.signal.subscribe())
    }

    /// Starts `service`, which must return soon after its [`Shutdown`] resolves.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, service: F)
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let fut = service(self.shutdown_signal());
        tracing::debug!(service = name, "starting");
        let up = Arc::new(AtomicBool::new(true));
        self.health
            .0
            .lock()
            .expect("services lock")
            .push((name, up.clone()));
        let running = Running(up);
        self.tasks.push((
            name,
            tokio::spawn(async move {
                let _running = running;
                fut.await;
            }),
        ));
    }

    /// A view of which services are running.
    pub fn health(&self) -> ServiceHealth {
        self.health.clone()
    }

    /// Requests shutdown without waiting.
    pub fn request_shutdown(&self) {
        let _ = self.signal.send(true);
    }

    /// Requests shutdown and waits for every service to finish, in start order.
    pub async fn shutdown(self) {
        self.request_shutdown();
        for (name, task) in self.tasks {
            match task.await {
                Ok(()) => tracing::debug!(service = name, "stopped"),
                Err(e) => tracing::error!(service = name, error = %e, "service ended abnormally"),
            }
        }
    }
}
