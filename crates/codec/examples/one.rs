use optrom_codec::*;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&a[1]).unwrap();
    let f: Format = a[2].parse().unwrap();
    let l: Level = a[3].parse().unwrap();
    let t = std::time::Instant::now();
    let c = compress(f, &data, l);
    println!("{} -> {} in {:?}", data.len(), c.len(), t.elapsed());
    assert_eq!(decompress(f, &c, 1 << 26).unwrap(), data);
}
