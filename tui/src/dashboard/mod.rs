//! `kubectl mesh dashboard`: the terminal UI.
//!
//! Network tasks (the resource watch, the admin API poll, Events on demand) and a thread
//! reading the keyboard all send [`Message`]s into one channel; the loop applies them to
//! the [`app::App`] and redraws with the pure [`ui::render`].

mod app;
#[cfg(test)]
mod fixtures;
mod theme;
mod ui;

use std::time::Duration;

use chrono::Utc;
use crossterm::event::{self, Event, KeyEvent};
use tokio::sync::mpsc;

use crate::admin::fetch_controllers;
use crate::cli::{DashboardArgs, GlobalArgs};
use crate::cluster::{Cluster, ResourceKind, WatchUpdate, connect, events_for, watch_resources};
use crate::error::{CliError, CliResult};
use crate::model::{ControllerSet, EventRow};
use app::{App, Effect};
use theme::Theme;

/// Everything that changes the dashboard's state.
enum Message {
    Key(KeyEvent),
    Resize,
    Watch(WatchUpdate),
    ResourcesUnavailable(String),
    Controllers(Result<ControllerSet, String>),
    Events(String, Result<Vec<EventRow>, String>),
}

/// How often the clock in the header moves without any other change.
const TICK: Duration = Duration::from_secs(1);

pub async fn run(global: &GlobalArgs, args: &DashboardArgs) -> CliResult {
    // Without a cluster the admin API alone still shows routers and certificates.
    let cluster = match connect(global).await {
        Ok(cluster) => Ok(cluster),
        Err(error) if global.admin_url.is_some() => Err(error.to_string()),
        Err(error) => return Err(error),
    };
    let context = match (&cluster, &global.admin_url) {
        (Ok(c), _) => c.context.clone().unwrap_or_else(|| c.server.clone()),
        (Err(_), Some(url)) => url.clone(),
        (Err(_), None) => "-".into(),
    };
    let theme = Theme::from_env(std::env::var_os("NO_COLOR"));
    let mut app = App::new(theme, context, args.refresh, Utc::now());

    let (sender, mut messages) = mpsc::channel::<Message>(64);
    let cluster = match cluster {
        Ok(cluster) => {
            spawn_watch(global, cluster.clone(), sender.clone());
            Some(cluster)
        }
        Err(error) => {
            app.on_resources_unavailable(error);
            None
        }
    };
    spawn_poll(
        global.clone(),
        cluster.clone(),
        args.refresh,
        sender.clone(),
    );
    spawn_keyboard(sender.clone())?;

    let mut terminal = ratatui::init();
    let result = async {
        let mut tick = tokio::time::interval(TICK);
        loop {
            terminal
                .draw(|frame| ui::render(frame, &app))
                .map_err(|e| CliError::usage(format!("cannot draw the dashboard: {e}")))?;
            if app.quit {
                return Ok(());
            }
            tokio::select! {
                _ = tick.tick() => app.on_tick(Utc::now()),
                message = messages.recv() => {
                    let Some(message) = message else { return Ok(()) };
                    app.on_tick(Utc::now());
                    match message {
                        Message::Key(key) => {
                            if app.handle_key(key) == Effect::Quit {
                                return Ok(());
                            }
                        }
                        Message::Resize => {}
                        Message::Watch(WatchUpdate::Snapshot(resources)) => app.on_resources(resources),
                        Message::Watch(WatchUpdate::Trouble(trouble)) => app.on_trouble(trouble),
                        Message::ResourcesUnavailable(error) => app.on_resources_unavailable(error),
                        Message::Controllers(Ok(set)) => app.on_controllers(set),
                        Message::Controllers(Err(error)) => app.on_controllers_error(error),
                        Message::Events(key, events) => app.on_events(key, events),
                    }
                }
            }
            if let (Some(cluster), Some(resource)) = (&cluster, app.events_wanted()) {
                let (cluster, sender) = (cluster.clone(), sender.clone());
                tokio::spawn(async move {
                    let events = events_for(&cluster, &resource)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = sender.send(Message::Events(resource.key(), events)).await;
                });
            }
        }
    }
    .await;
    ratatui::restore();
    result
}

/// Forwards the live resource lists, or why there are none.
fn spawn_watch(global: &GlobalArgs, cluster: Cluster, sender: mpsc::Sender<Message>) {
    let scope = cluster.scope(global);
    let selector = global.selector.clone();
    tokio::spawn(async move {
        match watch_resources(&cluster, &scope, selector.as_deref(), &ResourceKind::ALL).await {
            Ok(mut updates) => {
                while let Some(update) = updates.recv().await {
                    if sender.send(Message::Watch(update)).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                let _ = sender
                    .send(Message::ResourcesUnavailable(error.to_string()))
                    .await;
            }
        }
    });
}

/// Polls the admin API every `refresh`.
fn spawn_poll(
    global: GlobalArgs,
    cluster: Option<Cluster>,
    refresh: Duration,
    sender: mpsc::Sender<Message>,
) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(refresh);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let set = fetch_controllers(&global, cluster.as_ref())
                .await
                .map_err(|e| e.to_string());
            if sender.send(Message::Controllers(set)).await.is_err() {
                return;
            }
        }
    });
}

/// crossterm's blocking reads on their own thread; it ends once the loop is gone.
fn spawn_keyboard(sender: mpsc::Sender<Message>) -> CliResult {
    std::thread::Builder::new()
        .name("dashboard-keys".into())
        .spawn(move || {
            while !sender.is_closed() {
                match event::poll(Duration::from_millis(200)) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(_) => return,
                }
                let message = match event::read() {
                    Ok(Event::Key(key)) => Message::Key(key),
                    Ok(Event::Resize(..)) => Message::Resize,
                    Ok(_) => continue,
                    Err(_) => return,
                };
                if sender.blocking_send(message).is_err() {
                    return;
                }
            }
        })
        .map(|_| ())
        .map_err(|e| CliError::usage(format!("cannot read the keyboard: {e}")))
}
