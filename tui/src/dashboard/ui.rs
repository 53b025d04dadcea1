//! Drawing the [`App`]: a header, the view bar, the view body, a footer of key hints, and
//! the overlays. Pure functions of the state.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Cell, Clear, HighlightSpacing, Paragraph, Row, Sparkline, Table, TableState, Tabs, Wrap,
};

use super::app::{App, Mode, Overlay, Target, View, problem_message, problem_reason};
use crate::model::{Protocol, Severity};

pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;

pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!("terminal too small (need {MIN_WIDTH}x{MIN_HEIGHT})");
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, bar, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, app, header);
    render_view_bar(frame, app, bar);
    match app.drill.last() {
        Some(level) => render_drill(frame, app, &level.target, body),
        None => match app.view {
            View::Overview => render_overview(frame, app, body),
            View::Routers => render_routers(frame, app, body),
            View::Resources => render_resources(frame, app, body),
            View::Problems => render_problems(frame, app, body),
            View::Certificates => render_certs(frame, app, body),
        },
    }
    render_footer(frame, app, footer);
    match &app.overlay {
        Some(Overlay::Help) => render_help(frame, app, body),
        Some(Overlay::Text { title, scroll, .. }) => {
            render_text_overlay(frame, app, title, *scroll, body)
        }
        None => {}
    }
}

