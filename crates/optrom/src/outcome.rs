//! What kind of failure an error is. Front ends map the two kinds to their exit
//! status in one place (the CLI: 1 for [`Failure::Findings`], 2 for
//! [`Failure::Unusable`]); every error type of this library says which it is.

use crate::build::BuildError;
use crate::edit::EditError;
use crate::fsio::IoError;
use crate::inspect::NotARom;
use crate::pack::PackError;

/// The two ways a command can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The inputs were usable and the work was done, but the result misses a
    /// rule or a budget: `check` errors, a ROM over its size budget, content
    /// that does not fit a padding target.
    Findings,
    /// An input (or output location, or an argument) cannot be used: unreadable,
    /// not a ROM / PE / stream, malformed, or asks for what the input cannot give.
    Unusable,
}

/// An error that knows its [`Failure`] kind.
pub trait Classify {
    /// Which kind of failure this is.
    fn failure(&self) -> Failure;
}

impl Classify for IoError {
    fn failure(&self) -> Failure {
        Failure::Unusable
    }
}

impl Classify for NotARom {
    fn failure(&self) -> Failure {
        Failure::Unusable
    }
}

impl Classify for BuildError {
    fn failure(&self) -> Failure {
        Failure::Unusable
    }
}

impl Classify for EditError {
    fn failure(&self) -> Failure {
        match self {
            EditError::DoesNotFit { .. } => Failure::Findings,
            _ => Failure::Unusable,
        }
    }
}

impl Classify for PackError {
    fn failure(&self) -> Failure {
        match self {
            PackError::OverBudget(_) | PackError::Check(_) => Failure::Findings,
            PackError::Manifest(_) | PackError::Input { .. } => Failure::Unusable,
        }
    }
}

impl Classify for crate::manifest::ManifestError {
    fn failure(&self) -> Failure {
        Failure::Unusable
    }
}

impl Classify for optrom_codec::DecodeError {
    fn failure(&self) -> Failure {
        Failure::Unusable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_findings_everything_else_is_unusable() {
        assert_eq!(PackError::OverBudget(vec![]).failure(), Failure::Findings);
        assert_eq!(PackError::Check(vec![]).failure(), Failure::Findings);
        assert_eq!(PackError::Manifest(String::new()).failure(), Failure::Unusable);
        let fit = EditError::DoesNotFit { content: 2, target: 1, target_text: "1 B".into(), over: 1 };
        assert_eq!(fit.failure(), Failure::Findings);
        assert_eq!(EditError::Empty.failure(), Failure::Unusable);
        assert_eq!(EditError::NoSuchImage { index: 3, count: 1 }.failure(), Failure::Unusable);
    }
}
