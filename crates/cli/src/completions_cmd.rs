//! `optrom completions SHELL`: the shell completion script, generated from the
//! clap definitions (clap_complete).

use clap::CommandFactory;
use clap_complete::Shell;

use crate::output::outln;
use crate::{Cli, EXIT_OK};

pub fn run(shell: Shell) -> u8 {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "optrom", &mut script);
    outln!("{}", String::from_utf8_lossy(&script).trim_end());
    EXIT_OK
}