fn render_header(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let set = app.controllers.as_ref();
    let count = set.map_or(0, |s| s.controllers.len());
    let lease = set
        .and_then(|s| s.lease_holder.clone())
        .unwrap_or_else(|| "-".into());
    let generation = app
        .primary()
        .map_or("-".into(), |c| c.generation.to_string());
    let refreshed = match app.last_refresh {
        // Only an old poll gets its age: the clock alone says "live" otherwise.
        Some(at) if app.now - at > stale_after(app) => {
            format!("{} (stale {})", at.format("%H:%M:%S"), age(at, app.now))
        }
        Some(at) => at.format("%H:%M:%S").to_string(),
        None => "never".into(),
    };
    let line = Line::from(vec![
        Span::styled(" Mesh ", theme.title()),
        Span::raw(format!(
            " {}  controllers {count}  lease {lease}  gen {generation}  refreshed {refreshed}",
            app.context
        )),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// Three missed polls make the data stale.
fn stale_after(app: &App) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(app.refresh * 3).unwrap_or(chrono::TimeDelta::MAX)
}

fn render_view_bar(frame: &mut Frame, app: &App, area: Rect) {
    let titles = View::ALL.iter().enumerate().map(|(i, view)| {
        let mut title = format!("{} {}", i + 1, view.title());
        if *view == View::Problems {
            title.push_str(&format!("({})", app.problem_count()));
        }
        Line::from(title)
    });
    let tabs = Tabs::new(titles)
        .select(View::ALL.iter().position(|v| *v == app.view))
        .highlight_style(app.theme.selected())
        .divider("|");
    frame.render_widget(tabs, area);
}

fn render_footer(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let line = match app.mode {
        Mode::Command => Line::from(format!(":{}_", app.command)),
        Mode::Filter => Line::from(format!("/{}_", app.filter)),
        Mode::Normal => match &app.message {
            Some(message) => Line::styled(message.clone(), theme.error()),
            None => {
                let mut spans = Vec::new();
                if !app.filter.is_empty() {
                    spans.push(Span::styled(format!("[/{}] ", app.filter), theme.warning()));
                }
                if app.problems_only {
                    spans.push(Span::styled("[problems only] ", theme.warning()));
                }
                let back = if app.drill.is_empty() {
                    ""
                } else {
                    "esc back  "
                };
                spans.push(Span::styled(
                    format!(
                        "{back}? help  : view  / filter  enter drill  y yaml  d describe  ^z problems  q quit"
                    ),
                    theme.dim(),
                ));
                Line::from(spans)
            }
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// A bordered table with the selected row reversed.
fn table<'a>(
    app: &App,
    title: String,
    header: &[&'a str],
    rows: Vec<Row<'a>>,
    widths: &[Constraint],
) -> Table<'a> {
    Table::new(rows, widths.to_vec())
        .header(Row::new(header.iter().map(|h| Cell::from(*h))).style(app.theme.header()))
        .block(Block::bordered().title(title))
        .row_highlight_style(app.theme.selected())
        .highlight_symbol(">")
        .highlight_spacing(HighlightSpacing::Always)
}

fn render_table(frame: &mut Frame, table: Table, selected: Option<usize>, area: Rect) {
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

fn selection(app: &App, len: usize) -> Option<usize> {
    (len > 0).then(|| app.selected())
}

fn unavailable(frame: &mut Frame, app: &App, title: &str, area: Rect) -> bool {
    let text = match (&app.resources, &app.resources_error) {
        (_, Some(error)) => format!("resources unavailable: {error}"),
        (None, None) => "loading resources...".to_string(),
        (Some(_), None) => return false,
    };
    let paragraph = Paragraph::new(Span::styled(text, app.theme.error()))
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(title.to_string()));
    frame.render_widget(paragraph, area);
    true
}

fn render_overview(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let set = app.controllers.as_ref();
    let controller_rows = set.map_or(0, |s| s.controllers.len()) as u16;
    let [entry, counts, controllers] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(controller_rows.max(1) + 3),
    ])
    .areas(area);

    let entry_text = match (app.primary(), &app.controllers_error) {
        (_, Some(error)) => Line::styled(format!("admin API unavailable: {error}"), theme.error()),
        (Some(primary), None) => Line::from(
            primary
                .entry_points
                .iter()
                .map(|e| format!("{} {} ({})", e.name, e.address, e.protocol))
                .collect::<Vec<_>>()
                .join("   "),
        ),
        (None, None) => Line::from("waiting for the admin API..."),
    };
    frame.render_widget(
        Paragraph::new(entry_text).block(Block::bordered().title("Entry points")),
        entry,
    );

    if !unavailable(frame, app, "Resources", counts) {
        let mut per_kind: std::collections::BTreeMap<&str, [usize; 4]> = Default::default();
        for resource in app.resources.iter().flatten() {
            let slot = match resource.severity() {
                Severity::Ok => 0,
                Severity::Warning => 1,
                Severity::Error => 2,
                Severity::Pending => 3,
            };
            per_kind.entry(resource.kind.as_str()).or_default()[slot] += 1;
        }
        let rows = per_kind.into_iter().map(|(kind, n)| {
            let cell = |count: usize, style: Style| {
                Cell::from(count.to_string()).style(if count > 0 { style } else { Style::new() })
            };
            Row::new(vec![
                Cell::from(kind.to_string()),
                cell(n[0], theme.ok()),
                cell(n[1], theme.warning()),
                cell(n[2], theme.error()),
                cell(n[3], theme.severity(Severity::Pending)),
            ])
        });
        let widths = [
            Constraint::Min(18),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(8),
        ];
        let counts_table = table(
            app,
            "Resources".into(),
            &["KIND", "OK", "WARNING", "ERROR", "PENDING"],
            rows.collect(),
            &widths,
        )
        .highlight_symbol("");
        render_table(frame, counts_table, None, counts);
    }

    let out_of_step = set.map(|s| s.out_of_step()).unwrap_or_default();
    let rows = set.iter().flat_map(|s| &s.controllers).map(|c| {
        let lease = if set.and_then(|s| s.lease_holder.as_ref()) == Some(&c.name) {
            "holder"
        } else {
            ""
        };
        let (state, style) = match &c.error {
            Some(error) => (error.clone(), theme.error()),
            None if out_of_step.contains(&c.name.as_str()) => {
                ("out of step".into(), theme.warning())
            }
            None => ("ok".into(), theme.ok()),
        };
        Row::new(vec![
            Cell::from(c.name.clone()),
            Cell::from(c.version.clone()),
            Cell::from(c.generation.to_string()),
            Cell::from(lease),
            Cell::from(state).style(style),
        ])
    });
    let widths = [
        Constraint::Min(16),
        Constraint::Length(10),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Min(10),
    ];
    let controllers_table = table(
        app,
        "Controllers".into(),
        &["NAME", "VERSION", "GEN", "LEASE", "STATE"],
        rows.collect(),
        &widths,
    )
    .highlight_symbol("");
    render_table(frame, controllers_table, None, controllers);
}

fn render_routers(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let [tabs, list, spark] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(5),
    ])
    .areas(area);
    let tab_titles = Protocol::ALL.iter().map(|p| p.as_str().to_uppercase());
    frame.render_widget(
        Tabs::new(tab_titles)
            .select(Protocol::ALL.iter().position(|p| *p == app.tab))
            .highlight_style(theme.selected()),
        tabs,
    );
    let routers = app.visible_routers();
    let rows: Vec<Row> = routers
        .iter()
        .map(|r| {
            let rate = app
                .current_rate(r)
                .map_or("-".into(), |rate| format!("{rate:.1}"));
            Row::new(vec![
                Cell::from(r.name.clone()),
                Cell::from(r.rule.clone()),
                Cell::from(r.service.clone()),
                Cell::from(r.middlewares.join(",")),
                Cell::from(r.state.clone()).style(theme.state(&r.state)),
                Cell::from(rate),
                Cell::from(format!("{:.1}", r.error_rate() * 100.0)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Fill(3),
        Constraint::Fill(4),
        Constraint::Fill(3),
        Constraint::Fill(2),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(5),
    ];
    let title = format!(
        "{} routers ({})",
        app.tab.as_str().to_uppercase(),
        routers.len()
    );
    let selected = selection(app, routers.len());
    let routers_table = table(
        app,
        title,
        &[
            "NAME",
            "RULE",
            "SERVICE",
            "MIDDLEWARES",
            "STATE",
            "REQ/S",
            "ERR%",
        ],
        rows,
        &widths,
    );
    render_table(frame, routers_table, selected, list);

    let (title, data) = match app.selected_router() {
        Some(router) => {
            let history = app.rate_history(router);
            let now = history.last().map_or("-".into(), |r| format!("{r:.1}"));
            (
                format!("req/s of {} (now {now})", router.name),
                history.iter().map(|r| r.round() as u64).collect(),
            )
        }
        None => ("req/s".to_string(), Vec::new()),
    };
    frame.render_widget(
        Sparkline::default()
            .block(Block::bordered().title(title))
            .data(&data)
            .style(theme.ok()),
        spark,
    );
}

fn render_resources(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let [list, details] = Layout::vertical([Constraint::Min(3), Constraint::Length(7)]).areas(area);
    let title = if app.problems_only {
        "Resources (problems only)"
    } else {
        "Resources"
    };
    if unavailable(frame, app, title, area) {
        return;
    }
    let resources = app.visible_resources();
    let rows: Vec<Row> = resources
        .iter()
        .map(|r| {
            Row::new(vec![
                Cell::from(r.kind.clone()),
                Cell::from(r.namespace.clone()),
                Cell::from(r.name.clone()),
                Cell::from(r.ready().to_string()).style(theme.severity(r.severity())),
                Cell::from(r.reason().to_string()),
                Cell::from(r.created.map_or("-".into(), |c| age(c, app.now))),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(16),
        Constraint::Fill(1),
        Constraint::Fill(2),
        Constraint::Length(7),
        Constraint::Fill(2),
        Constraint::Length(5),
    ];
    let selected = selection(app, resources.len());
    let resources_table = table(
        app,
        format!("{title} ({})", resources.len()),
        &["KIND", "NAMESPACE", "NAME", "READY", "REASON", "AGE"],
        rows,
        &widths,
    );
    render_table(frame, resources_table, selected, list);

    let lines: Vec<Line> = match app.selected_resource() {
        Some(resource) if resource.conditions.is_empty() => {
            vec![Line::from(resource.message().to_string())]
        }
        Some(resource) => resource
            .conditions
            .iter()
            .map(|c| {
                let style = match (c.type_.as_str(), c.status.as_str()) {
                    ("Degraded", "True") => theme.warning(),
                    (_, "True") => theme.ok(),
                    _ => theme.error(),
                };
                Line::from(vec![
                    Span::styled(format!("{} {} ", c.type_, c.status), style),
                    Span::raw(format!("{}: {}", c.reason, c.message)),
                ])
            })
            .collect(),
        None => vec![Line::from("nothing selected")],
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title("Conditions")),
        details,
    );
}

fn render_problems(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let [list, events] = Layout::vertical([Constraint::Min(3), Constraint::Length(7)]).areas(area);
    if unavailable(frame, app, "Problems", area) {
        return;
    }
    let problems = app.visible_problems();
    let rows: Vec<Row> = problems
        .iter()
        .map(|r| {
            let severity = format!("{:?}", r.severity());
            Row::new(vec![
                Cell::from(severity).style(theme.severity(r.severity())),
                Cell::from(format!("{} {}/{}", r.kind, r.namespace, r.name)),
                Cell::from(problem_reason(r).to_string()),
                Cell::from(problem_message(r).to_string()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(8),
        Constraint::Fill(3),
        Constraint::Fill(2),
        Constraint::Fill(3),
    ];
    let selected = selection(app, problems.len());
    let title = if problems.is_empty() {
        "Problems: none, everything is Ready".to_string()
    } else {
        format!("Problems ({})", problems.len())
    };
    let problems_table = table(
        app,
        title,
        &["SEVERITY", "RESOURCE", "REASON", "MESSAGE"],
        rows,
        &widths,
    );
    render_table(frame, problems_table, selected, list);

    let lines: Vec<Line> = match app.selected_resource() {
        None => vec![],
        Some(resource) => match app.events_of(resource) {
            None => vec![Line::from("loading events...")],
            Some(Err(error)) => vec![Line::styled(
                format!("events unavailable: {error}"),
                theme.error(),
            )],
            Some(Ok(list)) if list.is_empty() => vec![Line::from("no events")],
            Some(Ok(list)) => list
                .iter()
                .map(|e| {
                    let style = if e.type_ == "Warning" {
                        theme.warning()
                    } else {
                        Style::new()
                    };
                    Line::from(vec![
                        Span::styled(format!("{} {} ", e.type_, e.reason), style),
                        Span::raw(format!("(x{}) {}", e.count, e.message)),
                    ])
                })
                .collect(),
        },
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title("Events")),
        events,
    );
}

fn render_certs(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let certs = app.visible_certs();
    let rows: Vec<Row> = certs
        .iter()
        .map(|c| {
            let days = c.days_left(app.now);
            let days_text = match (&c.error, days) {
                (Some(error), _) => error.clone(),
                (None, Some(d)) => d.to_string(),
                (None, None) => "-".into(),
            };
            Row::new(vec![
                Cell::from(c.subject.clone()),
                Cell::from(c.sans.join(",")),
                Cell::from(
                    c.not_after
                        .map_or("-".into(), |t| t.format("%Y-%m-%d").to_string()),
                ),
                Cell::from(days_text).style(theme.days_left(days)),
                Cell::from(c.source.clone()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Fill(2),
        Constraint::Fill(2),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Fill(2),
    ];
    let title = match &app.controllers_error {
        Some(error) => format!("Certificates (admin API unavailable: {error})"),
        None => format!("Certificates ({})", certs.len()),
    };
    let selected = selection(app, certs.len());
    let certs_table = table(
        app,
        title,
        &["SUBJECT", "SANS", "NOT AFTER", "DAYS LEFT", "SOURCE"],
        rows,
        &widths,
    );
    render_table(frame, certs_table, selected, area);
}

fn render_drill(frame: &mut Frame, app: &App, target: &Target, area: Rect) {
    let theme = app.theme;
    let lines = app.drill_lines(target);
    let rows: Vec<Row> = lines
        .iter()
        .map(|l| {
            let style = if l.problem {
                theme.error()
            } else {
                theme.state(&l.state)
            };
            Row::new(vec![
                Cell::from(format!("{}{}", "  ".repeat(l.depth), l.item)),
                Cell::from(l.state.clone()).style(style),
                Cell::from(l.detail.clone()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Fill(3),
        Constraint::Length(16),
        Constraint::Fill(3),
    ];
    let title = match target {
        Target::Resource(key) => format!("{key} (esc back, enter on a router)"),
        Target::Router(name) => format!("router {name} (esc back)"),
    };
    let selected = selection(app, lines.len());
    render_table(
        frame,
        table(app, title, &["ITEM", "STATE", "DETAIL"], rows, &widths),
        selected,
        area,
    );
}

const HELP: &[(&str, &str)] = &[
    ("?", "this help"),
    (
        ":",
        "view: overview ov, routers rt, resources res, problems pb, certs, q",
    ),
    ("/", "filter rows (enter keeps, esc clears)"),
    ("enter", "drill down"),
    ("esc", "back / close"),
    ("j k ↑ ↓ g G", "move"),
    ("tab S-tab", "routers tab / next view"),
    ("1..5", "views"),
    ("y", "YAML of the resource"),
    ("d", "describe (conditions, events)"),
    ("ctrl-z", "problems only"),
    ("q ctrl-c", "quit"),
];

fn render_help(frame: &mut Frame, app: &App, area: Rect) {
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:>12} "), app.theme.header()),
                Span::raw(*what),
            ])
        })
        .collect();
    let popup = centered(area, 76, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title("Keys (esc closes)")),
        popup,
    );
}

fn render_text_overlay(frame: &mut Frame, app: &App, title: &str, scroll: u16, area: Rect) {
    let popup = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(Text::from(app.overlay_text()))
            .scroll((scroll, 0))
            .block(Block::bordered().title(format!("{title} (j/k scroll, esc closes)"))),
        popup,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// kubectl-style age: `45s`, `12m`, `5h`, `3d`.
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - since).num_seconds().max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::Color;

    use super::*;
    use crate::dashboard::fixtures;
    use crate::dashboard::theme::Theme;

    const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (60, 20)];

    fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| render(frame, app)).unwrap();
        terminal
    }

    fn keys(app: &mut App, text: &str) {
        for c in text.chars() {
            let code = match c {
                '\n' => KeyCode::Enter,
                '\t' => KeyCode::Tab,
                c => KeyCode::Char(c),
            };
            app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
        }
    }

    /// Snapshots of the app after `keys` at the three sizes.
    fn snapshots(name: &str, typed: &str) {
        let mut app = fixtures::app(false);
        keys(&mut app, typed);
        for (width, height) in SIZES {
            insta::assert_snapshot!(
                format!("{name}_{width}x{height}"),
                draw(&app, width, height).backend()
            );
        }
    }

    #[test]
    fn overview() {
        snapshots("overview", "");
    }

    #[test]
    fn routers() {
        snapshots("routers", "2");
    }

    #[test]
    fn routers_tcp_tab() {
        let mut app = fixtures::app(false);
        keys(&mut app, "2\t");
        let text = draw(&app, 80, 24).backend().to_string();
        assert!(text.contains("default-db-0"), "{text}");
        assert!(!text.contains("default-web-0"), "{text}");
    }

    #[test]
    fn resources() {
        snapshots("resources", "3");
    }

    #[test]
    fn problems() {
        let mut app = fixtures::app(false);
        keys(&mut app, "4");
        let wanted = app.events_wanted().map(|r| r.key());
        assert_eq!(wanted.as_deref(), Some("IngressRoute/default/broken"));
        app.on_events(
            "IngressRoute/default/broken".into(),
            Ok(vec![crate::model::EventRow {
                type_: "Warning".into(),
                reason: "BackendNotFound".into(),
                message: "service default/missing does not exist".into(),
                count: 3,
                last_seen: Some(fixtures::now()),
            }]),
        );
        for (width, height) in SIZES {
            insta::assert_snapshot!(
                format!("problems_{width}x{height}"),
                draw(&app, width, height).backend()
            );
        }
    }

    #[test]
    fn certificates() {
        snapshots("certificates", "5");
    }

    #[test]
    fn drill_down_from_a_resource() {
        // Resources are sorted by kind then name: IngressRoute/web is the second row.
        snapshots("drill_resource", "3j\n");
    }

    #[test]
    fn drill_down_from_a_router() {
        snapshots("drill_router", "2\n");
    }

    #[test]
    fn help() {
        snapshots("help", "?");
    }

    #[test]
    fn yaml_overlay_shows_the_object() {
        let mut app = fixtures::app(false);
        keys(&mut app, "3jy");
        let text = draw(&app, 80, 24).backend().to_string();
        assert!(text.contains("YAML IngressRoute/default/web"), "{text}");
        assert!(text.contains("kind: IngressRoute"), "{text}");
    }

    #[test]
    fn without_a_cluster_resources_say_why() {
        let mut app = App::new(
            Theme { color: false },
            "http://127.0.0.1:9000".into(),
            std::time::Duration::from_secs(1),
            fixtures::now(),
        );
        app.on_resources_unavailable("cannot reach the apiserver at https://127.0.0.1:6443".into());
        app.on_controllers(fixtures::controllers());
        insta::assert_snapshot!("admin_only_overview_80x24", draw(&app, 80, 24).backend());
        keys(&mut app, "4");
        let problems = draw(&app, 80, 24).backend().to_string();
        assert!(
            problems.contains("resources unavailable: cannot reach"),
            "{problems}"
        );
        keys(&mut app, "2");
        assert!(
            draw(&app, 80, 24)
                .backend()
                .to_string()
                .contains("default-web-0")
        );
    }

    #[test]
    fn a_tiny_terminal_says_so_without_panicking() {
        let app = fixtures::app(true);
        let text = draw(&app, 20, 5).backend().to_string();
        assert!(text.contains("terminal too"), "{text}");
        for (width, height) in [(1, 1), (39, 24), (80, 9)] {
            let text = draw(&app, width, height).backend().to_string();
            assert!(text.starts_with("\"t"), "{text}");
        }
        assert!(
            !draw(&app, 40, 10)
                .backend()
                .to_string()
                .contains("too small")
        );
    }

    #[test]
    fn no_color_means_no_colours_but_a_reversed_selection() {
        let colours = |color: bool| {
            let mut app = fixtures::app(color);
            keys(&mut app, "4");
            let terminal = draw(&app, 80, 24);
            let buffer = terminal.backend().buffer().clone();
            let reversed = buffer
                .content
                .iter()
                .any(|c| c.modifier.contains(ratatui::style::Modifier::REVERSED));
            let coloured = buffer
                .content
                .iter()
                .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
                .count();
            (coloured, reversed)
        };
        assert_eq!(colours(false), (0, true));
        let (coloured, reversed) = colours(true);
        assert!(coloured > 0 && reversed);
    }

    #[test]
    fn ages_read_like_kubectl() {
        let now = fixtures::now();
        assert_eq!(age(now - chrono::Duration::seconds(45), now), "45s");
        assert_eq!(age(now - chrono::Duration::minutes(12), now), "12m");
        assert_eq!(age(now - chrono::Duration::hours(5), now), "5h");
        assert_eq!(age(now - chrono::Duration::days(3), now), "3d");
    }
}
