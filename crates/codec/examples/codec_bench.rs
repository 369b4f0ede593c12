//! Compression benchmark against EDK2 (through Python's `uefi_firmware`).
//!
//! ```text
//! cargo run --release -p optrom-codec --example codec_bench -- [efi|tiano|both] [runs]
//! ```
//!
//! Prints a Markdown table per format: sizes of EDK2's and our streams for
//! every corpus file, their ratio to EDK2, and median compression and
//! decompression times over `runs` runs (default 5). EDK2's times are
//! measured inside the Python helper with `time.perf_counter_ns`, so process
//! start-up is excluded. Decompression times are for EDK2's stream, decoded
//! by EDK2's decoder and by ours.
#[path = "../tests/common/mod.rs"]
mod common;

use optrom_codec::{CompressOptions, Format, Level, compress, compress_with, decompress};
use std::time::Instant;

const LEVELS: [Level; 3] = [Level::Fast, Level::Default, Level::Best];

fn median_ns(runs: usize, mut f: impl FnMut()) -> u64 {
    let mut v: Vec<u64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e6)
}

fn pct(ours: usize, base: usize) -> String {
    format!("{:+.2} %", (ours as f64 / base as f64 - 1.0) * 100.0)
}

fn run(e: &mut common::Edk2, corpus: &[(String, Vec<u8>)], f: Format, runs: usize) {
    let (cop, dop) = if f == Format::Efi { (b'c', b'd') } else { (b'C', b'D') };
    let edk_name = if f == Format::Efi { "EfiCompress" } else { "TianoCompress" };
    println!("\n### {f} format (EDK2 {edk_name}), median of {runs} runs\n");
    print!("| file | original | EDK2 | fast | default | best |");
    if f == Format::Efi {
        print!(" best, 16 KiB (opt-in) |");
    }
    println!(" EDK2 comp ms | fast ms | default ms | best ms | EDK2 dec ms | our dec ms |");
    print!("|---|---:|---:|---:|---:|---:|");
    if f == Format::Efi {
        print!("---:|");
    }
    println!("---:|---:|---:|---:|---:|---:|");
    let mut tot_orig = 0;
    let mut tot_edk = 0;
    let mut tot = [0usize; 4];
    let mut tt = [0u64; 6];
    for (name, data) in corpus {
        let (edk_ns, edk) = e.call(cop, runs as u32, data).expect("EDK2 compress");
        let (edk_dns, back) = e.call(dop, runs as u32, &edk).expect("EDK2 decompress");
        assert!(back == *data);
        let mut sizes = [0usize; 4];
        let mut times = [0u64; 3];
        for (i, l) in LEVELS.into_iter().enumerate() {
            let c = compress(f, data, l);
            let back = e.call(dop, 0, &c).expect("EDK2 rejected our stream").1;
            assert!(back == *data, "{name} {l}: EDK2 decodes wrong bytes");
            sizes[i] = c.len();
            let r = if l == Level::Best { runs.min(3) } else { runs };
            times[i] = median_ns(r, || {
                std::hint::black_box(compress(f, data, l));
            });
        }
        if f == Format::Efi {
            let o = CompressOptions { format: f, level: Level::Best, allow_16k_efi_distances: true };
            let c = compress_with(data, &o);
            assert!(e.call(dop, 0, &c).expect("EDK2 rejected 16k stream").1 == *data);
            sizes[3] = c.len();
        }
        let our_dns = median_ns(runs, || {
            std::hint::black_box(decompress(f, &edk, data.len()).unwrap());
        });
        tot_orig += data.len();
        tot_edk += edk.len();
        for i in 0..4 {
            tot[i] += sizes[i];
        }
        for (i, t) in [edk_ns, times[0], times[1], times[2], edk_dns, our_dns].into_iter().enumerate() {
            tt[i] += t;
        }
        print!("| {name} | {} | {} |", data.len(), edk.len());
        for s in &sizes[..3] {
            print!(" {s} ({}) |", pct(*s, edk.len()));
        }
        if f == Format::Efi {
            print!(" {} ({}) |", sizes[3], pct(sizes[3], edk.len()));
        }
        println!(
            " {} | {} | {} | {} | {} | {} |",
            ms(edk_ns),
            ms(times[0]),
            ms(times[1]),
            ms(times[2]),
            ms(edk_dns),
            ms(our_dns)
        );
    }
    print!("| **total** | {tot_orig} | {tot_edk} |");
    for s in &tot[..3] {
        print!(" {s} ({}) |", pct(*s, tot_edk));
    }
    if f == Format::Efi {
        print!(" {} ({}) |", tot[3], pct(tot[3], tot_edk));
    }
    println!(" {} | {} | {} | {} | {} | {} |", ms(tt[0]), ms(tt[1]), ms(tt[2]), ms(tt[3]), ms(tt[4]), ms(tt[5]));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("both", |s| s.as_str());
    let runs: usize = args.get(2).map_or(5, |s| s.parse().expect("runs"));
    let mut e = common::Edk2::start().expect("EDK2 helper (unset OPTROM_SKIP_EXTERNAL)");
    let corpus = common::corpus(&mut e);
    let formats: Vec<Format> = match which {
        "both" => vec![Format::Efi, Format::Tiano],
        s => vec![s.parse().expect("efi, tiano or both")],
    };
    for f in formats {
        run(&mut e, &corpus, f, runs);
    }
}
