//! kubectl-style output: aligned tables (with `--no-headers`), JSON and YAML `List`
//! documents, and ages as kubectl prints them.
//!
//! ```ignore
//! let mut table = Table::new(["NAME", "READY"]);
//! table.row(["web", "True"]);
//! print!("{}", table.render(global.no_headers));
//! print_list(global.output, &rows)?; // json / yaml
//! ```

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::{CliError, CliResult};

/// Spaces between columns, and the narrowest column, as kubectl's tab writer.
const PADDING: usize = 3;
const MIN_WIDTH: usize = 6;

/// A table of text cells under uppercase headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers (upper-cased).
    pub fn new<S: AsRef<str>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers
                .into_iter()
                .map(|h| h.as_ref().to_uppercase())
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are empty, extra cells are dropped.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Table {
        let mut cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
        self
    }

    /// The aligned text, one line per row (and the header unless `no_headers`), each
    /// line ending in a newline and without trailing spaces.
    pub fn render(&self, no_headers: bool) -> String {
        let lines: Vec<&Vec<String>> = if no_headers {
            self.rows.iter().collect()
        } else {
            std::iter::once(&self.headers).chain(&self.rows).collect()
        };
        let columns = self.headers.len();
        let widths: Vec<usize> = (0..columns)
            .map(|column| {
                let widest = lines
                    .iter()
                    .map(|cells| cells[column].chars().count())
                    .max()
                    .unwrap_or(0);
                (widest + PADDING).max(MIN_WIDTH)
            })
            .collect();
        let mut out = String::new();
        for cells in lines {
            let mut line = String::new();
            for (column, cell) in cells.iter().enumerate() {
                line.push_str(cell);
                if column + 1 < columns {
                    let pad = widths[column] - cell.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A `{"kind": "List", "items": [...]}` document, the shape of `kubectl get -o json`.
#[derive(Serialize)]
struct List<'a, T> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    items: &'a [T],
}

/// `items` as a JSON or YAML List (for `-o json|yaml`); an error for table formats.
pub(crate) fn render_list<T: Serialize>(format: OutputFormat, items: &[T]) -> CliResult<String> {
    let list = List {
        api_version: "v1",
        kind: "List",
        items,
    };
    let encoding_error = |error: &dyn std::fmt::Display| {
        CliError::usage(format!("cannot encode the output: {error}"))
    };
    match format {
        OutputFormat::Json => serde_json::to_string_pretty(&list)
            .map(|text| text + "\n")
            .map_err(|e| encoding_error(&e)),
        OutputFormat::Yaml => serde_yaml::to_string(&list).map_err(|e| encoding_error(&e)),
        OutputFormat::Table | OutputFormat::Wide => {
            Err(CliError::usage("a table is not a document format"))
        }
    }
}

/// Prints `items` as a JSON or YAML List (for `-o json|yaml`).
pub(crate) fn print_list<T: Serialize>(format: OutputFormat, items: &[T]) -> CliResult {
    print!("{}", render_list(format, items)?);
    Ok(())
}

/// Whether `-o` asks for a document (JSON/YAML) rather than a table.
pub(crate) fn is_document(format: OutputFormat) -> bool {
    matches!(format, OutputFormat::Json | OutputFormat::Yaml)
}

/// The age of something created at `created`, as kubectl prints it (`45s`, `3m`, `2h`,
/// `4d`); `<unknown>` without a timestamp.
pub(crate) fn age(created: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match created {
        Some(created) => human_duration((now - created).num_seconds()),
        None => "<unknown>".to_string(),
    }
}

/// kubectl's `duration.HumanDuration`: two units while they matter, then one.
pub(crate) fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if days < 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if days < 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{years}y")
}

/// `text` cut to `max` characters, ending in `...` when cut; newlines become spaces.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let kept: String = flat.chars().take(max.saturating_sub(3)).collect();
    format!("{}...", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_like_kubectl() {
        let mut table = Table::new(["kind", "name", "ready"]);
        table.row(["IngressRoute", "web", "True"]);
        table.row(["Middleware", "a-longer-name", "False"]);
        assert_eq!(
            table.render(false),
            "KIND           NAME            READY\n\
             IngressRoute   web             True\n\
             Middleware     a-longer-name   False\n"
        );
        assert_eq!(
            table.render(true),
            "IngressRoute   web             True\n\
             Middleware     a-longer-name   False\n"
        );
    }

    #[test]
    fn short_columns_keep_the_minimum_width_and_rows_are_padded_to_the_headers() {
        let mut table = Table::new(["a", "b"]);
        table.row(["x"]);
        table.row(["y", "z", "dropped"]);
        assert_eq!(table.render(false), "A     B\nx\ny     z\n");
    }

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (45, "45s"),
            (119, "119s"),
            (150, "2m30s"),
            (180, "3m"),
            (3 * 3600 - 1, "179m"),
            (2 * 3600, "120m"),
            (3 * 3600 + 60, "3h1m"),
            (9 * 3600, "9h"),
            (4 * 86400, "4d"),
            (4 * 86400 + 3600, "4d1h"),
            (30 * 86400, "30d"),
            (3 * 365 * 86400, "3y"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(human_duration(seconds), expected, "{seconds}s");
        }
        assert_eq!(age(None, Utc::now()), "<unknown>");
    }

    #[test]
    fn long_messages_are_cut_with_an_ellipsis() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("a b c d e f g h", 8), "a b c...");
        assert_eq!(truncate("two\nlines", 20), "two lines");
    }

    #[test]
    fn documents_are_lists_of_the_rows() {
        #[derive(Serialize)]
        struct Row {
            name: &'static str,
        }
        let json = render_list(OutputFormat::Json, &[Row { name: "web" }]).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["kind"], "List");
        assert_eq!(value["items"][0]["name"], "web");
        let yaml = render_list(OutputFormat::Yaml, &[Row { name: "web" }]).unwrap();
        assert!(yaml.contains("kind: List"), "{yaml}");
        assert!(yaml.contains("- name: web"), "{yaml}");
        assert!(render_list(OutputFormat::Table, &[Row { name: "x" }]).is_err());
    }
}
