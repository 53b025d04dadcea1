//! Durations on the command line: `8s`, `500ms`, `2m`, or plain seconds.
use std::time::Duration;

/// A duration flag that is not `<number>[ms|s|m]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{0}` (expected e.g. 8s, 500ms, 2m)")]
pub struct DurationParseError(String);

pub fn parse_duration(text: &str) -> Result<Duration, DurationParseError> {
    let invalid = || DurationParseError(text.to_owned());
    let trimmed = text.trim();
    let (number, unit_ms) = if let Some(n) = trimmed.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = trimmed.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = trimmed.strip_suffix('m') {
        (n, 60_000)
    } else {
        (trimmed, 1_000)
    };
    let value: u64 = number.parse().map_err(|_| invalid())?;
    let millis = value.checked_mul(unit_ms).filter(|&ms| ms > 0).ok_or_else(invalid)?;
    Ok(Duration::from_millis(millis))
}

/// The form wrk takes (`-d8s`): whole seconds, at least one.
pub fn wrk_seconds(duration: Duration) -> u64 {
    duration.as_secs().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit() {
        assert_eq!(parse_duration("8s"), Ok(Duration::from_secs(8)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_zero_garbage_and_negative() {
        for bad in ["0s", "", "s", "fast", "-1s", "1h"] {
            assert_eq!(parse_duration(bad), Err(DurationParseError(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn wrk_needs_whole_seconds() {
        assert_eq!(wrk_seconds(Duration::from_millis(500)), 1);
        assert_eq!(wrk_seconds(Duration::from_millis(8_900)), 8);
    }
}
