//! Live traffic counters per router and per service.
//!
//! The request path only touches atomics: a matched route holds `Arc`s to its router's and
//! service's [`TrafficCounters`], resolved at apply time. The [`CounterRegistry`] hands out
//! the same counters to the next configuration for names that stay, so counts survive an
//! apply; it is locked only while applying and while rendering.
mod prometheus;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use prometheus::render_prometheus;

/// Upper bounds (seconds) of the latency histogram buckets; a last bucket takes the rest.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Counters of one router or service.
#[derive(Debug, Default)]
pub struct TrafficCounters {
    requests: AtomicU64,
    /// Responses by class: 1xx, 2xx, 3xx, 4xx, 5xx.
    by_class: [AtomicU64; 5],
    in_flight: AtomicI64,
    /// Cumulative counts are computed when rendering; each slot counts its own bucket.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
}

impl TrafficCounters {
    fn begin(&self) {
        self.requests.fetch_add(1, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
    }

    /// Ends a request; `sample` is `None` when it got no response.
    fn finish(&self, sample: Option<&Sample>) {
        self.in_flight.fetch_sub(1, Relaxed);
        if let Some(sample) = sample {
            self.by_class[sample.class].fetch_add(1, Relaxed);
            self.latency[sample.bucket].fetch_add(1, Relaxed);
            self.latency_sum_micros.fetch_add(sample.micros, Relaxed);
        }
    }

    /// A consistent-enough copy for the admin API (each field is read atomically).
    pub fn snapshot(&self) -> CountersSnapshot {
        let class = |i: usize| self.by_class[i].load(Relaxed);
        let latency: Vec<u64> = self.latency.iter().map(|slot| slot.load(Relaxed)).collect();
        CountersSnapshot {
            requests: self.requests.load(Relaxed),
            status_1xx: class(0),
            status_2xx: class(1),
            status_3xx: class(2),
            status_4xx: class(3),
            status_5xx: class(4),
            in_flight: self.in_flight.load(Relaxed).max(0),
            latency_buckets: latency,
            latency_sum_seconds: self.latency_sum_micros.load(Relaxed) as f64 / 1e6,
        }
    }
}

/// Where one response lands in the counters: worked out once, then recorded in the
/// router's and the service's counters alike.
struct Sample {
    /// Index in `by_class`.
    class: usize,
    /// Index in `latency`.
    bucket: usize,
    micros: u64,
}

impl Sample {
    fn new(status: u16, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        Sample {
            class: usize::from(status / 100).clamp(1, 5) - 1,
            bucket: LATENCY_BUCKETS
                .iter()
                .position(|&le| seconds <= le)
                .unwrap_or(LATENCY_BUCKETS.len()),
            micros: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

/// What the admin API shows under `stats` for a router or service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountersSnapshot {
    pub requests: u64,
    #[serde(rename = "1xx")]
    pub status_1xx: u64,
    #[serde(rename = "2xx")]
    pub status_2xx: u64,
    #[serde(rename = "3xx")]
    pub status_3xx: u64,
    #[serde(rename = "4xx")]
    pub status_4xx: u64,
    #[serde(rename = "5xx")]
    pub status_5xx: u64,
    pub in_flight: i64,
    /// Per-bucket (not cumulative) counts; bounds are [`LATENCY_BUCKETS`] then +Inf.
    pub latency_buckets: Vec<u64>,
    pub latency_sum_seconds: f64,
}

/// Counts one request on its router and service from start to response headers. Dropped
/// without [`RequestTimer::finish`] (client went away), it only releases the in-flight slot.
/// It borrows the counters from the matched route, so timing a request costs no reference
/// counting.
pub struct RequestTimer<'a> {
    counters: [Option<&'a TrafficCounters>; 2],
    started: Instant,
    finished: bool,
}

impl<'a> RequestTimer<'a> {
    pub fn start(
        router: Option<&'a TrafficCounters>,
        service: Option<&'a TrafficCounters>,
    ) -> Self {
        let counters = [router, service];
        for counter in counters.iter().flatten() {
            counter.begin();
        }
        RequestTimer {
            counters,
            started: Instant::now(),
            finished: false,
        }
    }

    /// Records the response status; returns the time since start.
    pub fn finish(mut self, status: u16) -> Duration {
        let elapsed = self.started.elapsed();
        if self.counters.iter().any(Option::is_some) {
            let sample = Sample::new(status, elapsed);
            for counter in self.counters.iter().flatten() {
                counter.finish(Some(&sample));
            }
        }
        self.finished = true;
        elapsed
    }
}

impl Drop for RequestTimer<'_> {
    fn drop(&mut self) {
        if !self.finished {
            for counter in self.counters.iter().flatten() {
                counter.finish(None);
            }
        }
    }
}

/// Counters by name, kept across configuration generations.
#[derive(Debug, Default)]
pub struct CounterRegistry {
    routers: Mutex<HashMap<String, Arc<TrafficCounters>>>,
    services: Mutex<HashMap<String, Arc<TrafficCounters>>>,
}

impl CounterRegistry {
    /// The counters of a router, created on first use.
    pub fn router(&self, name: &str) -> Arc<TrafficCounters> {
        get_or_create(&self.routers, name)
    }

