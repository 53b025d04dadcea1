//! A token bucket: status writes may burst, then flow at a steady rate, so a full resync
//! of thousands of objects cannot flood the apiserver.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                refilled: Instant::now(),
            }),
        }
    }

    /// Waits until a write is allowed.
    pub async fn acquire(&self) {
        let mut bucket = self.state.lock().await;
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            // Holding the lock while sleeping keeps callers in FIFO order.
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            bucket.tokens = 1.0;
            bucket.refilled = Instant::now();
        }
        bucket.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bursts_then_paces() {
        let limiter = RateLimiter::new(10, 3);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(Instant::now(), start, "the burst is free");
        limiter.acquire().await;
        let waited = Instant::now().duration_since(start);
        assert!(waited >= Duration::from_millis(99), "{waited:?}");
    }
}
