//! `optrom qemu-args` and `optrom libvirt`: settings that load a ROM set's files
//! with the ROM BAR pinned to the set's bucket.

use std::path::Path;

use optrom::loadcfg::{self, LoadPlan};
use optrom::pack::Target;
use optrom::size::human;

use crate::output::{outln, print_json};
use crate::{EXIT_OK, EXIT_UNUSABLE};

fn make(dir: &Path, target: &str, nics: &[String], romsize: Option<u64>) -> Option<LoadPlan> {
    let Some(target) = Target::parse(target) else {
        eprintln!("optrom: unknown target {target:?}; known: x86_64, aarch64, riscv64, loongarch64");
        return None;
    };
    match loadcfg::plan(dir, target, nics, romsize) {
        Ok(plan) => Some(plan),
        Err(e) => {
            eprintln!("optrom: {e}");
            None
        }
    }
}

fn header(plan: &LoadPlan) {
    outln!(
        "# ROM set {} ({} layout), target {}: romsize={} ({}), {}",
        plan.dir.display(),
        match plan.layout {
            loadcfg::SetLayout::Combined => "combined",
            loadcfg::SetLayout::PerArch => "per-arch",
        },
        plan.target.name(),
        plan.romsize,
        human(plan.romsize),
        plan.romsize_reason
    );
    outln!(
        "# a later set whose ROMs still fit in {} migrates with guests started with these settings",
        human(plan.romsize)
    );
}

/// `optrom qemu-args`.
pub fn qemu_args(dir: &Path, target: &str, nics: &[String], romsize: Option<u64>, json: bool) -> u8 {
    let Some(plan) = make(dir, target, nics, romsize) else { return EXIT_UNUSABLE };
    let args = loadcfg::qemu_args(&plan);
    if json {
        print_json(&serde_json::json!({ "plan": plan, "args": args }));
        return EXIT_OK;
    }
    header(&plan);
    let (dash_l, devices) = args.split_at(if plan.dash_l.is_some() { 2 } else { 0 });
    if !dash_l.is_empty() {
        outln!("{}", dash_l.join(" "));
    }
    for pair in devices.chunks(4) {
        outln!("{}", pair.join(" "));
    }
    for nic in plan.nics.iter().filter(|n| !n.explicit_romfile) {
        outln!("# {}: no romfile= because {}", nic.model, nic.id_note.as_deref().unwrap_or(""));
    }
    outln!(
        "# switch a NIC's ROM off: romfile= (empty) on its -device, e.g. -device {},romfile=",
        plan.nics.first().map_or("e1000", |n| n.model.as_str())
    );
    for (consequence, models) in grouped(&plan) {
        outln!("#   {}: {consequence}", models.join(", "));
    }
    for hint in &plan.firmware_hints {
        outln!("# firmware: {hint}");
    }
    EXIT_OK
}

/// `optrom libvirt`.
pub fn libvirt(dir: &Path, target: &str, nics: &[String], romsize: Option<u64>, name: &str) -> u8 {
    let Some(plan) = make(dir, target, nics, romsize) else { return EXIT_UNUSABLE };
    outln!(
        "<!-- optrom libvirt: ROM set {}, target {}, romsize {} ({}) -->",
        plan.dir.display(),
        plan.target.name(),
        plan.romsize,
        plan.romsize_reason
    );
    outln!("<!-- switch a NIC's ROM off with <rom enabled='no'/> in its <interface> (QEMU: romfile=); then:");
    for (consequence, models) in grouped(&plan) {
        outln!("     {}: {consequence}", models.join(", "));
    }
    outln!("     libvirt's <rom> element has bar=, file= and enabled= but nothing for QEMU's romsize; the");
    outln!("     <qemu:override> block below sets that device property (libvirt's documented QEMU passthrough,");
    outln!("     which marks the domain tainted); the alternative is <qemu:commandline> with");
    outln!("     -global MODEL.romsize={} -->", plan.romsize);
    outln!("{}", loadcfg::libvirt_xml(&plan, name).trim_end_matches('\n'));
    EXIT_OK
}

/// Models sharing a ROM-off consequence, in plan order.
fn grouped(plan: &LoadPlan) -> Vec<(String, Vec<&str>)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    for nic in &plan.nics {
        let text = loadcfg::rom_off_consequence(&nic.model);
        match out.iter_mut().find(|(t, _)| *t == text) {
            Some((_, models)) => models.push(&nic.model),
            None => out.push((text, vec![&nic.model])),
        }
    }
    out
}
