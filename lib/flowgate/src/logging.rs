//! Run logs: what `flowgate::logger()` and the SDK itself log goes to the run's logs on the
//! server, and to the console. The console line is a `tracing` event (target `flowgate`) when
//! the program has a `tracing` subscriber; otherwise the SDK prints it Prefect-style to stderr
//! with `eprintln!` (so a test runner's output capture holds it), filtered by
//! `FLOWGATE_LOGGING_LEVEL`: DEBUG, INFO (default), WARNING, ERROR, or OFF.

use std::fmt::Display;
use std::sync::OnceLock;

use flowgate_wire::Micros;
use flowgate_wire::events::LogFrame;
use flowgate_wire::logs::LogCreate;
use uuid::Uuid;

use crate::context::{self, Frame};

/// Python-style levels.
const DEBUG: i64 = 10;
const INFO: i64 = 20;
const WARNING: i64 = 30;
const ERROR: i64 = 40;

fn threshold() -> i64 {
    static LEVEL: OnceLock<i64> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        match std::env::var("FLOWGATE_LOGGING_LEVEL")
            .unwrap_or_default()
            .to_uppercase()
            .as_str()
        {
            "DEBUG" => DEBUG,
            "WARNING" | "WARN" => WARNING,
            "ERROR" => ERROR,
            "OFF" => i64::MAX,
            _ => INFO,
        }
    })
}

fn level_name(level: i64) -> &'static str {
    match level {
        ..=10 => "DEBUG",
        11..=20 => "INFO",
        21..=30 => "WARNING",
        _ => "ERROR",
    }
}

/// Whether the program installed a `tracing` subscriber for this thread (or globally).
fn tracing_installed() -> bool {
    tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>())
}

/// Writes one line to the console: a `tracing` event, or a Prefect-style line on stderr.
fn console(level: i64, who: Option<&str>, message: &str) {
    if tracing_installed() {
        let run = who.unwrap_or("");
        match level {
            ..=10 => tracing::debug!(target: "flowgate", run, "{message}"),
            11..=20 => tracing::info!(target: "flowgate", run, "{message}"),
            21..=30 => tracing::warn!(target: "flowgate", run, "{message}"),
            _ => tracing::error!(target: "flowgate", run, "{message}"),
        }
        return;
    }
    if level < threshold() {
        return;
    }
    let local = jiff::Timestamp::now().strftime("%H:%M:%S%.3f");
    match who {
        Some(who) => eprintln!("{local} | {:<7} | {who} - {message}", level_name(level)),
        None => eprintln!("{local} | {:<7} | {message}", level_name(level)),
    }
}

/// Sends one line to the frame's run logs, and (with `echo`) to the console.
fn emit(frame: &Frame, level: i64, message: &str, echo: bool) {
    let (logger, who) = match &frame.task {
        Some(t) => ("prefect.task_runs", format!("Task run '{}'", t.name)),
        None => (
            "prefect.flow_runs",
            format!("Flow run '{}'", frame.flow.name),
        ),
    };
    let line = LogFrame::new(LogCreate {
        // Its own id: a line resent after a reconnect is stored once.
        id: Some(Uuid::now_v7()),
        name: logger.to_owned(),
        level,
        message: message.to_owned(),
        timestamp: Micros::from_timestamp(jiff::Timestamp::now()),
        flow_run_id: Some(frame.flow.id),
        task_run_id: frame.task.as_ref().map(|t| t.id),
    });
    if let Ok(text) = serde_json::to_string(&line) {
        frame.flow.engine.events.send(text);
    }
    if echo {
        console(level, Some(&who), message);
    }
}

/// A logger bound to the run it was taken in.
pub struct RunLogger {
    frame: Option<Frame>,
}

/// The logger of the current flow run or task run. Outside a flow it writes to stderr only.
pub fn logger() -> RunLogger {
    RunLogger {
        frame: context::current(),
    }
}

/// The logger of `frame`'s run.
pub(crate) fn for_frame(frame: &Frame) -> RunLogger {
    RunLogger {
        frame: Some(frame.clone()),
    }
}

impl RunLogger {
    fn log(&self, level: i64, message: impl Display) {
        let message = message.to_string();
        match &self.frame {
            Some(frame) => emit(frame, level, &message, true),
            None => console(level, None, &message),
        }
    }

    /// Logs at DEBUG.
    pub fn debug(&self, message: impl Display) {
        self.log(DEBUG, message);
    }

    /// Logs at INFO.
    pub fn info(&self, message: impl Display) {
        self.log(INFO, message);
    }

    /// Logs at WARNING.
    pub fn warning(&self, message: impl Display) {
        self.log(WARNING, message);
    }

    /// Logs at ERROR.
    pub fn error(&self, message: impl Display) {
        self.log(ERROR, message);
    }
}

/// `println!` inside a `log_prints` flow or task: printed once, and sent to the run's logs.
#[doc(hidden)]
pub fn print_and_log(args: std::fmt::Arguments<'_>) {
    let line = args.to_string();
    println!("{line}");
    if let Some(frame) = context::current() {
        emit(&frame, INFO, &line, false);
    }
}
