//! The running proxy: the current configuration generation behind an arc-swap, and `apply`.
//!
//! `apply` builds a complete new [`Generation`] off the request path and swaps it in with one
//! atomic store. A request loads the generation once when it starts and keeps it to the end,
//! so requests in flight finish on the table they started with, and connections are never
//! touched by an apply. Applies are serialised by a mutex the request path never takes.
mod build;
mod layers;
mod report;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;

pub use build::Generation;
pub use report::{ApplyReport, ObjectReport, ObjectStatus, Problem};
pub(crate) use report::{check_priority, parse_rule};

use crate::config::{Config, StaticConfig};
use crate::metrics::CounterRegistry;
use crate::router::access_log::AccessLog;

/// Produces the per-object conditions the operator computed, served on `/api/status`.
pub type StatusSource = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The data plane. Cheap to clone: clones share the same state.
#[derive(Clone)]
pub struct Proxy {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub static_config: StaticConfig,
    /// Entry point names in [`StaticConfig::entry_points`] order; a listener knows its slot.
    pub entry_point_names: Vec<Arc<str>>,
    pub current: ArcSwap<Generation>,
    apply_lock: Mutex<()>,
    pub counters: CounterRegistry,
    pub access_log: AccessLog,
    pub status_source: RwLock<Option<StatusSource>>,
    pub bound: RwLock<BoundAddresses>,
}

/// Where the listeners actually listen (port 0 becomes a real port).
#[derive(Debug, Clone, Default)]
pub struct BoundAddresses {
    pub entry_points: std::collections::BTreeMap<String, SocketAddr>,
    pub admin: Option<SocketAddr>,
}

impl Proxy {
    /// A proxy serving nothing yet (every request is a 404 until the first apply). Must be
    /// created inside a tokio runtime.
    pub fn new(static_config: StaticConfig) -> Proxy {
        let entry_point_names: Vec<Arc<str>> = static_config
            .entry_points
            .keys()
            .map(|name| Arc::from(name.as_str()))
            .collect();
        let empty = Generation::empty(entry_point_names.len());
        Proxy {
            shared: Arc::new(Shared {
                static_config,
                entry_point_names,
                current: ArcSwap::from_pointee(empty),
                apply_lock: Mutex::new(()),
                counters: CounterRegistry::default(),
                access_log: AccessLog::default(),
                status_source: RwLock::new(None),
                bound: RwLock::new(BoundAddresses::default()),
            }),
        }
    }

    /// Validates and compiles `config`, then swaps it in atomically. Invalid routers are left
    /// out and reported; everything valid is served. Must be called inside a tokio runtime
    /// (health checks start here).
    pub fn apply(&self, config: Config) -> Arc<ApplyReport> {
        let _serialised = self
            .shared
            .apply_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let previous = self.shared.current.load_full();
        let generation = build::build_generation(build::BuildInput {
            static_config: &self.shared.static_config,
            config,
            number: previous.number + 1,
            previous: &previous,
            counters: &self.shared.counters,
        });
        let report = Arc::clone(&generation.report);
        self.shared.current.store(Arc::new(generation));
        // Freeing a large generation takes milliseconds: do it off the caller's path (the
        // last in-flight request of the old generation may also be the one to free it).
        retire(previous);
        let (routers, _, router_errors) = ApplyReport::tally(&report.routers);
        tracing::info!(
            generation = report.generation,
            routers,
            router_errors,
            apply_ms = report.apply_seconds * 1e3,
            "configuration applied"
        );
        report
    }

    /// The generation being served.
    pub fn current(&self) -> Arc<Generation> {
        self.shared.current.load_full()
    }

    /// The number of the generation being served (0 before the first apply).
    pub fn generation(&self) -> u64 {
        self.shared.current.load().number
    }

    /// The report of the generation being served.
    pub fn report(&self) -> Arc<ApplyReport> {
        Arc::clone(&self.shared.current.load().report)
    }

    pub fn static_config(&self) -> &StaticConfig {
        &self.shared.static_config
    }

    /// Lets `/api/status` serve what `source` returns (the operator's per-object conditions).
    pub fn set_status_source(&self, source: StatusSource) {
        *self
            .shared
            .status_source
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(source);
    }

    /// Where the entry points and the admin API listen, once started.
    pub fn bound_addresses(&self) -> BoundAddresses {
        self.shared
            .bound
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Access log entries lost because the writer fell behind.
    pub fn access_log_dropped(&self) -> u64 {
        self.shared.access_log.dropped()
    }
}

/// Drops a replaced generation on a blocking-pool thread when a runtime is at hand.
fn retire(previous: Arc<Generation>) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(move || drop(previous));
        }
        Err(_) => drop(previous),
    }
}
