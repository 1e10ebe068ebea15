//! The slot engine: one task per server that turns slot requests into group-committed store
//! batches and keeps the line of requests waiting for slots.
//!
//! Requests arrive on a channel; whatever has arrived while the previous batch was being
//! written goes into the next one (group commit, as event ingest does), in this order:
//! releases, renewals and other changes first, then waiting requests in the order they came,
//! then new requests. The core's [`Book`](flowgate_core::concurrency::book::Book) never lets a
//! later acquisition overtake an earlier one on a shared limit, so the line is first come,
//! first served. A request that cannot be served waits in the engine until slots are freed on
//! one of its limits (by a release in any batch, the lease reaper, or a settings change), until
//! the decay makes room (it is woken at exactly that instant), or until its hold ends; only
//! waiters whose limits were freed are tried again, never the whole line.
//!
//! A release and the grants it makes possible share one transaction: the engine remembers the
//! limits of the leases it granted, so a batch that releases a lease also tries the waiters on
//! its limits, after the release (a lease granted by another replica, or before a restart, is
//! not known here: its waiters get their turn in the batch right after).
//!
//! A waiter whose client went away (its HTTP request was dropped) leaves the line; if slots
//! were granted to it at that very moment, they are given back at once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use flowgate_core::Micros;
use flowgate_core::concurrency::Mode;
use flowgate_core::concurrency::WaitQueue;
use flowgate_core::concurrency::acquire::Blocked;
use flowgate_core::concurrency::book::{SlotOp, SlotOutcome};
use flowgate_store::{DynStore, StoreError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use crate::clock::Clock;
use crate::metrics::{Counter, Metrics};
use crate::services::Shutdown;

/// Most jobs taken into one batch.
const MAX_BATCH: usize = 512;

/// A waiter is tried again at least this often, so that slots freed by another server
/// replica (which cannot wake this one directly) are noticed.
const RECHECK: Duration = Duration::from_secs(1);

/// After a failed batch, waiters are tried again this much later.
const AFTER_FAILURE: Duration = Duration::from_millis(250);

/// Fewest remembered leases at which those that expired are forgotten.
const FORGET_AT: usize = 1024;

/// What an acquisition came to.
#[derive(Debug)]
pub enum Acquired {
    /// Granted, or refused as impossible: the store's answer.
    Decided(SlotOutcome),
    /// Still no room when the hold ended.
    Waited {
        /// What stood in the way at the last try.
        blocked: Blocked,
        /// Slots asked for by requests waiting before this one on its limits.
        queued_ahead: u32,
    },
}

/// A handle on the engine, cheap to clone.
#[derive(Clone)]
pub struct SlotEngine {
    jobs: mpsc::UnboundedSender<Job>,
}

enum Job {
    Acquire(Pending),
    Op {
        op: SlotOp,
        reply: oneshot::Sender<Result<SlotOutcome, StoreError>>,
    },
    Wake(Vec<String>),
    Waiting {
        name: String,
        reply: oneshot::Sender<u32>,
    },
}

struct Pending {
    op: SlotOp,
    hold_until: Instant,
    reply: oneshot::Sender<Result<Acquired, StoreError>>,
}

struct Waiter {
    pending: Pending,
    retry_at: Instant,
    blocked: Blocked,
}

impl SlotEngine {
    /// The engine and its writer loop (run it as a named service).
    pub fn new(
        store: DynStore,
        clock: Clock,
        metrics: &Metrics,
        shutdown: Shutdown,
    ) -> (SlotEngine, impl Future<Output = ()> + Send + 'static) {
        let (jobs, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            store,
            clock,
            granted: metrics.counter(
                "flowgate_concurrency_slots_granted_total",
                "Concurrency slots granted to acquisitions that were waiting for them or took them at once",
                &[],
            ),
            queue: WaitQueue::default(),
            waiting: HashMap::new(),
            next_id: 0,
            due: HashSet::new(),
            orphans: Vec::new(),
            granted_leases: HashMap::new(),
            forget_at: FORGET_AT,
        };
        (SlotEngine { jobs }, writer.run(rx, shutdown))
    }

    /// Takes slots (`op` is a [`SlotOp::Acquire`]), waiting for them at most `hold`.
    pub async fn acquire(&self, op: SlotOp, hold: Duration) -> Result<Acquired, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            op,
            hold_until: Instant::now() + hold,
            reply,
        };
        self.send(Job::Acquire(pending))?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs one operation that does not wait (release, renew, decrement, deny).
    pub async fn run(&self, op: SlotOp) -> Result<SlotOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Op { op, reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Tells the engine that slots of these limits were freed elsewhere (the lease reaper, a
    /// settings change): their waiters get a turn.
    pub fn wake(&self, names: Vec<String>) {
        if !names.is_empty() {
            let _ = self.jobs.send(Job::Wake(names));
        }
    }

    /// How many requests are waiting in line for slots of the limit `name`.
    pub async fn waiting_on(&self, name: &str) -> Result<u32, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Waiting {
            name: name.to_owned(),
            reply,
        })?;
        answer.await.map_err(|_| stopped())
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the server is shutting down".into())
}

fn names_of(op: &SlotOp) -> &[String] {
    match op {
        SlotOp::Acquire { names, .. }
        | SlotOp::Decrement { names, .. }
        | SlotOp::ReleaseHeldBy { names, .. }
        | SlotOp::Deny { names, .. } => names,
        SlotOp::Release { .. } | SlotOp::Renew { .. } => &[],
    }
}

fn slots_of(op: &SlotOp) -> u32 {
    match op {
        SlotOp::Acquire { slots, .. } => *slots,
        _ => 0,
    }
}

/// A copy of a store error for every request of a failed batch (the store's error is not
/// `Clone`; its text is for the log, and every variant keeps its meaning).
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound { kind, id } => StoreError::NotFound {
            kind,
            id: id.clone(),
        },
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Database(m) => StoreError::Database(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
    }
}

