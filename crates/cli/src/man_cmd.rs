//! `optrom man`: the manual page `optrom.1`, generated from the clap
//! definitions (clap_mangen) — the overview, then one section per subcommand
//! with its synopsis, description and options.

use std::path::Path;

use clap::CommandFactory;
use clap_mangen::Man;

use crate::output::{fail_io, outln};
use crate::{Cli, EXIT_OK};

/// The whole page as roff.
pub fn page() -> Vec<u8> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let main = Man::new(cmd.clone());
    let mut roff = Vec::new();
    main.render_title(&mut roff).expect("writing to a Vec");
    main.render_name_section(&mut roff).expect("writing to a Vec");
    main.render_synopsis_section(&mut roff).expect("writing to a Vec");
    main.render_description_section(&mut roff).expect("writing to a Vec");
    for sub in cmd.get_subcommands() {
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_uppercase();
        roff.extend(format!(".SH \"{name}\"\n").bytes());
        let man = Man::new(sub.clone());
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part).expect("writing to a Vec");
        man.render_description_section(&mut part).expect("writing to a Vec");
        man.render_options_section(&mut part).expect("writing to a Vec");
        // The subcommand's sections become subsections of its own section.
        roff.extend(String::from_utf8_lossy(&part).replace("\n.SH ", "\n.SS ").replace(".SH ", ".SS ").bytes());
    }
    main.render_version_section(&mut roff).expect("writing to a Vec");
    roff
}

/// Print the page, or write `DIR/optrom.1`.
pub fn run(dir: Option<&Path>) -> u8 {
    let roff = page();
    match dir {
        None => outln!("{}", String::from_utf8_lossy(&roff).trim_end()),
        Some(dir) => {
            let path = dir.join("optrom.1");
            if let Err(e) = optrom::fsio::write_atomic(&path, &roff) {
                return fail_io(&e);
            }
            outln!("wrote {}", path.display());
        }
    }
    EXIT_OK
}
