//! placeholder
#[path = "../tests/common/mod.rs"]
mod common;
use optrom_codec::*;
use std::time::Instant;

fn main() {
    let fmt: Format = std::env::var("FMT").unwrap_or("efi".into()).parse().unwrap();
    let mut e = common::Edk2::start().expect("EDK2 helper");
    let corpus = common::corpus(&mut e);
    let mut tot = [0usize; 5];
    for (name, data) in &corpus {
        let edk = e.compress(fmt, data).len();
        print!("{name:14} {:8} edk2 {edk:8}", data.len());
        tot[0] += data.len();
        tot[1] += edk;
        for (i, l) in [Level::Fast, Level::Default, Level::Best].into_iter().enumerate() {
            if std::env::var("ONLY").is_ok_and(|v| v != l.to_string()) { continue; }
            let t = Instant::now();
            let c = compress(fmt, data, l);
            let dt = t.elapsed();
            let d = decompress(fmt, &c, 1 << 24).unwrap();
            assert_eq!(&d, data);
            print!("  {l}: {} ({:+.2}%) {:.0}ms", c.len(), (c.len() as f64 / edk as f64 - 1.0) * 100.0, dt.as_secs_f64() * 1e3);
            tot[2 + i] += c.len();
        }
        println!();
    }
    println!("total {} edk2 {} fast {:+.2}% default {:+.2}% best {:+.2}%", tot[0], tot[1],
        (tot[2] as f64 / tot[1] as f64 - 1.0) * 100.0, (tot[3] as f64 / tot[1] as f64 - 1.0) * 100.0, (tot[4] as f64 / tot[1] as f64 - 1.0) * 100.0);
}