struct Writer {
    store: DynStore,
    /// Stamps each batch of slot operations.
    clock: Clock,
    queue: WaitQueue<u64, String>,
    waiting: HashMap<u64, Waiter>,
    next_id: u64,
    /// Limits freed since their waiters were last tried.
    due: HashSet<String>,
    /// Grants whose requester had gone: given back in the next batch.
    orphans: Vec<SlotOp>,
    /// Slots handed to requesters that received them.
    granted: Counter,
    /// The limits of the leases this engine granted and when each expires: a release of one
    /// tries their waiters in the same batch. Leases that expire are forgotten now and then.
    granted_leases: HashMap<Uuid, (Vec<String>, Micros)>,
    /// Remembered leases at which the expired ones are next forgotten.
    forget_at: usize,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>, mut shutdown: Shutdown) {
        loop {
            let timer = self
                .waiting
                .values()
                .map(|w| w.retry_at.min(w.pending.hold_until))
                .min();
            let first = tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => Some(job),
                    None => break,
                },
                () = sleep_until(timer) => None,
                () = shutdown.requested() => break,
            };
            let mut ops = Vec::new();
            let mut arrivals = Vec::new();
            let mut jobs: Vec<Job> = first.into_iter().collect();
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            for job in jobs {
                match job {
                    Job::Acquire(p) => arrivals.push(p),
                    Job::Op { op, reply } => ops.push((op, reply)),
                    Job::Wake(names) => self.due.extend(names),
                    Job::Waiting { name, reply } => {
                        let n = self
                            .queue
                            .iter()
                            .filter(|(_, ls)| ls.contains(&name))
                            .count();
                        let _ = reply.send(u32::try_from(n).unwrap_or(u32::MAX));
                    }
                }
            }
            self.cycle(ops, arrivals).await;
            // Slots freed by that batch go to their waiters at once.
            while !self.due.is_empty() || !self.orphans.is_empty() {
                self.cycle(Vec::new(), Vec::new()).await;
            }
        }
        // Shutting down: every waiter is told to come back (to this server once restarted, or
        // to another replica).
        for (_, w) in self.waiting.drain() {
            let _ = w.pending.reply.send(Ok(Acquired::Waited {
                blocked: w.blocked,
                queued_ahead: 0,
            }));
        }
    }

    /// One batch: expire and drop waiters, try the waiters whose limits were freed and the new
    /// arrivals, apply the other operations, and answer.
    async fn cycle(
        &mut self,
        ops: Vec<(SlotOp, oneshot::Sender<Result<SlotOutcome, StoreError>>)>,
        arrivals: Vec<Pending>,
    ) {
        let at = Instant::now();
        self.expire(at);
        let orphans = std::mem::take(&mut self.orphans);
        let mut trying: HashSet<String> = std::mem::take(&mut self.due);
        // Waiters on limits this batch frees are tried after the frees, in the same batch.
        for op in orphans.iter().chain(ops.iter().map(|(op, _)| op)) {
            trying.extend(self.frees(op).iter().cloned());
        }
        for p in &arrivals {
            trying.extend(names_of(&p.op).iter().cloned());
        }
        for w in self.waiting.values().filter(|w| w.retry_at <= at) {
            trying.extend(names_of(&w.pending.op).iter().cloned());
        }
        let queued: Vec<u64> = self
            .queue
            .iter()
            .filter(|(_, names)| names.iter().any(|n| trying.contains(n)))
            .map(|(id, _)| id)
            .collect();

        let mut batch: Vec<SlotOp> = orphans.clone();
        batch.extend(ops.iter().map(|(op, _)| op.clone()));
        batch.extend(
            queued
                .iter()
                .filter_map(|id| self.waiting.get(id))
                .map(|w| w.pending.op.clone()),
        );
        batch.extend(arrivals.iter().map(|p| p.op.clone()));
        if batch.is_empty() {
            return;
        }
        let result = self.store.apply_slot_ops(&batch, self.clock.now()).await;
        let (outcomes, freed) = match result {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(error = %e, ops = batch.len(), "a batch of slot operations failed");
                self.orphans = orphans;
                for (_, reply) in ops {
                    let _ = reply.send(Err(copy_error(&e)));
                }
                for p in arrivals {
                    let _ = p.reply.send(Err(copy_error(&e)));
                }
                for id in &queued {
                    if let Some(w) = self.waiting.get_mut(id) {
                        w.retry_at = at + AFTER_FAILURE;
                    }
                }
                return;
            }
        };
        // Every waiter on a limit in `trying` was tried after this batch's frees: only the
        // other freed limits still owe their waiters a turn.
        self.due
            .extend(freed.into_iter().filter(|n| !trying.contains(n)));
        for op in &orphans {
            self.remember(op, None);
        }
        let mut outcomes = outcomes.into_iter().skip(orphans.len());
        for ((op, reply), outcome) in ops.into_iter().zip(outcomes.by_ref()) {
            self.remember(&op, Some(&outcome));
            let _ = reply.send(Ok(outcome));
        }
        for (id, outcome) in queued.iter().zip(outcomes.by_ref()) {
            match outcome {
                SlotOutcome::Busy(blocked) => {
                    if let Some(w) = self.waiting.get_mut(id) {
                        w.blocked = blocked;
                        w.retry_at = retry_at(at, &blocked);
                    }
                }
                decided => {
                    self.queue.remove(*id);
                    if let Some(w) = self.waiting.remove(id) {
                        self.answer(w.pending, decided);
                    }
                }
            }
        }
        for (p, outcome) in arrivals.into_iter().zip(outcomes) {
            match outcome {
                SlotOutcome::Busy(blocked) => self.wait(p, blocked, at),
                decided => self.answer(p, decided),
            }
        }
    }

    /// Puts a busy arrival in line, unless its hold cannot outlast the wait.
    fn wait(&mut self, p: Pending, blocked: Blocked, at: Instant) {
        let hopeless =
            p.hold_until <= at || blocked.drains_in.is_some_and(|d| at + d > p.hold_until);
        if hopeless {
            let queued_ahead = self.slots_ahead(names_of(&p.op), None);
            let _ = p.reply.send(Ok(Acquired::Waited {
                blocked,
                queued_ahead,
            }));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.queue.push(id, names_of(&p.op).to_vec());
        self.waiting.insert(
            id,
            Waiter {
                retry_at: retry_at(at, &blocked),
                pending: p,
                blocked,
            },
        );
    }

    /// The limits whose slots `op` gives back, as far as this engine knows.
    fn frees<'a>(&'a self, op: &'a SlotOp) -> &'a [String] {
        match op {
            SlotOp::Release { lease } => self
                .granted_leases
                .get(lease)
                .map_or(&[], |(names, _)| names.as_slice()),
            SlotOp::Decrement { names, .. } | SlotOp::ReleaseHeldBy { names, .. } => names,
            SlotOp::Acquire { .. } | SlotOp::Renew { .. } | SlotOp::Deny { .. } => &[],
        }
    }

    /// Keeps the remembered leases up to date after `op` came to `outcome`.
    fn remember(&mut self, op: &SlotOp, outcome: Option<&SlotOutcome>) {
        match (op, outcome) {
            (SlotOp::Release { lease }, _) => {
                self.granted_leases.remove(lease);
            }
            (SlotOp::Renew { lease, .. }, Some(SlotOutcome::Renewed { expires_at })) => {
                if let Some(known) = self.granted_leases.get_mut(lease) {
                    known.1 = *expires_at;
                }
            }
            (SlotOp::Renew { lease, .. }, Some(SlotOutcome::LeaseGone)) => {
                self.granted_leases.remove(lease);
            }
            (
                SlotOp::Acquire { names, .. },
                Some(SlotOutcome::Granted {
                    lease: Some(lease), ..
                }),
            ) => {
                if self.granted_leases.len() >= self.forget_at {
                    let now = self.clock.now();
                    self.granted_leases.retain(|_, (_, expires)| *expires > now);
                    self.forget_at = FORGET_AT.max(2 * self.granted_leases.len());
                }
                self.granted_leases
                    .insert(lease.id, (names.clone(), lease.expires_at));
            }
            _ => {}
        }
    }

    /// Sends a decision; a grant nobody is left to receive is given back.
    fn answer(&mut self, p: Pending, outcome: SlotOutcome) {
        self.remember(&p.op, Some(&outcome));
        let mode = match &p.op {
            SlotOp::Acquire { mode, .. } => *mode,
            _ => Mode::Concurrency,
        };
        let names = names_of(&p.op).to_vec();
        let slots = slots_of(&p.op);
        let granted = matches!(outcome, SlotOutcome::Granted { .. });
        let sent = p.reply.send(Ok(Acquired::Decided(outcome)));
        if granted && sent.is_ok() {
            self.granted.add(u64::from(slots));
        }
        if let Err(Ok(Acquired::Decided(SlotOutcome::Granted { lease, limits }))) = sent {
            match (lease, mode) {
                (Some(lease), _) => self.orphans.push(SlotOp::Release { lease: lease.id }),
                (None, Mode::Concurrency) if !limits.is_empty() => {
                    self.orphans.push(SlotOp::Decrement {
                        names,
                        slots,
                        occupancy_seconds: None,
                    });
                }
                // Rate-limit slots drain by themselves.
                (None, _) => {}
            }
        }
    }

    /// Answers waiters whose hold ended and drops those whose client left; their places in
    /// line open up for the waiters behind them.
    fn expire(&mut self, at: Instant) {
        let gone: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.pending.reply.is_closed() || w.pending.hold_until <= at)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            let queued_ahead = self
                .waiting
                .get(&id)
                .map_or(0, |w| self.slots_ahead(names_of(&w.pending.op), Some(id)));
            self.queue.remove(id);
            let Some(w) = self.waiting.remove(&id) else {
                continue;
            };
            self.due.extend(names_of(&w.pending.op).iter().cloned());
            let _ = w.pending.reply.send(Ok(Acquired::Waited {
                blocked: w.blocked,
                queued_ahead,
            }));
        }
    }

    /// Slots asked for by waiters before `before` (or all, for a newcomer) sharing a limit.
    fn slots_ahead(&self, names: &[String], before: Option<u64>) -> u32 {
        self.queue
            .iter()
            .take_while(|(id, _)| Some(*id) != before)
            .filter(|(_, ls)| ls.iter().any(|l| names.contains(l)))
            .filter_map(|(id, _)| self.waiting.get(&id))
            .map(|w| slots_of(&w.pending.op))
            .fold(0u32, u32::saturating_add)
    }
}

/// When a busy waiter is tried again without being woken: when the decay makes room, or after
/// [`RECHECK`].
fn retry_at(at: Instant, blocked: &Blocked) -> Instant {
    at + blocked.drains_in.map_or(RECHECK, |d| d.min(RECHECK))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
