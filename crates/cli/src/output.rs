//! Shared output helpers. Everything the CLI prints to standard output goes
//! through [`outln!`]: when the reader closes the pipe (`optrom check … | head -1`)
//! the rest of the output is dropped and the command ends with its usual status,
//! instead of panicking the way `println!` does.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use optrom::inspect::{NotARom, RomInfo};
use optrom::outcome::{Classify, Failure};

use crate::{EXIT_FINDINGS, EXIT_UNUSABLE};

/// The one mapping from a failure to the exit status, for every command.
pub fn exit_status(failure: Failure) -> u8 {
    match failure {
        Failure::Findings => EXIT_FINDINGS,
        Failure::Unusable => EXIT_UNUSABLE,
    }
}

/// Report an error about `path` on one line; the exit status it calls for.
pub fn fail(path: &Path, e: &(impl std::fmt::Display + Classify)) -> u8 {
    eprintln!("optrom: {}: {e}", path.display());
    exit_status(e.failure())
}

/// Report an error that names its file itself ([`optrom::fsio::IoError`]).
pub fn fail_io(e: &optrom::fsio::IoError) -> u8 {
    eprintln!("optrom: {e}");
    exit_status(e.failure())
}

/// Read an input file, or report why not and give the exit status.
pub fn read(path: &Path) -> Result<Vec<u8>, u8> {
    optrom::fsio::read(path).map_err(|e| fail_io(&e))
}

/// Read and inspect one file, or print the one-line reason it is unusable.
#[allow(dead_code)] // kept for the other subcommands' use
pub fn load(path: &Path) -> Option<RomInfo> {
    load_with_bytes(path).map(|(info, _)| info)
}

/// As [`load`], keeping the file's bytes.
pub fn load_with_bytes(path: &Path) -> Option<(RomInfo, Vec<u8>)> {
    let bytes = match optrom::fsio::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("optrom: {e}");
            return None;
        }
    };
    match optrom::inspect(&bytes) {
        Ok(info) => Some((info, bytes)),
        Err(NotARom { offset, field, message }) => {
            eprintln!("optrom: {}: offset {offset:#x}, field {field}: {message}", path.display());
            None
        }
    }
}

/// A clap parser for a library type with a fixed set of names: the names show
/// in `--help` and in shell completions, and [`std::str::FromStr`] makes the value.
pub fn one_of<T>(names: &'static [&'static str]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(names).try_map(|name| name.parse::<T>())
}

/// Print JSON to stdout.
pub fn print_json(value: &serde_json::Value) {
    outln!("{}", serde_json::to_string_pretty(value).expect("JSON values always serialize"));
}

/// Standard output is gone: nothing more is written to it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Writing standard output failed for another reason than a closed pipe (a full disk).
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Write one line to standard output. A closed pipe silently ends all further
/// output; any other write error is reported once on stderr and makes
/// [`finish_stdout`] fail.
pub fn write_line(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        stdout_error(&e);
    }
}

fn stdout_error(e: &std::io::Error) {
    STDOUT_CLOSED.store(true, Ordering::Relaxed);
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!("optrom: standard output: {e}");
        STDOUT_FAILED.store(true, Ordering::Relaxed);
    }
}

/// Flush standard output at exit. `false` when some output could not be
/// written for another reason than the reader going away.
pub fn finish_stdout() -> bool {
    if !STDOUT_CLOSED.load(Ordering::Relaxed)
        && let Err(e) = std::io::stdout().lock().flush()
    {
        stdout_error(&e);
    }
    !STDOUT_FAILED.load(Ordering::Relaxed)
}

/// `println!` that survives a closed pipe: see [`write_line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
