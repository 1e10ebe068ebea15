//! What can go wrong when running flows and tasks, as values a caller can match: the body's own
//! error (kept typed), a panic, a timeout, a cancellation, and the infrastructure (the server
//! unreachable, refusing, or steering the run elsewhere).

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The error a flow or task body returned as its `Err`, kept with its type: downcast it to
/// match on your own error type.
///
/// ```
/// # use flowgate::UserError;
/// # fn check(error: &UserError) {
/// if let Some(io) = error.downcast_ref::<std::io::Error>() {
///     eprintln!("I/O failed: {:?}", io.kind());
/// }
/// # }
/// ```
///
/// A task that ran in another process (`DistributedTaskRunner`) keeps only the error's message:
/// its typed value stayed in the worker.
#[derive(Clone)]
pub struct UserError {
    message: String,
    error: Option<Arc<dyn Any + Send + Sync>>,
}

impl UserError {
    /// Keeps `error`, typed, with its message.
    pub fn new<E: fmt::Display + Send + Sync + 'static>(error: E) -> UserError {
        UserError {
            message: error.to_string(),
            error: Some(Arc::new(error)),
        }
    }

    /// An error known only by its message (it was raised in another process).
    pub(crate) fn message_only(message: String) -> UserError {
        UserError {
            message,
            error: None,
        }
    }

    /// The error's message (its `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error as `E`, if it is one.
    pub fn downcast_ref<E: 'static>(&self) -> Option<&E> {
        self.error.as_ref()?.downcast_ref()
    }

    /// Whether the error is an `E`.
    pub fn is<E: 'static>(&self) -> bool {
        self.downcast_ref::<E>().is_some()
    }

    /// The error as a shared `E`, or this error back if it is something else.
    pub fn downcast<E: Send + Sync + 'static>(self) -> Result<Arc<E>, UserError> {
        match self.error.clone().map(|e| e.downcast::<E>()) {
            Some(Ok(e)) => Ok(e),
            _ => Err(self),
        }
    }
}

impl fmt::Debug for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UserError").field(&self.message).finish()
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Why a task run did not produce a value.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The body returned `Err` on its last attempt: your error, typed.
    #[error("task run {task} failed: {error}")]
    Failed {
        /// The task run's name.
        task: String,
        /// The body's error; [`UserError::downcast_ref`] gives back your type.
        error: UserError,
    },
    /// The body panicked on its last attempt.
    #[error("task run {task} panicked: {message}")]
    Panicked {
        /// The task run's name.
        task: String,
        /// The panic's message and where it happened.
        message: String,
    },
    /// The last attempt ran longer than the task's `timeout`. An async task is stopped there; a
    /// synchronous one cannot be interrupted, so its thread runs on and its value is dropped.
    #[error("task run {task} timed out after {} s", after.as_secs_f64())]
    TimedOut {
        /// The task run's name.
        task: String,
        /// The timeout.
        after: Duration,
    },
    /// An argument or the result could not be serialised for the record.
    #[error("task run {task}: {what} cannot be serialised for the record: {message}")]
    Serialization {
        /// The task run's name.
        task: String,
        /// Which parameter (`parameter `x``) or `the result`.
        what: String,
        /// The serialiser's message.
        message: String,
    },
    /// A future given as an argument did not produce a value, so the task did not run.
    #[error("task {task} did not run: its input `{input}` failed: {cause}")]
    Upstream {
        /// The task's name.
        task: String,
        /// The parameter that was a failed future.
        input: String,
        /// Why the upstream task run failed.
        cause: Box<TaskError>,
    },
    /// The task could not be run or its outcome not learnt: the server (or its task queue) was
    /// unreachable or refused.
    #[error("task {task}: {error}")]
    Infrastructure {
        /// The task's name.
        task: String,
        /// What the server (or the transport) said.
        error: ApiError,
    },
    /// The task did not run: its flow run was suspended or cancelled from outside (the API,
    /// `flowgate flow-run suspend` / `cancel`, the UI), and the flow stops at this call. The
    /// flow's call then ends [`FlowError::Suspended`] or [`FlowError::Cancelled`] whatever the
    /// body makes of this error.
    #[error("task {task} did not run: {why}")]
    Stopped {
        /// The task's name.
        task: String,
        /// What happened to the flow run.
        why: String,
    },
}

