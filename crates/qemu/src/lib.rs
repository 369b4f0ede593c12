//! The QEMU guest harness: starts and supervises real QEMU guests and reads their
//! serial consoles, so tests and `optrom boot-test` can prove that a ROM's driver
//! runs in real firmware. Today it holds the guest itself ([`guest`]: machine,
//! firmware — SeaBIOS, OVMF, AAVMF, trixie's riscv64 and loongarch64 EDK2 — NIC with its ROM, user-mode or tap networking,
//! a private temporary directory, QEMU killed on every exit path), the cleaned,
//! time-stamped console with wrap-proof marker matching ([`console`]), signal
//! handling that unwinds runs cleanly ([`interrupt`]) and the boot-test matrix
//! ([`boottest`]: cases planned from what each ROM holds, per-case proofs that the
//! driver moved packets, expected negatives with their reasons, parallel runs).
//! Std threads only; no async runtime.

pub mod boottest;
pub mod console;
pub mod guest;
pub mod interrupt;

pub use console::{Console, Line};
pub use guest::{
    Accel, Firmware, FirmwarePaths, Guest, GuestSpec, Machine, Network, NicSpec, Outcome, QemuError, RomChoice,
    UserNet, Watch, WorkDir, testdata_root, work_dir,
};
