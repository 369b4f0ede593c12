//! Every crash seed the fuzzer found (`fuzz/seeds/parse_rom/`) as an ordinary
//! regression test, through the same invariants the fuzz target checks.

#[path = "../../../fuzz/checks/parse_rom.rs"]
mod parse_rom;

#[test]
fn parse_rom_seeds_keep_every_invariant() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/parse_rom");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    for seed in &seeds {
        let data = std::fs::read(seed).unwrap();
        let result = std::panic::catch_unwind(|| parse_rom::check(&data));
        assert!(result.is_ok(), "{} breaks an invariant", seed.display());
    }
}
