//! Durations on the command line: `8s`, `500ms`, `2m`, or plain seconds.
use std::time::Duration;

/// A duration flag that is not `<number>[ms|s|m]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{0}` (expected e.g. 8s, 500ms, 2m)")]
pub struct DurationParseError(String);

pub fn parse_duration(text: &str) -> Result<Duration, DurationParseError> {
    parse(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| DurationParseError(text.to_owned()))
}

/// Like [`parse_duration`], with zero allowed (`0s` turns a step off).
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, DurationParseError> {
    parse(text).ok_or_else(|| DurationParseError(text.to_owned()))
}

fn parse(text: &str) -> Option<Duration> {
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
    let value: u64 = number.parse().ok()?;
    Some(Duration::from_millis(value.checked_mul(unit_ms)?))
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
            assert_eq!(
                parse_duration(bad),
                Err(DurationParseError(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn zero_turns_a_step_off_where_allowed() {
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration_or_zero("soon").is_err());
    }

    #[test]
    fn wrk_needs_whole_seconds() {
        assert_eq!(wrk_seconds(Duration::from_millis(500)), 1);
        assert_eq!(wrk_seconds(Duration::from_millis(8_900)), 8);
    }
}
