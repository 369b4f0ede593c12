//! A guest's serial console as text: bytes in, clean time-stamped lines out.
//!
//! Firmware writes terminal control sequences (OVMF positions the cursor, SeaBIOS's
//! sercon emulates an 80×25 screen and wraps long lines), so the bytes are cleaned
//! as they arrive: escape sequences and control characters dropped, CR/LF/CRLF
//! turned into line ends. Markers are plain text, matched against the cleaned text
//! both as printed and with line ends removed, so a marker that an 80-column wrap
//! split in two still matches.

use std::time::Duration;

/// One console line, stamped with the time (since QEMU started) its line end arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// When the line ended (or, for the unfinished last line, its latest byte).
    pub at: Duration,
    /// The cleaned text.
    pub text: String,
}

/// Where the escape-sequence parser is between two chunks of serial data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// Inside `ESC [ ... final`.
    Csi,
    /// After `ESC (` or `ESC )`: one charset byte follows.
    Charset,
}

/// The cleaned console of one guest.
#[derive(Debug, Clone)]
pub struct Console {
    lines: Vec<Line>,
    partial: String,
    partial_at: Duration,
    /// All cleaned text, lines joined by `\n`.
    text: String,
    /// All cleaned text without line ends (for markers split by a wrap).
    joined: String,
    escape: Escape,
    after_cr: bool,
    raw_len: usize,
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

impl Console {
    /// An empty console.
    pub fn new() -> Console {
        Console {
            lines: Vec::new(),
            partial: String::new(),
            partial_at: Duration::ZERO,
            text: String::new(),
            joined: String::new(),
            escape: Escape::None,
            after_cr: false,
            raw_len: 0,
        }
    }

    /// Add serial bytes that arrived at `at`.
    pub fn feed(&mut self, bytes: &[u8], at: Duration) {
        self.raw_len += bytes.len();
        for &b in bytes {
            match self.escape {
                Escape::Start => {
                    self.escape = match b {
                        b'[' => Escape::Csi,
                        b'(' | b')' => Escape::Charset,
                        _ => Escape::None, // two-byte sequence such as ESC c, ESC 7
                    };
                    continue;
                }
                Escape::Csi => {
                    if (0x40..=0x7e).contains(&b) {
                        self.escape = Escape::None;
                    }
                    continue;
                }
                Escape::Charset => {
                    self.escape = Escape::None;
                    continue;
                }
                Escape::None => {}
            }
            match b {
                0x1b => self.escape = Escape::Start,
                b'\r' => {
                    self.end_line(at);
                    self.after_cr = true;
                    continue;
                }
                b'\n' => {
                    if !self.after_cr {
                        self.end_line(at);
                    }
                }
                0x00..=0x1f | 0x7f..=0x9f => {} // C0 and C1 control characters
                _ => {
                    // Latin-1: every byte is a character, so no UTF-8 sequence can be cut in two.
                    let c = char::from(b);
                    self.partial.push(c);
                    self.text.push(c);
                    self.joined.push(c);
                    self.partial_at = at;
                }
            }
            self.after_cr = false;
        }
    }

    fn end_line(&mut self, at: Duration) {
        let line = std::mem::take(&mut self.partial);
        if !line.trim().is_empty() {
            self.lines.push(Line { at, text: line });
        }
        if !self.text.ends_with('\n') && !self.text.is_empty() {
            self.text.push('\n');
        }
    }

    /// Whether `marker` has appeared, as printed or split across line ends.
    pub fn contains(&self, marker: &str) -> bool {
        self.text.contains(marker) || self.joined.contains(marker)
    }

    /// How often `marker` has appeared as printed (for prompts: "a new prompt came").
    pub fn count(&self, marker: &str) -> usize {
        self.text.matches(marker).count()
    }

    /// The cleaned text so far, lines separated by `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every non-blank line, the unfinished last one included.
    pub fn lines(&self) -> Vec<Line> {
        let mut out = self.lines.clone();
        if !self.partial.trim().is_empty() {
            out.push(Line { at: self.partial_at, text: self.partial.clone() });
        }
        out
    }

    /// The first line containing `needle` (None when it only appears split by a wrap).
    pub fn line_with(&self, needle: &str) -> Option<Line> {
        self.lines().into_iter().find(|l| l.text.contains(needle))
    }

    /// Whether a finished line (its line end has arrived) contains `needle`.
    pub fn finished_line_with(&self, needle: &str) -> bool {
        self.lines.iter().any(|l| l.text.contains(needle))
    }

    /// Bytes received, before cleaning.
    pub fn raw_len(&self) -> usize {
        self.raw_len
    }

    /// The last `n` lines as `[   1.234] text`, or every line with `None`.
    pub fn transcript(&self, last: Option<usize>) -> Vec<String> {
        let lines = self.lines();
        let skip = last.map_or(0, |n| lines.len().saturating_sub(n));
        lines[skip..].iter().map(|l| format!("[{:8.3}] {}", l.at.as_secs_f64(), l.text.trim_end())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn lines_are_cleaned_and_stamped_when_they_end() {
        let mut c = Console::new();
        c.feed(b"\x1b[2J\x1b[01;01HSeaBIOS (ver", t(10));
        c.feed(b"sion 1.16)\r\n\r\nBooting\x1b", t(20));
        c.feed(b"[0m from ROM\r", t(30));
        c.feed(b"\nShell> ", t(40));
        let lines = c.lines();
        assert_eq!(lines[0], Line { at: t(20), text: "SeaBIOS (version 1.16)".into() });
        assert_eq!(lines[1], Line { at: t(30), text: "Booting from ROM".into() });
        assert_eq!(lines[2], Line { at: t(40), text: "Shell> ".into() });
        assert_eq!(c.text(), "SeaBIOS (version 1.16)\nBooting from ROM\nShell> ");
        assert_eq!(c.count("Shell>"), 1);
        assert_eq!(c.raw_len(), 67);
        assert!(c.finished_line_with("Booting") && !c.finished_line_with("Shell"));
    }

    #[test]
    fn chunking_does_not_change_the_text() {
        // Pseudo-random serial noise rich in ESC, CR and LF, fed whole and in pieces.
        let mut x: u32 = 0x1234_5678;
        let bytes: Vec<u8> = (0..20_000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                [0x1b, b'[', b'\r', b'\n', b'a', b'Z', 0x9b, b'(', (x >> 24) as u8][(x >> 8) as usize % 9]
            })
            .collect();
        let mut whole = Console::new();
        whole.feed(&bytes, t(0));
        for step in [1, 2, 3, 7, 64] {
            let mut pieces = Console::new();
            for chunk in bytes.chunks(step) {
                pieces.feed(chunk, t(1));
            }
            assert_eq!(whole.text(), pieces.text(), "chunks of {step}");
        }
        assert!(!whole.text().chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn markers_match_across_an_80_column_wrap() {
        let mut c = Console::new();
        c.feed(b"iPXE 1.0.0+git -- Open Source Network Boot Firmware -- http\r\n://ipxe.org\r\n", t(1));
        assert!(c.contains("-- http://ipxe.org"));
        assert!(!c.contains("http://ipxe.orgX"));
        assert_eq!(c.transcript(Some(1)), vec!["[   0.001] ://ipxe.org".to_string()]);
    }
}
