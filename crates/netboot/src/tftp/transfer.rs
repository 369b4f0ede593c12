//! One read transfer: resolve and open the file, negotiate, send the OACK, then
//! the data in windows with retransmission and backoff, on a socket of its own.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::UdpSocket;

use super::Shared;
use super::options::{Mode, Negotiated, negotiate};
use super::wire::{DATA_HEADER_LEN, ErrorCode, Repr, TftpOption, write_data_header};
use crate::metrics::TftpOutcome;
use crate::server::{Context, bind_udp};

/// Bytes read from the file at a time (at least; a window may need more).
const READ_CHUNK: usize = 128 * 1024;
/// Busy-poll credit a transfer starts with and can save up.
const SPIN_CREDIT_START: i32 = 8;
const SPIN_CREDIT_MAX: i32 = 16;
/// The retransmission timeout grows by doubling up to this multiple of the first.
const MAX_BACKOFF: u32 = 8;

/// What a window's wait ended with.
enum Next {
    /// An ACK moved the window.
    Advanced,
    /// An ACK said nothing new arrived: resend at once.
    Resend,
    /// No usable ACK in time.
    Timeout,
}

/// What one wait for the client produced.
enum Event {
    Packet(usize),
    Timeout,
    Abort,
    NetworkError(std::io::Error),
}

/// The file as a stream of wire bytes (netascii converted on the fly).
struct Source {
    file: tokio::fs::File,
    mode: Mode,
    eof: bool,
    scratch: Vec<u8>,
}

