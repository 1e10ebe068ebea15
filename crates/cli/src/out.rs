//! Standard output for commands. `println!` panics when the reader has gone (`flowgate … |
//! head`); a command here stops quietly instead, as `ls` or `grep` do, and a worker, whose runs
//! must not die with its terminal, goes on without printing.

use std::fmt::Arguments;
use std::io::{ErrorKind, Write};

/// Prints formatted text on standard output; a closed pipe ends the command (exit 0).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::text(format_args!($($arg)*))
    };
}

/// [`out!`] and a newline.
macro_rules! outln {
    () => {
        $crate::out::text(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::text(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a formatted line on standard output for a long-running worker: a closed pipe or any
/// other failure to write is ignored, so the worker and its runs carry on.
macro_rules! outln_or_drop {
    ($($arg:tt)*) => {
        $crate::out::text_or_drop(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln, outln_or_drop};

/// Writes `args`; exits 0 when the reader has gone, 1 (with a message on standard error) when
/// writing fails otherwise (a full disk).
pub fn text(args: Arguments<'_>) {
    if let Err(e) = write(args) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output failed: {e}");
        std::process::exit(1);
    }
}

/// Writes `args`, ignoring failure.
pub fn text_or_drop(args: Arguments<'_>) {
    let _ = write(args);
}

fn write(args: Arguments<'_>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)?;
    out.flush()
}
