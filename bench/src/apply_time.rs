//! The cost of `Proxy::apply` for N routers, measured in this process: what a configuration
//! change costs the data plane before the new routes serve.
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mesh_proxy::{Config, Proxy};

use crate::configs::dynamic_config_yaml;
use crate::report::ApplyTiming;
use crate::routes::RouteSet;
use crate::serve_mesh::{ensure_every_router_served, static_config};
use crate::stats::median;

/// Applies the benchmark's N-router configuration `repeats` times to a fresh proxy, and once
/// more to the same proxy each time (a rebuild while serving). Parsing is not timed.
pub fn measure(routers: usize, repeats: usize) -> anyhow::Result<ApplyTiming> {
    let routes = RouteSet::new(routers, "127.0.0.1:9".parse()?);
    let config = Config::from_yaml(&dynamic_config_yaml(&routes)).context("benchmark config")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _entered = runtime.enter();

    let (mut first, mut again, mut first_cpu, mut reported) = (vec![], vec![], vec![], vec![]);
    for _ in 0..repeats.max(1) {
        let proxy = Proxy::new(static_config("127.0.0.1:0".parse()?));
        let input = config.clone();
        let cpu_before = process_cpu_time();
        let started = Instant::now();
        let report = proxy.apply(input);
        first.push(started.elapsed().as_secs_f64());
        first_cpu.push((process_cpu_time().saturating_sub(cpu_before)).as_secs_f64());
        reported.push(report.apply_seconds);
        ensure_every_router_served(&report)?;

        let input = config.clone();
        let started = Instant::now();
        let report = proxy.apply(input);
        again.push(started.elapsed().as_secs_f64());
        ensure_every_router_served(&report)?;
    }
    let seconds = |values: &[f64]| Duration::from_secs_f64(median(values).unwrap_or_default());
    Ok(ApplyTiming {
        routers: routes.count,
        first: seconds(&first),
        again: seconds(&again),
        first_cpu: seconds(&first_cpu),
        reported: seconds(&reported),
    })
}

/// CPU time of this process, all threads, with nanosecond resolution (the tick-based figure
/// in `/proc` is too coarse for tens of milliseconds).
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    let seconds = u64::try_from(now.tv_sec).unwrap_or_default();
    let nanos = u32::try_from(now.tv_nsec).unwrap_or_default();
    Duration::new(seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_every_apply_of_a_clean_configuration() {
        let timing = measure(50, 3).unwrap();
        assert_eq!(timing.routers, 50);
        assert!(timing.first > Duration::ZERO);
        assert!(timing.again > Duration::ZERO);
        assert!(timing.reported > Duration::ZERO);
        // Mesh's own figure is taken inside the wall-clock window measured here.
        assert!(timing.reported <= timing.first, "{timing:?}");
    }

    #[test]
    fn process_cpu_time_advances_with_work() {
        let before = process_cpu_time();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x ^ i.wrapping_mul(0x9e37_79b9));
        }
        assert!(process_cpu_time() > before, "{x}");
    }
}