    /// The counters of a service, created on first use.
    pub fn service(&self, name: &str) -> Arc<TrafficCounters> {
        get_or_create(&self.services, name)
    }

    /// Forgets the counters of routers and services that left the configuration.
    pub fn retain(&self, routers: &dyn Fn(&str) -> bool, services: &dyn Fn(&str) -> bool) {
        lock(&self.routers).retain(|name, _| routers(name));
        lock(&self.services).retain(|name, _| services(name));
    }

    pub fn router_snapshots(&self) -> BTreeMap<String, CountersSnapshot> {
        snapshots(&self.routers)
    }

    pub fn service_snapshots(&self) -> BTreeMap<String, CountersSnapshot> {
        snapshots(&self.services)
    }
}

// A panic while holding the lock leaves plain counters behind, still valid: keep going.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn get_or_create(
    map: &Mutex<HashMap<String, Arc<TrafficCounters>>>,
    name: &str,
) -> Arc<TrafficCounters> {
    let mut map = lock(map);
    if let Some(counters) = map.get(name) {
        return Arc::clone(counters);
    }
    let counters = Arc::new(TrafficCounters::default());
    map.insert(name.to_owned(), Arc::clone(&counters));
    counters
}

fn snapshots(
    map: &Mutex<HashMap<String, Arc<TrafficCounters>>>,
) -> BTreeMap<String, CountersSnapshot> {
    lock(map)
        .iter()
        .map(|(name, counters)| (name.clone(), counters.snapshot()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_counts_status_class_latency_and_in_flight() {
        let registry = CounterRegistry::default();
        let router = registry.router("r");
        let service = registry.service("s");
        let timer = RequestTimer::start(Some(&*router), Some(&*service));
        assert_eq!(router.snapshot().in_flight, 1);
        timer.finish(503);
        let snap = router.snapshot();
        assert_eq!((snap.requests, snap.status_5xx, snap.in_flight), (1, 1, 0));
        assert_eq!(snap.latency_buckets.iter().sum::<u64>(), 1);
        assert_eq!(service.snapshot().status_5xx, 1);

        // A request dropped before its response frees its in-flight slot, counts no status.
        let timer = RequestTimer::start(Some(&*router), None);
        drop(timer);
        let snap = router.snapshot();
        assert_eq!(
            (
                snap.requests,
                snap.in_flight,
                snap.status_2xx + snap.status_5xx
            ),
            (2, 0, 1)
        );
    }

    #[test]
    fn counters_survive_for_kept_names_only() {
        let registry = CounterRegistry::default();
        RequestTimer::start(Some(&*registry.router("kept")), None).finish(200);
        RequestTimer::start(Some(&*registry.router("gone")), None).finish(200);
        registry.retain(&|name| name == "kept", &|_| true);
        assert_eq!(registry.router("kept").snapshot().requests, 1);
        assert_eq!(registry.router("gone").snapshot().requests, 0);
    }
}
