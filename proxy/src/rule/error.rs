//! Errors of the rule language.
use thiserror::Error;

/// A rule that cannot be compiled. Displays as `column 12: unknown matcher `Hots``, the
/// column being 1-based and counted in characters of the rule text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("column {column}: {message}")]
pub struct RuleError {
    /// 1-based character column where the problem starts.
    pub column: usize,
    /// What is wrong, in words meant for a user.
    pub message: String,
}

impl RuleError {
    /// Builds an error at byte offset `offset` of `source`.
    pub(crate) fn at(source: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(source.len());
        let column = source
            .get(..offset)
            .map_or(offset, |prefix| prefix.chars().count())
            + 1;
        Self {
            column,
            message: message.into(),
        }
    }
}

/// A request whose path cannot be routed: the server answers 400 Bad Request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// A `%` not followed by two hexadecimal digits.
    #[error("malformed percent-encoding at byte {offset} of the request path")]
    MalformedPercentEncoding { offset: usize },
}
