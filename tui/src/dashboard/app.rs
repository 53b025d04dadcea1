//! The dashboard's state and what each key does to it. Pure: no I/O, no clock reads
//! (the caller sets `now`), so every behaviour is a unit test.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::theme::Theme;
use crate::model::{
    CertRow, ControllerSet, ControllerView, EventRow, Protocol, Resource, RouterRow, Severity,
    sort_problems_first,
};

/// How many req/s samples a router's sparkline keeps.
const RATE_HISTORY: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Routers,
    Resources,
    Problems,
    Certificates,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Overview,
        View::Routers,
        View::Resources,
        View::Problems,
        View::Certificates,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Routers => "Routers",
            View::Resources => "Resources",
            View::Problems => "Problems",
            View::Certificates => "Certificates",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// The view a `:` command names (k9s-style long and short names).
    fn from_command(command: &str) -> Option<View> {
        match command {
            "overview" | "ov" => Some(View::Overview),
            "routers" | "rt" => Some(View::Routers),
            "resources" | "res" => Some(View::Resources),
            "problems" | "pb" => Some(View::Problems),
            "certs" | "certificates" => Some(View::Certificates),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a `:` command.
    Command,
    /// Typing a `/` filter.
    Filter,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help,
    /// A scrollable text: `y` YAML or `d` describe.
    Text {
        title: String,
        /// For describe: the resource whose Events are shown (refreshed when they arrive).
        describes: Option<String>,
        scroll: u16,
    },
}

/// What a drill-down level shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A resource, by [`Resource::key`].
    Resource(String),
    /// A router of the live table, by name.
    Router(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub target: Target,
    pub selected: usize,
}

/// One line of a drill-down: an item of the chain resource -> router -> middlewares,
/// service -> servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillLine {
    pub depth: usize,
    pub item: String,
    pub detail: String,
    pub state: String,
    /// `enter` drills into this router.
    pub router: Option<String>,
    pub problem: bool,
}

/// What `run` has to do after a key (the App itself does no I/O).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    Quit,
}

#[derive(Debug, Clone)]
pub struct App {
    pub theme: Theme,
    /// Context / cluster (or admin URL) for the header.
    pub context: String,
    pub refresh: Duration,
    pub now: DateTime<Utc>,
    pub view: View,
    pub tab: Protocol,
    selected: [usize; 5],
    pub filter: String,
    /// The `:` command being typed.
    pub command: String,
    pub mode: Mode,
    pub drill: Vec<Frame>,
    pub problems_only: bool,
    pub overlay: Option<Overlay>,
    /// `None` until the first snapshot.
    pub resources: Option<Vec<Resource>>,
    /// Why there are no resources (no cluster, forbidden, ...).
    pub resources_error: Option<String>,
    /// The last watch trouble (the last snapshot still stands).
    pub trouble: Option<String>,
    pub controllers: Option<ControllerSet>,
    pub controllers_error: Option<String>,
    /// Events of one resource, by key.
    pub events: Option<(String, Result<Vec<EventRow>, String>)>,
    /// The resource whose Events were asked for (so they are fetched once).
    pub events_requested: Option<String>,
    /// `protocol/name` -> req/s samples, oldest first.
    pub rates: BTreeMap<String, VecDeque<f64>>,
    counters: BTreeMap<String, u64>,
    pub last_refresh: Option<DateTime<Utc>>,
    /// An error for the footer (unknown command, ...).
    pub message: Option<String>,
    pub quit: bool,
}

impl App {
    pub fn new(theme: Theme, context: String, refresh: Duration, now: DateTime<Utc>) -> App {
        App {
            theme,
            context,
            refresh,
            now,
            view: View::Overview,
            tab: Protocol::Http,
            selected: [0; 5],
            filter: String::new(),
            command: String::new(),
            mode: Mode::Normal,
            drill: Vec::new(),
            problems_only: false,
            overlay: None,
            resources: None,
            resources_error: None,
            trouble: None,
            controllers: None,
            controllers_error: None,
            events: None,
            events_requested: None,
            rates: BTreeMap::new(),
            counters: BTreeMap::new(),
            last_refresh: None,
            message: None,
            quit: false,
        }
    }