impl TaskError {
    /// The body's own error as `E`, when the task failed with one.
    pub fn user_error<E: 'static>(&self) -> Option<&E> {
        match self {
            TaskError::Failed { error, .. } => error.downcast_ref(),
            _ => None,
        }
    }
}

/// Why a flow run did not produce a value. `T` is the flow's value type: when only the final
/// report failed, [`FlowError::Unrecorded`] still hands the value over.
///
/// ```no_run
/// use flowgate::{FlowError, flow};
///
/// #[flow]
/// fn nightly_etl() -> Result<u64, std::io::Error> {
///     Ok(1)
/// }
///
/// fn main() {
///     match nightly_etl::run() {
///         Ok(rows) => println!("loaded {rows} rows"),
///         Err(FlowError::Failed(e)) if e.is::<std::io::Error>() => eprintln!("I/O: {e}"),
///         Err(FlowError::Unrecorded { value, cause }) => {
///             eprintln!("loaded {value} rows, but the run was not recorded: {cause}")
///         }
///         Err(FlowError::Infrastructure(e)) => eprintln!("server trouble: {e}"),
///         Err(other) => eprintln!("{other}"),
///     }
/// }
/// ```
#[non_exhaustive]
pub enum FlowError<T = ()> {
    /// The body returned `Err` on its last attempt: your error, typed.
    Failed(UserError),
    /// The body panicked on its last attempt (the message says where).
    Panicked(String),
    /// The last attempt ran longer than the flow's `timeout`.
    TimedOut(Duration),
    /// The run was cancelled (from the UI, the CLI or the API) while it ran.
    Cancelled(String),
    /// The run could not be started or steered: the server is unreachable, refused a request,
    /// or moved the run somewhere the SDK cannot follow.
    Infrastructure(ApiError),
    /// The body finished with `value`, but the run's final state could not be recorded.
    Unrecorded {
        /// What the body returned.
        value: T,
        /// Why it could not be recorded.
        cause: ApiError,
    },
    /// The call could not start: a parameter cannot be recorded, or the task runner is invalid.
    Invalid(String),
    /// The flow suspended itself (`suspend_flow_run`): the run waits, Suspended, to be resumed,
    /// and this process has nothing more to do for it; a worker (or a serving program) runs
    /// it again once resumed.
    Suspended,
}

impl<T> FlowError<T> {
    /// The body's own error as `E`, when the flow failed with one.
    pub fn user_error<E: 'static>(&self) -> Option<&E> {
        match self {
            FlowError::Failed(e) => e.downcast_ref(),
            _ => None,
        }
    }

    /// The same error without the unrecorded value (e.g. to return it from `main` when the
    /// value's type is not `Send + Sync`).
    pub fn without_value(self) -> FlowError {
        self.map_value(|_| ())
    }

    /// Maps an unrecorded value.
    pub fn map_value<U>(self, f: impl FnOnce(T) -> U) -> FlowError<U> {
        match self {
            FlowError::Failed(e) => FlowError::Failed(e),
            FlowError::Panicked(m) => FlowError::Panicked(m),
            FlowError::TimedOut(d) => FlowError::TimedOut(d),
            FlowError::Cancelled(m) => FlowError::Cancelled(m),
            FlowError::Infrastructure(e) => FlowError::Infrastructure(e),
            FlowError::Unrecorded { value, cause } => FlowError::Unrecorded {
                value: f(value),
                cause,
            },
            FlowError::Invalid(m) => FlowError::Invalid(m),
            FlowError::Suspended => FlowError::Suspended,
        }
    }
}

