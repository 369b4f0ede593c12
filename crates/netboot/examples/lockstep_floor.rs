//! The floor for lock-step TFTP on this machine: the least work a server can do per
//! block, to put the `optrom serve` and tftpd-hpa rows of `scripts/bench-serve.sh` in
//! proportion. It is not a server: one client at a time, the file held in memory,
//! octet mode only, `blksize` and `tsize` acknowledged, no retransmission (a lost
//! packet ends the transfer after one second). Per block it makes exactly the two
//! system calls no lock-step server can avoid — `send` of the DATA and a blocking
//! `recv` of the ACK — so the time it needs is the round trip of client and kernel.
//!
//!   cargo run --release -p optrom-netboot --example lockstep_floor -- 127.0.0.1:6972 ROOT

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::Duration;

use optrom_netboot::tftp::wire::{DATA_HEADER_LEN, Repr, TftpOption, write_data_header};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(root)) = (args.next(), args.next()) else {
        return Err("usage: lockstep_floor ADDR:PORT ROOT".into());
    };
    let root = PathBuf::from(root);
    let listener = UdpSocket::bind(&listen)?;
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, peer) = listener.recv_from(&mut buf)?;
        let Ok(Repr::Read(request)) = Repr::parse_bytes(&buf[..n]) else { continue };
        let Ok(file) = std::fs::read(root.join(request.filename.trim_start_matches('/'))) else { continue };
        let mut blksize = 512usize;
        let mut oack = Vec::new();
        let tsize = file.len().to_string();
        let mut blk = String::new();
        for option in &request.options {
            if option.name.eq_ignore_ascii_case("blksize") {
                blksize = option.value.parse::<usize>().unwrap_or(512).clamp(8, 65464);
                blk = blksize.to_string();
            }
        }
        for option in &request.options {
            if option.name.eq_ignore_ascii_case("blksize") {
                oack.push(TftpOption { name: "blksize", value: &blk });
            } else if option.name.eq_ignore_ascii_case("tsize") {
                oack.push(TftpOption { name: "tsize", value: &tsize });
            }
        }
        let socket = UdpSocket::bind((listener.local_addr()?.ip(), 0))?;
        socket.connect(peer)?;
        socket.set_read_timeout(Some(Duration::from_secs(1)))?;
        let mut ack = [0u8; 516];
        if !oack.is_empty() {
            socket.send(&Repr::OptionAck { options: oack }.to_vec())?;
            if socket.recv(&mut ack).is_err() {
                continue;
            }
        }
        let mut packet = vec![0u8; DATA_HEADER_LEN + blksize];
        // Blocks 1..=last; a file whose size is a multiple of blksize ends with an empty block.
        let last = file.len() / blksize + 1;
        for block in 1..=last {
            let payload = &file[((block - 1) * blksize).min(file.len())..(block * blksize).min(file.len())];
            write_data_header(&mut packet, block as u16);
            packet[DATA_HEADER_LEN..DATA_HEADER_LEN + payload.len()].copy_from_slice(payload);
            socket.send(&packet[..DATA_HEADER_LEN + payload.len()])?;
            if socket.recv(&mut ack).is_err() {
                break;
            }
        }
    }
}