    // ---- updates from the network tasks ----

    pub fn on_resources(&mut self, resources: Vec<Resource>) {
        self.resources = Some(resources);
        self.resources_error = None;
        self.trouble = None;
    }

    pub fn on_resources_unavailable(&mut self, error: String) {
        self.resources_error = Some(error);
    }

    pub fn on_trouble(&mut self, trouble: String) {
        self.trouble = Some(trouble);
    }

    /// A poll of the admin API; req/s comes from the growth of each router's counter
    /// since the previous poll, over the poll interval.
    pub fn on_controllers(&mut self, set: ControllerSet) {
        let interval = self.refresh.as_secs_f64().max(0.001);
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for view in set.controllers.iter().filter(|c| c.error.is_none()) {
            for router in &view.routers {
                *totals.entry(rate_key(router)).or_default() += router.requests;
            }
        }
        for (key, total) in &totals {
            if let Some(previous) = self.counters.get(key) {
                // A restarted controller starts from 0: no sample rather than a negative one.
                if total >= previous {
                    let history = self.rates.entry(key.clone()).or_default();
                    history.push_back((total - previous) as f64 / interval);
                    if history.len() > RATE_HISTORY {
                        history.pop_front();
                    }
                }
            }
        }
        self.rates.retain(|key, _| totals.contains_key(key));
        self.counters = totals;
        self.controllers = Some(set);
        self.controllers_error = None;
        self.last_refresh = Some(self.now);
    }

    pub fn on_controllers_error(&mut self, error: String) {
        self.controllers_error = Some(error);
    }

    pub fn on_events(&mut self, key: String, events: Result<Vec<EventRow>, String>) {
        self.events = Some((key, events));
    }

    pub fn on_tick(&mut self, now: DateTime<Utc>) {
        self.now = now;
    }

    /// The resource whose Events the current screen shows and that nobody asked for yet;
    /// `run` fetches them and calls [`App::on_events`].
    pub fn events_wanted(&mut self) -> Option<Resource> {
        let wanted = self.events_subject()?.clone();
        let key = wanted.key();
        if self.events_requested.as_deref() == Some(key.as_str()) {
            return None;
        }
        self.events_requested = Some(key);
        Some(wanted)
    }

    fn events_subject(&self) -> Option<&Resource> {
        if let Some(Overlay::Text {
            describes: Some(key),
            ..
        }) = &self.overlay
        {
            return self.resource_by_key(key);
        }
        if let Some(Frame {
            target: Target::Resource(key),
            ..
        }) = self.drill.last()
        {
            return self.resource_by_key(key);
        }
        if self.drill.is_empty() && self.view == View::Problems {
            return self.selected_resource();
        }
        None
    }

    /// The Events loaded for `resource`, if they are the ones in memory.
    pub fn events_of(&self, resource: &Resource) -> Option<&Result<Vec<EventRow>, String>> {
        match &self.events {
            Some((key, events)) if *key == resource.key() => Some(events),
            _ => None,
        }
    }

    // ---- what the views show ----

    /// The controller whose tables the views show: the Lease holder, else the first that answered.
    pub fn primary(&self) -> Option<&ControllerView> {
        let set = self.controllers.as_ref()?;
        let answered = |c: &&ControllerView| c.error.is_none();
        set.lease_holder
            .as_ref()
            .and_then(|holder| {
                set.controllers
                    .iter()
                    .filter(answered)
                    .find(|c| &c.name == holder)
            })
            .or_else(|| set.controllers.iter().find(answered))
    }

