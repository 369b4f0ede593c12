//! `optrom completions` and `optrom man`: generated from the same clap
//! definitions as `--help`, so every subcommand `--help` lists is in them.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{needs, optrom, s, show, text};

/// The subcommands `optrom --help` lists.
fn subcommands() -> Vec<String> {
    let (help, _) = text(&optrom(&["--help"]));
    let list = help.split("Commands:").nth(1).expect("a Commands: section");
    let names: Vec<String> = list
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 15 && names.contains(&"migrate-check".to_string()), "{names:?}");
    names
}

#[test]
fn completions_name_every_subcommand() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish"] {
        let out = optrom(&["completions", shell]);
        assert!(out.status.success(), "{}", show(&out));
        let (script, _) = text(&out);
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell}: no {name}");
        }
    }
    // bash itself accepts the script.
    let out = optrom(&["completions", "bash"]);
    let mut bash = Command::new("bash").arg("-n").stdin(Stdio::piped()).spawn().expect("bash");
    bash.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    assert!(bash.wait().unwrap().success(), "bash -n rejects the completion script");
    let bad = optrom(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_page_has_a_section_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = optrom(&["man", "-o", s(dir.path())]);
    assert!(out.status.success(), "{}", show(&out));
    let page = dir.path().join("optrom.1");
    let roff = std::fs::read_to_string(&page).unwrap();
    assert!(roff.starts_with(".ie") || roff.starts_with(".TH"), "{}", &roff[..80.min(roff.len())]);
    // man(1) renders it: every subcommand gets its own section with its options.
    let man = Command::new("man").arg("-l").arg("-Tutf8").arg(&page).env("MANWIDTH", "100").output();
    if !needs("EXTERNAL", man.as_ref().is_ok_and(|o| o.status.success()), "man-db and groff (man -l)") {
        return;
    }
    // Undo overstrike bold and underline: "X\bX" and "_\bX" are X.
    let mut rendered = String::new();
    for c in String::from_utf8_lossy(&man.unwrap().stdout).chars() {
        if c == '\u{8}' {
            rendered.pop();
        } else {
            rendered.push(c);
        }
    }
    for name in subcommands() {
        let heading = format!("OPTROM {}", name.to_uppercase());
        assert!(rendered.lines().any(|l| l.contains(&heading)), "no section {heading}");
    }
    assert!(rendered.contains("--report-html"), "pack's options are in the page");
}