impl<T> fmt::Display for FlowError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::Failed(e) => write!(f, "the flow failed: {e}"),
            FlowError::Panicked(m) => write!(f, "the flow panicked: {m}"),
            FlowError::TimedOut(d) => write!(f, "the flow timed out after {} s", d.as_secs_f64()),
            FlowError::Cancelled(m) => write!(f, "the flow run was cancelled: {m}"),
            FlowError::Infrastructure(e) => e.fmt(f),
            FlowError::Unrecorded { cause, .. } => write!(
                f,
                "the flow finished, but its final state could not be recorded: {cause}"
            ),
            FlowError::Invalid(m) => write!(f, "the flow could not start: {m}"),
            FlowError::Suspended => f.write_str(
                "the flow run was suspended: it runs again when resumed, and this process is done with it",
            ),
        }
    }
}

impl<T> fmt::Debug for FlowError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            FlowError::Panicked(m) => f.debug_tuple("Panicked").field(m).finish(),
            FlowError::TimedOut(d) => f.debug_tuple("TimedOut").field(d).finish(),
            FlowError::Cancelled(m) => f.debug_tuple("Cancelled").field(m).finish(),
            FlowError::Infrastructure(e) => f.debug_tuple("Infrastructure").field(e).finish(),
            FlowError::Unrecorded { cause, .. } => f
                .debug_struct("Unrecorded")
                .field("value", &std::any::type_name::<T>())
                .field("cause", cause)
                .finish(),
            FlowError::Invalid(m) => f.debug_tuple("Invalid").field(m).finish(),
            FlowError::Suspended => f.write_str("Suspended"),
        }
    }
}

impl<T> std::error::Error for FlowError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FlowError::Failed(e) => Some(e),
            FlowError::Infrastructure(e) | FlowError::Unrecorded { cause: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// Why the SDK could not use the Flowgate server.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No answer after bounded retries.
    #[error(
        "cannot reach the Flowgate server at {url} ({cause}); is it running? Start one with `flowgate server start`, or unset FLOWGATE_API_URL to use an embedded server"
    )]
    Unreachable {
        /// The API URL.
        url: String,
        /// The last transport error.
        cause: String,
    },
    /// The server answered a request with an error status.
    #[error("the Flowgate server refused {what}: HTTP {status}: {detail}")]
    Refused {
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// The server's `detail`.
        detail: String,
    },
    /// The server's orchestration did not accept a proposed state (`REJECT` or `ABORT`): the
    /// run stays in (or moved to) `state`.
    #[error("the Flowgate server did not accept {what}: the run is {state}: {reason}")]
    Rejected {
        /// The proposal.
        what: String,
        /// The run's state after the answer.
        state: String,
        /// The server's reason.
        reason: String,
    },
    /// The server's answer could not be read.
    #[error("the Flowgate server's answer to {what} could not be read: {detail}")]
    Malformed {
        /// The request.
        what: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// The embedded server could not start.
    #[error("the embedded Flowgate server could not start: {0}")]
    Embedded(String),
    /// This thread is not served by any of the test harnesses that are active, so the SDK
    /// refuses to guess (and never falls back to the default database during tests).
    #[error("{0}")]
    NotServed(String),
}

/// Recorded (e.g. as part of a flow's value) as `{"kind": "failed", "message": "…"}`.
impl serde::Serialize for TaskError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let kind = match self {
            TaskError::Failed { .. } => "failed",
            TaskError::Panicked { .. } => "panicked",
            TaskError::TimedOut { .. } => "timed_out",
            TaskError::Serialization { .. } => "serialization",
            TaskError::Upstream { .. } => "upstream",
            TaskError::Infrastructure { .. } => "infrastructure",
            TaskError::Stopped { .. } => "stopped",
        };
        let mut s = serializer.serialize_struct("TaskError", 2)?;
        s.serialize_field("kind", kind)?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}