    fn matches(&self, fields: &[&str]) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        fields.iter().any(|f| f.to_lowercase().contains(&needle))
    }

    pub fn visible_routers(&self) -> Vec<&RouterRow> {
        let Some(primary) = self.primary() else {
            return Vec::new();
        };
        primary
            .routers
            .iter()
            .filter(|r| r.protocol == self.tab)
            .filter(|r| self.matches(&[&r.name, &r.rule, &r.service, &r.state]))
            .collect()
    }

    /// Resources view rows: every resource (or only problems), by kind, namespace, name.
    pub fn visible_resources(&self) -> Vec<&Resource> {
        let mut rows: Vec<&Resource> = self
            .resources
            .iter()
            .flatten()
            .filter(|r| !self.problems_only || r.severity() != Severity::Ok)
            .filter(|r| self.matches(&[&r.kind, &r.namespace, &r.name, r.reason()]))
            .collect();
        rows.sort_by(|a, b| {
            (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name))
        });
        rows
    }

    /// Problems view rows: every resource that is not Ok, most severe first.
    pub fn visible_problems(&self) -> Vec<Resource> {
        let mut rows: Vec<Resource> = self
            .resources
            .iter()
            .flatten()
            .filter(|r| r.severity() != Severity::Ok)
            .filter(|r| self.matches(&[&r.kind, &r.namespace, &r.name, r.reason(), r.message()]))
            .cloned()
            .collect();
        sort_problems_first(&mut rows);
        rows
    }

    pub fn visible_certs(&self) -> Vec<&CertRow> {
        let Some(primary) = self.primary() else {
            return Vec::new();
        };
        primary
            .certificates
            .iter()
            .filter(|c| self.matches(&[&c.subject, &c.sans.join(","), &c.source]))
            .collect()
    }

    pub fn problem_count(&self) -> usize {
        self.resources
            .iter()
            .flatten()
            .filter(|r| r.severity() != Severity::Ok)
            .count()
    }

    pub fn resource_by_key(&self, key: &str) -> Option<&Resource> {
        self.resources.iter().flatten().find(|r| r.key() == key)
    }

    /// The selected row of the current table (clamped to its length).
    pub fn selected(&self) -> usize {
        let raw = match self.drill.last() {
            Some(frame) => frame.selected,
            None => self.selected[self.view.index()],
        };
        raw.min(self.current_len().saturating_sub(1))
    }

    fn current_len(&self) -> usize {
        if let Some(frame) = self.drill.last() {
            return self.drill_lines(&frame.target).len();
        }
        match self.view {
            View::Overview => 0,
            View::Routers => self.visible_routers().len(),
            View::Resources => self.visible_resources().len(),
            View::Problems => self.visible_problems().len(),
            View::Certificates => self.visible_certs().len(),
        }
    }

    /// The resource `y`/`d`/`enter` act on.
    pub fn selected_resource(&self) -> Option<&Resource> {
        if let Some(Frame {
            target: Target::Resource(key),
            ..
        }) = self.drill.last()
        {
            return self.resource_by_key(key);
        }
        if !self.drill.is_empty() {
            return None;
        }
        let index = self.selected();
        match self.view {
            View::Resources => self.visible_resources().get(index).copied(),
            View::Problems => {
                let key = self.visible_problems().get(index)?.key();
                self.resource_by_key(&key)
            }
            _ => None,
        }
    }

    /// The router whose req/s the Routers view's sparkline shows.
    pub fn selected_router(&self) -> Option<&RouterRow> {
        self.visible_routers().get(self.selected()).copied()
    }

    /// Req/s samples of a router, oldest first.
    pub fn rate_history(&self, router: &RouterRow) -> Vec<f64> {
        self.rates
            .get(&rate_key(router))
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn current_rate(&self, router: &RouterRow) -> Option<f64> {
        self.rates.get(&rate_key(router))?.back().copied()
    }

    /// The chain below a drill-down target, as the live table has it.
    pub fn drill_lines(&self, target: &Target) -> Vec<DrillLine> {
        let mut lines = Vec::new();
        match target {
            Target::Resource(key) => {
                let Some(resource) = self.resource_by_key(key) else {
                    lines.push(line(0, key, "no longer exists", "", false));
                    return lines;
                };
                lines.push(line(
                    0,
                    &format!("{} {}/{}", resource.kind, resource.namespace, resource.name),
                    resource.message(),
                    resource.reason(),
                    resource.severity() != Severity::Ok,
                ));
                if resource.routes.is_empty() {
                    lines.push(line(1, "no routes", "", "", false));
                }
                for route in &resource.routes {
                    let state = if route.ready {
                        "ready".to_string()
                    } else {
                        route.reason.clone().unwrap_or_else(|| "not ready".into())
                    };
                    let detail = route.message.clone().unwrap_or_default();
                    lines.push(line(
                        1,
                        &format!("route #{}", route.index),
                        &detail,
                        &state,
                        !route.ready,
                    ));
                    if route.router.is_empty() {
                        continue;
                    }
                    self.router_lines(&route.router, 2, &mut lines);
                }
            }
            Target::Router(name) => self.router_lines(name, 0, &mut lines),
        }
        lines
    }

    fn router_lines(&self, name: &str, depth: usize, lines: &mut Vec<DrillLine>) {
        let Some(primary) = self.primary() else {
            lines.push(line(
                depth,
                &format!("router {name}"),
                "no controller answered",
                "",
                true,
            ));
            return;
        };
        let Some(router) = primary.routers.iter().find(|r| r.name == name) else {
            lines.push(line(
                depth,
                &format!("router {name}"),
                "not in the live table",
                "missing",
                true,
            ));
            return;
        };
        let mut router_line = line(
            depth,
            &format!("router {}", router.name),
            &router.rule,
            &router.state,
            router.state != "enabled",
        );
        router_line.router = Some(router.name.clone());
        lines.push(router_line);
        for problem in &router.problems {
            lines.push(line(depth + 1, "problem", problem, "", true));
        }
        for middleware in &router.middlewares {
            match primary.middlewares.iter().find(|m| &m.name == middleware) {
                Some(m) => lines.push(line(
                    depth + 1,
                    &format!("middleware {}", m.name),
                    &m.type_,
                    &m.state,
                    m.state != "enabled",
                )),
                None => lines.push(line(
                    depth + 1,
                    &format!("middleware {middleware}"),
                    "",
                    "missing",
                    true,
                )),
            }
        }
        let service = primary
            .services
            .iter()
            .find(|s| s.protocol == router.protocol && s.name == router.service);
        match service {
            Some(s) => {
                lines.push(line(
                    depth + 1,
                    &format!("service {}", s.name),
                    &s.type_,
                    &s.state,
                    s.state != "enabled",
                ));
                for server in &s.servers {
                    lines.push(line(
                        depth + 2,
                        &format!("server {}", server.url),
                        "",
                        &server.status,
                        server.status != "UP",
                    ));
                }
            }
            None if router.service.is_empty() => {}
            None => lines.push(line(
                depth + 1,
                &format!("service {}", router.service),
                "",
                "missing",
                true,
            )),
        }
    }

    // ---- keys ----

    pub fn handle_key(&mut self, key: KeyEvent) -> Effect {
        if key.kind == KeyEventKind::Release {
            return Effect::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return self.quit();
        }
        match self.mode {
            Mode::Command => self.command_key(key),
            Mode::Filter => self.filter_key(key),
            Mode::Normal if self.overlay.is_some() => self.overlay_key(key),
            Mode::Normal => self.normal_key(key, ctrl),
        }
    }

    fn quit(&mut self) -> Effect {
        self.quit = true;
        Effect::Quit
    }

    fn command_key(&mut self, key: KeyEvent) -> Effect {
        match key.code {
            KeyCode::Esc => {
                self.command.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                let command = std::mem::take(&mut self.command);
                return self.run_command(command.trim());
            }
            KeyCode::Backspace if self.command.pop().is_none() => self.mode = Mode::Normal,
            KeyCode::Backspace => {}
            KeyCode::Char(c) => self.command.push(c),
            _ => {}
        }
        Effect::None
    }

    fn run_command(&mut self, command: &str) -> Effect {
        match command {
            "q" | "q!" | "quit" => self.quit(),
            "" => Effect::None,
            _ => {
                match View::from_command(command) {
                    Some(view) => self.switch(view),
                    None => {
                        self.message = Some(format!(
                            "unknown command :{command} (try :overview :routers :resources :problems :certs :q)"
                        ))
                    }
                }
                Effect::None
            }
        }
    }

    fn filter_key(&mut self, key: KeyEvent) -> Effect {
        match key.code {
            KeyCode::Esc => {
                self.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => {}
        }
        Effect::None
    }

    fn overlay_key(&mut self, key: KeyEvent) -> Effect {
        match (&mut self.overlay, key.code) {
            (_, KeyCode::Char('q')) => return self.quit(),
            (_, KeyCode::Esc) | (Some(Overlay::Help), KeyCode::Char('?')) => self.overlay = None,
            (Some(Overlay::Text { scroll, .. }), KeyCode::Down | KeyCode::Char('j')) => {
                *scroll = scroll.saturating_add(1)
            }
            (Some(Overlay::Text { scroll, .. }), KeyCode::Up | KeyCode::Char('k')) => {
                *scroll = scroll.saturating_sub(1)
            }
            (Some(Overlay::Text { scroll, .. }), KeyCode::PageDown) => {
                *scroll = scroll.saturating_add(10)
            }
            (Some(Overlay::Text { scroll, .. }), KeyCode::PageUp) => {
                *scroll = scroll.saturating_sub(10)
            }
            (Some(Overlay::Text { scroll, .. }), KeyCode::Char('g')) => *scroll = 0,
            _ => {}
        }
        Effect::None
    }

    fn normal_key(&mut self, key: KeyEvent, ctrl: bool) -> Effect {
        self.message = None;
        match key.code {
            KeyCode::Char('z') if ctrl => self.problems_only = !self.problems_only,
            KeyCode::Char('q') => return self.quit(),
            KeyCode::Char('?') => self.overlay = Some(Overlay::Help),
            KeyCode::Char(':') => {
                self.command.clear();
                self.mode = Mode::Command;
            }
            KeyCode::Char('/') => {
                self.filter.clear();
                self.mode = Mode::Filter;
            }
            KeyCode::Esc if self.drill.pop().is_none() => self.filter.clear(),
            KeyCode::Esc => {}
            KeyCode::Enter => self.drill_down(),
            KeyCode::Down | KeyCode::Char('j') => self.select(|i, _| i + 1),
            KeyCode::Up | KeyCode::Char('k') => self.select(|i, _| i.saturating_sub(1)),
            KeyCode::Char('g') | KeyCode::Home => self.select(|_, _| 0),
            KeyCode::Char('G') | KeyCode::End => self.select(|_, len| len.saturating_sub(1)),
            KeyCode::Tab => self.cycle(1),
            KeyCode::BackTab => self.cycle(View::ALL.len() - 1),
            KeyCode::Char(c @ '1'..='5') => {
                let index = c as usize - '1' as usize;
                self.switch(View::ALL[index]);
            }
            KeyCode::Char('y') => self.show_yaml(),
            KeyCode::Char('d') => self.show_describe(),
            _ => {}
        }
        Effect::None
    }

    fn switch(&mut self, view: View) {
        self.view = view;
        self.drill.clear();
        self.filter.clear();
    }

    /// `tab`: the next routers tab on the Routers view, else the next view.
    fn cycle(&mut self, step: usize) {
        if self.view == View::Routers && self.drill.is_empty() {
            let index = Protocol::ALL
                .iter()
                .position(|p| *p == self.tab)
                .unwrap_or(0);
            let step = if step == 1 {
                1
            } else {
                Protocol::ALL.len() - 1
            };
            self.tab = Protocol::ALL[(index + step) % Protocol::ALL.len()];
            self.selected[self.view.index()] = 0;
        } else {
            let next = (self.view.index() + step) % View::ALL.len();
            self.switch(View::ALL[next]);
        }
    }

    fn select(&mut self, to: impl Fn(usize, usize) -> usize) {
        let len = self.current_len();
        let next = to(self.selected(), len).min(len.saturating_sub(1));
        match self.drill.last_mut() {
            Some(frame) => frame.selected = next,
            None => self.selected[self.view.index()] = next,
        }
    }

    fn drill_down(&mut self) {
        let target = match self.drill.last() {
            Some(frame) => self
                .drill_lines(&frame.target)
                .get(self.selected())
                .and_then(|l| l.router.clone())
                .map(Target::Router),
            None => match self.view {
                View::Routers => self
                    .selected_router()
                    .map(|r| Target::Router(r.name.clone())),
                View::Resources | View::Problems => {
                    self.selected_resource().map(|r| Target::Resource(r.key()))
                }
                _ => None,
            },
        };
        // Entering the router the current level already shows would only stack copies.
        if let Some(target) = target
            && self.drill.last().map(|f| &f.target) != Some(&target)
        {
            self.drill.push(Frame {
                target,
                selected: 0,
            });
        }
    }

    fn show_yaml(&mut self) {
        match self.selected_resource() {
            Some(resource) => {
                self.overlay = Some(Overlay::Text {
                    title: format!("YAML {}", resource.key()),
                    describes: None,
                    scroll: 0,
                })
            }
            None => self.message = Some("y: select a resource first".into()),
        }
    }

    fn show_describe(&mut self) {
        match self.selected_resource() {
            Some(resource) => {
                let key = resource.key();
                self.overlay = Some(Overlay::Text {
                    title: format!("describe {key}"),
                    describes: Some(key),
                    scroll: 0,
                })
            }
            None => self.message = Some("d: select a resource first".into()),
        }
    }

    /// The text of the YAML or describe overlay.
    pub fn overlay_text(&self) -> String {
        let Some(Overlay::Text {
            title, describes, ..
        }) = &self.overlay
        else {
            return String::new();
        };
        if let Some(key) = describes {
            let Some(resource) = self.resource_by_key(key) else {
                return format!("{key} no longer exists");
            };
            return self.describe(resource);
        }
        let key = title.trim_start_matches("YAML ");
        match self.resource_by_key(key) {
            Some(resource) => serde_yaml::to_string(&resource.object)
                .unwrap_or_else(|error| format!("cannot show as YAML: {error}")),
            None => format!("{key} no longer exists"),
        }
    }

    fn describe(&self, resource: &Resource) -> String {
        let mut text = format!(
            "Kind: {}\nNamespace: {}\nName: {}\nGeneration: {} (status from {})\n\nConditions:\n",
            resource.kind,
            resource.namespace,
            resource.name,
            resource.generation.map_or("-".into(), |g| g.to_string()),
            resource
                .observed_generation
                .map_or("-".into(), |g| g.to_string()),
        );
        if resource.conditions.is_empty() {
            text.push_str("  none (not processed by a Mesh controller yet)\n");
        }
        for c in &resource.conditions {
            text.push_str(&format!(
                "  {} {} {}: {}\n",
                c.type_, c.status, c.reason, c.message
            ));
        }
        text.push_str("\nEvents:\n");
        match self.events_of(resource) {
            None => text.push_str("  loading...\n"),
            Some(Err(error)) => text.push_str(&format!("  unavailable: {error}\n")),
            Some(Ok(events)) if events.is_empty() => text.push_str("  none\n"),
            Some(Ok(events)) => {
                for e in events {
                    text.push_str(&format!(
                        "  {} {} (x{}): {}\n",
                        e.type_, e.reason, e.count, e.message
                    ));
                }
            }
        }
        text
    }
}

/// Why a resource is a problem: a Ready-but-Degraded one is so for its Degraded reason.
pub fn problem_reason(resource: &Resource) -> &str {
    match degraded(resource) {
        Some(c) => c.reason.as_str(),
        None => resource.reason(),
    }
}

pub fn problem_message(resource: &Resource) -> &str {
    match degraded(resource) {
        Some(c) => c.message.as_str(),
        None => resource.message(),
    }
}

fn degraded(
    resource: &Resource,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    (resource.severity() == Severity::Warning)
        .then(|| resource.condition("Degraded"))
        .flatten()
}

fn rate_key(router: &RouterRow) -> String {
    format!("{}/{}", router.protocol.as_str(), router.name)
}

fn line(depth: usize, item: &str, detail: &str, state: &str, problem: bool) -> DrillLine {
    DrillLine {
        depth,
        item: item.to_string(),
        detail: detail.to_string(),
        state: state.to_string(),
        router: None,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::fixtures;

    fn press(app: &mut App, code: KeyCode) -> Effect {
        app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typing(app: &mut App, text: &str) {
        for c in text.chars() {
            press(app, KeyCode::Char(c));
        }
    }

    #[test]
    fn a_colon_command_switches_the_view() {
        let mut app = fixtures::app(false);
        typing(&mut app, ":problems");
        assert_eq!(app.mode, Mode::Command);
        assert_eq!(app.view, View::Overview);
        press(&mut app, KeyCode::Enter);
        assert_eq!((app.view, app.mode), (View::Problems, Mode::Normal));
        typing(&mut app, ":rt");
        press(&mut app, KeyCode::Enter);
        assert_eq!(app.view, View::Routers);
        typing(&mut app, ":res");
        press(&mut app, KeyCode::Esc);
        assert_eq!((app.view, app.mode), (View::Routers, Mode::Normal));
    }

    #[test]
    fn an_unknown_command_shows_an_error_and_stays() {
        let mut app = fixtures::app(false);
        typing(&mut app, "3:pods");
        press(&mut app, KeyCode::Enter);
        assert_eq!(app.view, View::Resources);
        let message = app.message.clone().unwrap_or_default();
        assert!(message.starts_with("unknown command :pods"), "{message}");
        press(&mut app, KeyCode::Char('j'));
        assert_eq!(app.message, None);
    }

    #[test]
    fn a_filter_keeps_matching_rows_case_insensitively() {
        let mut app = fixtures::app(false);
        typing(&mut app, "3/BROK");
        let names: Vec<_> = app
            .visible_resources()
            .iter()
            .map(|r| r.name.clone())
            .collect();
        assert_eq!(names, ["broken"]);
        press(&mut app, KeyCode::Enter);
        assert_eq!((app.mode, app.filter.as_str()), (Mode::Normal, "BROK"));
        typing(&mut app, "/x");
        press(&mut app, KeyCode::Esc);
        assert_eq!(app.filter, "");
        assert_eq!(app.visible_resources().len(), 5);
    }

    #[test]
    fn enter_drills_from_resource_to_router_and_esc_goes_back() {
        let mut app = fixtures::app(false);
        typing(&mut app, "3j");
        assert_eq!(
            app.selected_resource().map(|r| r.name.as_str()),
            Some("web")
        );
        press(&mut app, KeyCode::Enter);
        let target = Target::Resource("IngressRoute/default/web".into());
        assert_eq!(app.drill.last().map(|f| &f.target), Some(&target));
        let lines = app.drill_lines(&target);
        let items: Vec<_> = lines.iter().map(|l| l.item.as_str()).collect();
        assert_eq!(
            items,
            [
                "IngressRoute default/web",
                "route #0",
                "router default-web-0",
                "middleware default-strip",
                "service default-web-80",
                "server http://10.0.0.1:80",
                "server http://10.0.0.2:80",
            ]
        );
        typing(&mut app, "jj");
        press(&mut app, KeyCode::Enter);
        assert_eq!(app.drill.len(), 2);
        press(&mut app, KeyCode::Esc);
        assert_eq!(app.drill.len(), 1);
        press(&mut app, KeyCode::Esc);
        assert!(app.drill.is_empty());
        assert_eq!(app.view, View::Resources);
    }

    #[test]
    fn a_broken_resource_drills_to_its_unbuilt_route() {
        let mut app = fixtures::app(false);
        typing(&mut app, "4");
        press(&mut app, KeyCode::Enter);
        let Some(frame) = app.drill.last() else {
            panic!("no drill-down")
        };
        let lines = app.drill_lines(&frame.target);
        assert_eq!(lines[1].state, "BackendNotFound");
        assert!(lines[1].problem);
    }

    #[test]
    fn ctrl_z_toggles_problems_only() {
        let mut app = fixtures::app(false);
        typing(&mut app, "3");
        let ctrl_z = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL);
        app.handle_key(ctrl_z);
        assert!(app.problems_only);
        let names: Vec<_> = app
            .visible_resources()
            .iter()
            .map(|r| r.name.clone())
            .collect();
        assert_eq!(names, ["broken", "strip", "pending"]);
        app.handle_key(ctrl_z);
        assert_eq!(app.visible_resources().len(), 5);
    }

    #[test]
    fn problems_are_most_severe_first() {
        let app = fixtures::app(false);
        let names: Vec<_> = app
            .visible_problems()
            .iter()
            .map(|r| r.name.clone())
            .collect();
        assert_eq!(names, ["broken", "strip", "pending"]);
    }

    #[test]
    fn q_and_ctrl_c_quit_even_from_an_overlay() {
        let mut app = fixtures::app(false);
        assert_eq!(press(&mut app, KeyCode::Char('q')), Effect::Quit);
        assert!(app.quit);
        let mut app = fixtures::app(false);
        typing(&mut app, "?");
        assert_eq!(app.overlay, Some(Overlay::Help));
        press(&mut app, KeyCode::Esc);
        assert_eq!(app.overlay, None);
        typing(&mut app, ":");
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.handle_key(ctrl_c), Effect::Quit);
        let mut app = fixtures::app(false);
        typing(&mut app, ":q");
        assert_eq!(press(&mut app, KeyCode::Enter), Effect::Quit);
    }

    /// An app after its first poll only.
    fn first_poll() -> App {
        let mut app = App::new(
            Theme { color: false },
            "test".into(),
            Duration::from_secs(1),
            fixtures::now(),
        );
        app.on_controllers(fixtures::controllers());
        app
    }

    #[test]
    fn req_per_second_comes_from_two_polls() {
        let mut app = first_poll();
        let web = |app: &App| app.primary().and_then(|p| p.routers.first()).cloned();
        let Some(router) = web(&app) else {
            panic!("no router")
        };
        assert_eq!(app.current_rate(&router), None);
        let mut set = fixtures::controllers();
        // Three controllers each served 100 more requests in the 1s interval.
        for view in &mut set.controllers {
            view.routers[0].requests += 100;
        }
        app.on_controllers(set.clone());
        assert_eq!(app.current_rate(&router), Some(300.0));
        app.refresh = Duration::from_secs(2);
        for view in &mut set.controllers {
            view.routers[0].requests += 10;
        }
        app.on_controllers(set);
        assert_eq!(app.rate_history(&router), [300.0, 15.0]);
    }

    #[test]
    fn a_counter_that_went_back_gives_no_sample() {
        let mut app = first_poll();
        let mut set = fixtures::controllers();
        set.controllers[0].routers[0].requests = 0;
        app.on_controllers(set);
        let router = app.primary().map(|p| p.routers[0].clone());
        let Some(router) = router else {
            panic!("no router")
        };
        assert!(app.rate_history(&router).is_empty());
    }

    #[test]
    fn events_are_asked_for_once_per_resource() {
        let mut app = fixtures::app(false);
        assert_eq!(app.events_wanted(), None);
        typing(&mut app, "3jd");
        let wanted = app.events_wanted().map(|r| r.key());
        assert_eq!(wanted.as_deref(), Some("IngressRoute/default/web"));
        assert_eq!(app.events_wanted(), None);
        assert!(app.overlay_text().contains("loading..."));
        app.on_events("IngressRoute/default/web".into(), Err("forbidden".into()));
        assert!(app.overlay_text().contains("unavailable: forbidden"));
    }

    #[test]
    fn y_without_a_resource_says_so() {
        let mut app = fixtures::app(false);
        typing(&mut app, "y");
        assert_eq!(app.overlay, None);
        assert_eq!(app.message.as_deref(), Some("y: select a resource first"));
    }

    #[test]
    fn selection_stays_within_the_table() {
        let mut app = fixtures::app(false);
        typing(&mut app, "3G");
        assert_eq!(app.selected(), 4);
        typing(&mut app, "jjj");
        assert_eq!(app.selected(), 4);
        typing(&mut app, "g");
        assert_eq!(app.selected(), 0);
        typing(&mut app, "k");
        assert_eq!(app.selected(), 0);
    }
}
