//! Colours, or none at all under `NO_COLOR` (https://no-color.org). Selection is reversed
//! video either way, so it shows on every terminal.

use ratatui::style::{Color, Modifier, Style};

use crate::model::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set to something non-empty.
    pub fn from_env(no_color: Option<std::ffi::OsString>) -> Theme {
        Theme {
            color: no_color.is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn header(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red)
    }

    pub fn warning(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn severity(self, severity: Severity) -> Style {
        match severity {
            Severity::Error => self.error(),
            Severity::Warning => self.warning(),
            Severity::Pending => self.fg(Color::Blue),
            Severity::Ok => self.ok(),
        }
    }

    /// `enabled` green, `warning` yellow, anything else red.
    pub fn state(self, state: &str) -> Style {
        match state {
            "enabled" | "ready" | "UP" => self.ok(),
            "warning" => self.warning(),
            "" => Style::new(),
            _ => self.error(),
        }
    }

    /// Days left of a certificate: red once expired, yellow under two weeks.
    pub fn days_left(self, days: Option<i64>) -> Style {
        match days {
            Some(d) if d < 0 => self.error(),
            Some(d) if d < 14 => self.warning(),
            Some(_) => self.ok(),
            None => self.error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_to_anything_turns_colours_off() {
        assert!(Theme::from_env(None).color);
        assert!(Theme::from_env(Some("".into())).color);
        let plain = Theme::from_env(Some("1".into()));
        assert!(!plain.color);
        assert_eq!(plain.error(), Style::new());
        assert_eq!(
            plain.selected(),
            Style::new().add_modifier(Modifier::REVERSED)
        );
    }
}