impl Source {
    /// Read until `data` holds `want` bytes or the file ends.
    async fn fill(&mut self, data: &mut Vec<u8>, want: usize) -> std::io::Result<()> {
        while data.len() < want && !self.eof {
            let chunk = (want - data.len()).max(READ_CHUNK);
            match self.mode {
                Mode::Octet => {
                    let start = data.len();
                    data.resize(start + chunk, 0);
                    let n = self.file.read(&mut data[start..]).await;
                    let n = match n {
                        Ok(n) => n,
                        Err(e) => {
                            data.truncate(start);
                            return Err(e);
                        }
                    };
                    data.truncate(start + n);
                    self.eof = n == 0;
                }
                Mode::Netascii => {
                    self.scratch.resize(chunk, 0);
                    let n = self.file.read(&mut self.scratch).await?;
                    self.eof = n == 0;
                    for &b in &self.scratch[..n] {
                        match b {
                            b'\n' => data.extend_from_slice(b"\r\n"),
                            b'\r' => data.extend_from_slice(b"\r\0"),
                            _ => data.push(b),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// File bytes read ahead and not yet acknowledged: `bytes[head..]`. Acknowledged bytes
/// only move `head`; they are dropped when the buffer is next refilled, so a lock-step
/// transfer moves the read-ahead once per refill instead of once per block (a 128 KiB
/// memmove per 1468-byte block would cost more than the block's syscalls).
struct Pending {
    bytes: Vec<u8>,
    head: usize,
}

impl Pending {
    fn unsent(&self) -> &[u8] {
        &self.bytes[self.head..]
    }

    fn consume(&mut self, n: usize) {
        self.head = (self.head + n).min(self.bytes.len());
    }

    /// Make `unsent()` hold at least `want` bytes, or all that is left of the file.
    async fn refill(&mut self, source: &mut Source, want: usize) -> std::io::Result<()> {
        if self.bytes.len() - self.head >= want || source.eof {
            return Ok(());
        }
        self.bytes.drain(..self.head);
        self.head = 0;
        source.fill(&mut self.bytes, want).await
    }
}

/// The transfer's socket and its view of the client.
struct Link<'a> {
    socket: UdpSocket,
    ctx: &'a Context,
    recv_buf: Vec<u8>,
    spin: &'a BusyPoll,
    /// Busy-poll credit: +1 per reply caught while polling, −1 per miss; no polling
    /// at 0, so a client slower than the budget (a real network) soon stops costing CPU.
    spin_credit: i32,
}

/// Busy-polling for the next ACK before sleeping: a lock-step transfer on a fast
/// path spends most of its time in the two wake-ups per block (≈65 µs across CPUs
/// on the reference machine, qemu-testing.md §6); polling removes the server's.
/// At most `slots` transfers poll at once (one CPU each), and each poll lasts at
/// most `budget`, yielding the CPU between attempts so a client on the same CPU runs.
pub(crate) struct BusyPoll {
    pub budget: Duration,
    pub slots: usize,
    pub polling: std::sync::atomic::AtomicUsize,
}

/// A taken polling slot, returned on drop.
struct PollSlot<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for PollSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl BusyPoll {
    fn take(&self) -> Option<PollSlot<'_>> {
        use std::sync::atomic::Ordering;
        if self.budget.is_zero() {
            return None;
        }
        let taken = self.polling.fetch_add(1, Ordering::AcqRel);
        let slot = PollSlot(&self.polling);
        (taken < self.slots).then_some(slot)
    }
}

impl Link<'_> {
    async fn send(&self, packet: &[u8]) -> std::io::Result<()> {
        self.socket.send(packet).await.map(|_| ())
    }

    async fn wait(&mut self, deadline: tokio::time::Instant) -> Event {
        if self.spin_credit > 0
            && let Some(_slot) = self.spin.take()
        {
            let until = Instant::now() + self.spin.budget;
            loop {
                match self.socket.try_recv(&mut self.recv_buf) {
                    Ok(n) => {
                        self.spin_credit = (self.spin_credit + 1).min(SPIN_CREDIT_MAX);
                        return Event::Packet(n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Event::NetworkError(e),
                }
                if Instant::now() >= until {
                    self.spin_credit -= 1;
                    break;
                }
                std::thread::yield_now();
            }
        }
        tokio::select! {
            () = self.ctx.shutdown.aborting() => Event::Abort,
            () = tokio::time::sleep_until(deadline) => Event::Timeout,
            r = self.socket.recv(&mut self.recv_buf) => match r {
                Ok(n) => Event::Packet(n),
                Err(e) => Event::NetworkError(e),
            },
        }
    }

    async fn send_error(&self, code: ErrorCode, message: &str) {
        let _ = self.send(&Repr::Error { code, message }.to_vec()).await;
    }
}

/// Serve one RRQ (`packet`, already parsed once by the listener) to `peer`.
pub(crate) async fn serve_read(shared: &Shared, ctx: &Context, peer: SocketAddr, packet: &[u8]) {
    let metrics = &ctx.metrics.tftp;
    metrics.active_transfers.inc();
    let started = Instant::now();
    let mut report = Report::default();
    let mac = ctx.clients.label(peer.ip());
    let Ok(Repr::Read(request)) = Repr::parse_bytes(packet) else {
        metrics.active_transfers.dec();
        return;
    };
    let filename = request.filename.to_string();
    tracing::info!(
        client = %peer,
        mac,
        file = %filename,
        mode = request.mode,
        options = %format_options(&request.options),
        "tftp read request"
    );
    let outcome = run(shared, ctx, peer, &request, &mut report).await;
    metrics.finished(outcome);
    metrics.active_transfers.dec();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let who = ctx.clients.mac_of(peer.ip()).map(|m| crate::policy::Mac(m.0)).or_else(|| ctx.tracker.mac_of(peer.ip()));
    if let Some(who) = who {
        let event = match outcome {
            TftpOutcome::Complete => Some(crate::status::Event::BootFile { path: filename.clone() }),
            TftpOutcome::Probe => None,
            _ => Some(crate::status::Event::Failed {
                step: crate::status::Step::BootFile,
                reason: format!("TFTP {filename}: {} {}", outcome.label(), report.detail),
            }),
        };
        if let Some(event) = event {
            ctx.tracker.record(who, Some(peer.ip()), event);
        }
    }
    match outcome {
        TftpOutcome::Complete => tracing::info!(
            client = %peer, mac, file = %filename, bytes = report.bytes, blocks = report.blocks,
            retransmissions = report.retransmissions, elapsed_ms, "tftp transfer complete"
        ),
        TftpOutcome::Probe => tracing::info!(
            client = %peer, mac, file = %filename, detail = %report.detail,
            "tftp size probe answered; client ended it after the OACK (not a failure)"
        ),
        _ => tracing::warn!(
            client = %peer, mac, file = %filename, outcome = outcome.label(), detail = %report.detail,
            bytes = report.bytes, retransmissions = report.retransmissions, elapsed_ms, "tftp transfer ended"
        ),
    }
}

#[derive(Default)]
struct Report {
    bytes: u64,
    blocks: u64,
    retransmissions: u64,
    detail: String,
}

fn format_options(options: &[TftpOption<'_>]) -> String {
    options.iter().map(|o| format!("{}={}", o.name, o.value)).collect::<Vec<_>>().join(",")
}

async fn run(
    shared: &Shared,
    ctx: &Context,
    peer: SocketAddr,
    request: &super::wire::Request<'_>,
    report: &mut Report,
) -> TftpOutcome {
    let metrics = &ctx.metrics.tftp;
    // A new transfer ID: a fresh port on the listener's address, connected to the
    // client so the kernel drops datagrams from anyone else.
    let socket = match bind_udp(SocketAddr::new(shared.bind_ip, 0), shared.interface.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            report.detail = format!("cannot open a transfer socket: {e}");
            return TftpOutcome::NetworkError;
        }
    };
    if let Err(e) = socket.connect(peer).await {
        report.detail = format!("cannot connect the transfer socket: {e}");
        return TftpOutcome::NetworkError;
    }
    let mut link =
        Link { socket, ctx, recv_buf: vec![0u8; 2048], spin: &shared.busy_poll, spin_credit: SPIN_CREDIT_START };

    let Some(mode) = Mode::parse(request.mode) else {
        report.detail = format!("mode {:?} not supported", request.mode);
        link.send_error(ErrorCode::IllegalOperation, "only octet and netascii modes are supported").await;
        return TftpOutcome::Refused;
    };
    let path = match shared.root.resolve(request.filename) {
        Ok(p) => p,
        Err(e) => {
            let code = if e.is_refusal() { ErrorCode::AccessViolation } else { ErrorCode::FileNotFound };
            report.detail = e.to_string();
            link.send_error(code, &e.to_string()).await;
            return TftpOutcome::Refused;
        }
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            report.detail = format!("{}: {e}", path.display());
            link.send_error(ErrorCode::FileNotFound, "file cannot be opened").await;
            return TftpOutcome::Refused;
        }
    };
    let size = match file.metadata().await {
        Ok(m) => m.len(),
        Err(e) => {
            report.detail = format!("{}: {e}", path.display());
            link.send_error(ErrorCode::FileNotFound, "file cannot be read").await;
            return TftpOutcome::Refused;
        }
    };
    // tsize for netascii would need a pass over the file; it is not acknowledged.
    let negotiated = match negotiate(request, (mode == Mode::Octet).then_some(size), &shared.limits) {
        Ok(n) => n,
        Err(e) => {
            report.detail = e.to_string();
            link.send_error(ErrorCode::OptionRefused, &e.to_string()).await;
            return TftpOutcome::Refused;
        }
    };
    let mut source = Source { file, mode, eof: false, scratch: Vec::new() };

    if !negotiated.oack.is_empty() {
        match send_oack(shared, &mut link, &negotiated, peer, report).await {
            Ok(()) => {}
            Err(outcome) => return outcome,
        }
    }
    send_data(shared, &mut link, &negotiated, &mut source, report, metrics).await
}

/// Send the OACK and wait for ACK 0. A client ERROR here after a `tsize` request
/// is the size probe.
async fn send_oack(
    shared: &Shared,
    link: &mut Link<'_>,
    negotiated: &Negotiated,
    peer: SocketAddr,
    report: &mut Report,
) -> Result<(), TftpOutcome> {
    let options: Vec<TftpOption> = negotiated.oack.iter().map(|(name, value)| TftpOption { name, value }).collect();
    let oack = Repr::OptionAck { options }.to_vec();
    tracing::info!(
        client = %peer,
        mac = link.ctx.clients.label(peer.ip()),
        blksize = negotiated.blksize,
        windowsize = negotiated.windowsize,
        timeout_ms = negotiated.timeout.as_millis() as u64,
        oack = %negotiated.oack.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(","),
        "tftp option acknowledgement"
    );
    let mut rto = negotiated.timeout;
    let mut tries = 0;
    loop {
        if let Err(e) = link.send(&oack).await {
            report.detail = format!("send OACK: {e}");
            return Err(TftpOutcome::NetworkError);
        }
        let deadline = tokio::time::Instant::now() + rto;
        loop {
            match link.wait(deadline).await {
                Event::Packet(n) => match Repr::parse_bytes(&link.recv_buf[..n]) {
                    Ok(Repr::Ack { block: 0 }) => return Ok(()),
                    Ok(Repr::Error { code, message }) => {
                        report.detail = format!("client ERROR {} {message:?} after the OACK", code.to_u16());
                        return Err(if negotiated.tsize_requested {
                            TftpOutcome::Probe
                        } else {
                            TftpOutcome::ClientAbort
                        });
                    }
                    _ => continue,
                },
                Event::Timeout => break,
                Event::Abort => {
                    link.send_error(ErrorCode::NotDefined, "server shutting down").await;
                    report.detail = "server shut down".into();
                    return Err(TftpOutcome::Shutdown);
                }
                Event::NetworkError(e) => {
                    report.detail = format!("waiting for ACK 0: {e}");
                    return Err(TftpOutcome::NetworkError);
                }
            }
        }
        tries += 1;
        if tries > shared.retries {
            report.detail = format!("no ACK for the OACK after {tries} tries");
            return Err(TftpOutcome::Timeout);
        }
        link.ctx.metrics.tftp.retransmissions.inc();
        report.retransmissions += 1;
        rto = (rto * 2).min(negotiated.timeout * MAX_BACKOFF);
    }
}

/// Send the file in windows of `windowsize` blocks; each window waits for the ACK
/// of its last block. A partial ACK restarts from the block after it (RFC 7440).
async fn send_data(
    shared: &Shared,
    link: &mut Link<'_>,
    negotiated: &Negotiated,
    source: &mut Source,
    report: &mut Report,
    metrics: &crate::metrics::TftpMetrics,
) -> TftpOutcome {
    let blksize = usize::from(negotiated.blksize);
    let window = u64::from(negotiated.windowsize);
    let mut data = Pending { bytes: Vec::with_capacity(blksize * window as usize + READ_CHUNK), head: 0 };
    let mut packet = vec![0u8; DATA_HEADER_LEN + blksize];
    // Block numbers below are absolute (1, 2, …, never wrapping); the wire carries
    // them modulo 65536, so 65536 goes out as 0.
    let mut acked: u64 = 0;
    let mut highest_sent: u64 = 0;
    let mut last_block: Option<u64> = None;
    let mut rto = negotiated.timeout;
    let mut tries = 0u32;
    let mut resent_at: Option<u64> = None;
    loop {
        if let Err(e) = data.refill(source, window as usize * blksize).await {
            report.detail = format!("read error: {e}");
            link.send_error(ErrorCode::NotDefined, "read error").await;
            return TftpOutcome::NetworkError;
        }
        if source.eof && last_block.is_none() {
            let total = acked * blksize as u64 + data.unsent().len() as u64;
            // A file whose size is a multiple of blksize ends with an empty block.
            last_block = Some(total / blksize as u64 + 1);
        }
        let upto = last_block.map_or(acked + window, |last| last.min(acked + window));
        for n in acked + 1..=upto {
            let unsent = data.unsent();
            let offset = (n - acked - 1) as usize * blksize;
            let end = (offset + blksize).min(unsent.len());
            let payload = &unsent[offset.min(end)..end];
            write_data_header(&mut packet, n as u16);
            packet[DATA_HEADER_LEN..DATA_HEADER_LEN + payload.len()].copy_from_slice(payload);
            if let Err(e) = link.send(&packet[..DATA_HEADER_LEN + payload.len()]).await {
                report.detail = format!("send DATA {n}: {e}");
                return TftpOutcome::NetworkError;
            }
            if n > highest_sent {
                highest_sent = n;
                metrics.bytes_sent.add(payload.len() as u64);
                report.bytes += payload.len() as u64;
                report.blocks += 1;
            } else {
                metrics.retransmissions.inc();
                report.retransmissions += 1;
            }
        }
        let deadline = tokio::time::Instant::now() + rto;
        // Wait for an ACK that moves the window (or says to resend it).
        let next = loop {
            match link.wait(deadline).await {
                Event::Packet(n) => match Repr::parse_bytes(&link.recv_buf[..n]) {
                    Ok(Repr::Ack { block }) => {
                        let delta = u64::from(block.wrapping_sub(acked as u16));
                        if delta > upto - acked {
                            continue; // stale: outside the blocks in flight
                        }
                        if delta == 0 {
                            if window > 1 && resent_at != Some(acked) {
                                // RFC 7440: the receiver acknowledges the last block it
                                // got in order; nothing new arrived, resend the window now.
                                break Next::Resend;
                            }
                            // Lock-step duplicate ACK (or a further duplicate after the
                            // window was already resent for it): ignored, or every
                            // duplicate would multiply the traffic (the Sorcerer's
                            // Apprentice bug).
                            continue;
                        }
                        let new_acked = acked + delta;
                        data.consume((delta as usize) * blksize);
                        acked = new_acked;
                        if Some(acked) == last_block {
                            return TftpOutcome::Complete;
                        }
                        break Next::Advanced;
                    }
                    Ok(Repr::Error { code, message }) => {
                        report.detail = format!("client ERROR {} {message:?} at block {}", code.to_u16(), acked + 1);
                        return TftpOutcome::ClientAbort;
                    }
                    _ => continue,
                },
                Event::Timeout => break Next::Timeout,
                Event::Abort => {
                    link.send_error(ErrorCode::NotDefined, "server shutting down").await;
                    report.detail = format!("server shut down at block {}", acked + 1);
                    return TftpOutcome::Shutdown;
                }
                Event::NetworkError(e) => {
                    report.detail = format!("at block {}: {e}", acked + 1);
                    return TftpOutcome::NetworkError;
                }
            }
        };
        match next {
            Next::Advanced => {
                tries = 0;
                rto = negotiated.timeout;
            }
            // The client is alive and told us where it stands: no backoff, but
            // only one such resend per position.
            Next::Resend => resent_at = Some(acked),
            Next::Timeout => {
                tries += 1;
                if tries > shared.retries {
                    report.detail = format!("no ACK for block {} after {} tries", acked + 1, tries);
                    return TftpOutcome::Timeout;
                }
                rto = (rto * 2).min(negotiated.timeout * MAX_BACKOFF).max(Duration::from_millis(1));
            }
        }
    }
}
