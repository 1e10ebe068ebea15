//! What can go wrong when running flows and tasks.

/// Why a task run did not produce a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskError {
    /// The task returned an error (after its retries).
    #[error("task {task} failed: {message}")]
    Failed {
        /// The task run's name.
        task: String,
        /// The error's message.
        message: String,
    },
    /// The task panicked (after its retries).
    #[error("task {task} panicked: {message}")]
    Panicked {
        /// The task run's name.
        task: String,
        /// The panic's message.
        message: String,
    },
    /// The task ran longer than its `timeout`.
    #[error("task {task} exceeded its timeout of {seconds} s")]
    TimedOut {
        /// The task run's name.
        task: String,
        /// The timeout.
        seconds: f64,
    },
    /// An argument or result could not be serialised for the record.
    #[error("task {task}: {what} cannot be serialised for the record: {message}")]
    Serialization {
        /// The task run's name.
        task: String,
        /// Which parameter (`parameter x`) or `the result`.
        what: String,
        /// The serialiser's message.
        message: String,
    },
    /// A future given as an argument did not complete.
    #[error("task {task} did not run: its input {input} failed ({cause})")]
    Upstream {
        /// The task's name.
        task: String,
        /// The parameter that was a failed future.
        input: String,
        /// Why the upstream task failed.
        cause: String,
    },
}

/// Why the SDK could not talk to the Flowgate server.
#[derive(Debug, thiserror::Error)]
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
    /// The server refused a request.
    #[error("the Flowgate server refused {what}: HTTP {status}: {detail}")]
    Refused {
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// The server's `detail`.
        detail: String,
    },
    /// The embedded server could not start.
    #[error("the embedded Flowgate server could not start: {0}")]
    Embedded(String),
}
