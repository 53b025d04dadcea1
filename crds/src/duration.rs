//! Durations as Traefik writes them: Go duration strings (`1m30s`, `1.5s`, `-1s`) or a
//! bare integer, which means seconds (`dialTimeout: 42` is 42s).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Why a duration could not be read; carries the text as written so callers can report it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error(
        "invalid duration {0:?}: expected a number of seconds or a Go duration like \"10s\" or \"1m30s\""
    )]
    Invalid(String),
    #[error("invalid duration {0:?}: unknown unit (use ns, us, µs, ms, s, m or h)")]
    UnknownUnit(String),
    #[error("invalid duration {0:?}: negative durations are not allowed here")]
    Negative(String),
    #[error("invalid duration {0:?}: too large")]
    Overflow(String),
}

/// A Go duration that may be negative (`flushInterval: -1ms` means "flush after every write").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedDuration {
    pub negative: bool,
    pub magnitude: Duration,
}

/// Reads an int-or-string duration field; integers are seconds. Negative values are refused.
pub fn from_int_or_string(value: &IntOrString) -> Result<Duration, DurationError> {
    match value {
        IntOrString::Int(seconds) => u64::try_from(*seconds)
            .map(Duration::from_secs)
            .map_err(|_| DurationError::Negative(seconds.to_string())),
        IntOrString::String(text) => parse(text),
    }
}

/// Parses a non-negative Go duration string. A string of digits alone means seconds.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let signed = parse_signed(text)?;
    if signed.negative && !signed.magnitude.is_zero() {
        return Err(DurationError::Negative(text.to_string()));
    }
    Ok(signed.magnitude)
}

/// Parses a Go duration string that may start with `-` or `+`.
pub fn parse_signed(text: &str) -> Result<SignedDuration, DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let trimmed = text.trim();
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if body.is_empty() {
        return Err(invalid());
    }
    // Traefik reads a bare number as seconds; Go's time.ParseDuration only accepts "0".
    if body.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: u64 = body
            .parse()
            .map_err(|_| DurationError::Overflow(text.to_string()))?;
        return Ok(SignedDuration {
            negative,
            magnitude: Duration::from_secs(seconds),
        });
    }

    let mut total_nanos: u128 = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let unit_len = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "" => return Err(invalid()),
            _ => return Err(DurationError::UnknownUnit(text.to_string())),
        };
        total_nanos = total_nanos
            .checked_add(scaled(number, unit_nanos).ok_or_else(invalid)?)
            .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
        rest = after_unit;
    }
    let nanos =
        u64::try_from(total_nanos).map_err(|_| DurationError::Overflow(text.to_string()))?;
    Ok(SignedDuration {
        negative,
        magnitude: Duration::from_nanos(nanos),
    })
}

/// `number` (digits with at most one dot) times `unit_nanos`, truncating below a nanosecond.
fn scaled(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut result = whole.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos;
    for digit in fraction.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        result = result.checked_add(u128::from(digit - b'0') * scale)?;
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_integers_are_seconds() {
        assert_eq!(
            from_int_or_string(&IntOrString::Int(42)),
            Ok(Duration::from_secs(42))
        );
        assert_eq!(parse("42"), Ok(Duration::from_secs(42)));
    }

    #[test]
    fn go_duration_strings() {
        assert_eq!(parse("42ms"), Ok(Duration::from_millis(42)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("7us"), Ok(Duration::from_micros(7)));
        assert_eq!(parse("3ns"), Ok(Duration::from_nanos(3)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn negative_values_are_reported_or_kept_signed() {
        assert_eq!(parse("-1s"), Err(DurationError::Negative("-1s".into())));
        assert_eq!(
            from_int_or_string(&IntOrString::Int(-3)),
            Err(DurationError::Negative("-3".into()))
        );
        assert_eq!(
            parse_signed("-1ms"),
            Ok(SignedDuration {
                negative: true,
                magnitude: Duration::from_millis(1)
            })
        );
    }

    #[test]
    fn malformed_strings_are_errors() {
        for bad in ["", "s", "10x", "1..5s", "ten", "5m3", "-"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(parse("10d"), Err(DurationError::UnknownUnit("10d".into())));
        assert_eq!(
            parse("99999999999999999999h"),
            Err(DurationError::Overflow("99999999999999999999h".into()))
        );
    }
}
