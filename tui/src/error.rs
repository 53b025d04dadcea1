//! What can go wrong in `kubectl mesh`, each with a hint and kubectl-style exit codes:
//! 0 fine, 1 findings (a lint error, a failed check, a resource not Ready), 2 usage or
//! connection problems.

use std::fmt;
use std::process::ExitCode;

/// An error the user sees: a one-line message, and a hint on what to do about it.
#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad flags or arguments, a file that cannot be read.
    Usage,
    /// The cluster or the controller cannot be reached, or refuses us.
    Connection,
    /// The command ran and found problems (already printed).
    Findings,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            kind: ErrorKind::Usage,
            message: message.into(),
            hint: None,
        }
    }

    pub fn connection(message: impl Into<String>) -> CliError {
        CliError {
            kind: ErrorKind::Connection,
            message: message.into(),
            hint: None,
        }
    }

    /// The command printed its findings; exit 1 without another message.
    pub fn findings() -> CliError {
        CliError {
            kind: ErrorKind::Findings,
            message: String::new(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.kind {
            ErrorKind::Findings => ExitCode::from(1),
            ErrorKind::Usage | ErrorKind::Connection => ExitCode::from(2),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

pub type CliResult<T = ()> = Result<T, CliError>;
