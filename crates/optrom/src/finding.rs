//! Findings: what `check` (and the structural part of `inspect`) reports.

use std::fmt;

use serde::Serialize;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; does not affect the exit status.
    Note,
    /// Likely wrong or fragile, but firmware will still use the ROM.
    Warning,
    /// Firmware will reject or misuse the ROM.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// Short stable identifier of the rule (`chain`, `seabios-checksum`, …).
    pub rule: &'static str,
    /// Image index, when the finding concerns one image.
    pub image: Option<usize>,
    /// File offset of the field.
    pub offset: Option<u64>,
    /// Field name, as in the specifications.
    pub field: String,
    /// What is wrong, in one sentence.
    pub message: String,
}

/// Every rule a finding can name; docs/check-rules.md describes each.
pub const RULES: &[&str] = &[
    "chain",
    "pcir-alignment",
    "no-pcir",
    "trailing",
    "seabios-multiple",
    "seabios-size",
    "seabios-checksum",
    "seabios-entry",
    "seabios-pnp",
    "pnp-checksum",
    "undi-checksum",
    "ipxe-checksum",
    "pnp",
    "code-type",
    "efi-offset",
    "edk2-subsystem",
    "edk2-compression",
    "edk2-init-size",
    "edk2-payload",
    "edk2-machine",
    "nic-romfile",
    "nic-legacy",
    "nic-ids",
    "bucket",
    "efi-uncompressed",
];

impl Finding {
    /// Build a finding.
    pub fn new(
        severity: Severity,
        rule: &'static str,
        image: Option<usize>,
        offset: Option<u64>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        debug_assert!(RULES.contains(&rule), "rule {rule:?} is not in RULES (and docs/check-rules.md)");
        Finding { severity, rule, image, offset, field: field.into(), message: message.into() }
    }

    /// A structural error from the format layer.
    pub fn from_format(e: &optrom_format::Error, image: Option<usize>) -> Self {
        Finding::new(Severity::Error, "chain", image, Some(e.offset as u64), e.field, e.kind.to_string())
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.severity)?;
        if let Some(i) = self.image {
            write!(f, "image {i}, ")?;
        }
        if let Some(o) = self.offset {
            write!(f, "offset {o:#x}, ")?;
        }
        write!(f, "field {}: {} [{}]", self.field, self.message, self.rule)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rule_is_documented() {
        let doc = include_str!("../../../docs/check-rules.md");
        for rule in super::RULES {
            assert!(doc.contains(&format!("`{rule}`")), "docs/check-rules.md does not describe `{rule}`");
        }
    }
}
