//! Sending rate limits: token buckets, global and per recipient domain.
//!
//! A per-second limit may burst one second's worth (at least one message);
//! a per-hour limit bursts one minute's worth (at least one), so an hour's
//! budget is spread over the hour instead of leaving in the first seconds,
//! and any hour sees at most the limit plus that minute's burst.

use std::{borrow::Cow, collections::HashMap, sync::Mutex, time::Duration};

use tokio::time::Instant;

/// Limits; `None` means unlimited. Domains are compared case-insensitively.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimit {
    pub per_second: Option<f64>,
    pub per_hour: Option<u64>,
    pub per_domain_per_second: Option<f64>,
    pub per_domain_per_hour: Option<u64>,
}

/// Shared by all sending workers.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: Option<f64>,
    per_hour: Option<u64>,
    per_domain_per_second: Option<f64>,
    per_domain_per_hour: Option<u64>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    global: Buckets,
    domains: HashMap<String, Buckets>,
}

/// Past this many domains, buckets that are full again (idle domains) are
/// forgotten, so memory follows the active domains only.
const PRUNE_AT: usize = 4096;

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let per_second = valid_rate(limit.per_second, "per_second");
        let per_hour = valid_count(limit.per_hour, "per_hour");
        let per_domain_per_second =
            valid_rate(limit.per_domain_per_second, "per_domain_per_second");
        let per_domain_per_hour = valid_count(limit.per_domain_per_hour, "per_domain_per_hour");
        let now = Instant::now();
        RateLimiter {
            per_second,
            per_hour,
            per_domain_per_second,
            per_domain_per_hour,
            state: Mutex::new(State {
                global: Buckets::new(per_second, per_hour, now),
                domains: HashMap::new(),
            }),
        }
    }

    /// Waits until one message to `domain` may go out, and takes its tokens.
    /// Returns at once, without locking, when no limit is set.
    pub async fn acquire(&self, domain: &str) {
        let global = self.per_second.is_some() || self.per_hour.is_some();
        let per_domain = self.per_domain_per_second.is_some() || self.per_domain_per_hour.is_some();
        if !global && !per_domain {
            return;
        }
        let domain = if per_domain && domain.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(domain.to_ascii_lowercase())
        } else {
            Cow::Borrowed(domain)
        };
        loop {
            let wait = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let State { global, domains } = &mut *state;
                global.refill(now);
                let mut wait = global.wait();
                let dom = if per_domain {
                    if !domains.contains_key(domain.as_ref()) {
                        if domains.len() >= PRUNE_AT {
                            domains.retain(|_, b| {
                                b.refill(now);
                                !b.is_full()
                            });
                        }
                        let fresh =
                            Buckets::new(self.per_domain_per_second, self.per_domain_per_hour, now);
                        domains.insert(domain.clone().into_owned(), fresh);
                    }
                    let dom = domains.get_mut(domain.as_ref()).expect("inserted above");
                    dom.refill(now);
                    wait = wait.max(dom.wait());
                    Some(dom)
                } else {
                    None
                };
                // Take from all buckets or from none, so a message waiting on
                // one limit does not use up another.
                if wait.is_zero() {
                    global.take();
                    if let Some(dom) = dom {
                        dom.take();
                    }
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }
}

fn valid_rate(rate: Option<f64>, name: &str) -> Option<f64> {
    match rate {
        Some(r) if !(r.is_finite() && r > 0.0) => {
            tracing::warn!(
                name,
                rate = r,
                "ignoring a rate limit that is not a positive number"
            );
            None
        }
        other => other,
    }
}

fn valid_count(count: Option<u64>, name: &str) -> Option<u64> {
    if count == Some(0) {
        tracing::warn!(name, "ignoring a rate limit of 0 per hour");
        return None;
    }
    count
}

#[derive(Debug)]
struct Buckets {
    second: Option<Bucket>,
    hour: Option<Bucket>,
}

impl Buckets {
    fn new(per_second: Option<f64>, per_hour: Option<u64>, now: Instant) -> Self {
        Buckets {
            second: per_second.map(|r| Bucket::new(r, r.max(1.0), now)),
            hour: per_hour.map(|n| {
                let n = n as f64;
                Bucket::new(n / 3600.0, (n / 60.0).ceil().max(1.0), now)
            }),
        }
    }

    fn each(&mut self) -> impl Iterator<Item = &mut Bucket> {
        self.second.iter_mut().chain(self.hour.iter_mut())
    }

    fn refill(&mut self, now: Instant) {
        self.each().for_each(|b| b.refill(now));
    }

    fn wait(&self) -> Duration {
        let s = self.second.as_ref().map_or(Duration::ZERO, Bucket::wait);
        let h = self.hour.as_ref().map_or(Duration::ZERO, Bucket::wait);
        s.max(h)
    }

    fn take(&mut self) {
        self.each().for_each(|b| b.tokens -= 1.0);
    }

    fn is_full(&self) -> bool {
        let full = |b: &Option<Bucket>| b.as_ref().is_none_or(|b| b.tokens >= b.capacity);
        full(&self.second) && full(&self.hour)
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    capacity: f64,
    /// Tokens per second.
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, capacity: f64, now: Instant) -> Self {
        Bucket {
            tokens: capacity,
            capacity,
            rate,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    fn wait(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            // Round up so that the wake-up finds the token there.
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate) + Duration::from_micros(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    async fn run(limiter: &RateLimiter, domain: &str, n: usize) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            limiter.acquire(domain).await;
        }
        start.elapsed()
    }

    fn assert_about(actual: Duration, expected_secs: f64) {
        let diff = (actual.as_secs_f64() - expected_secs).abs();
        assert!(
            diff < 0.01,
            "took {actual:?}, expected about {expected_secs} s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_limits_never_wait() {
        let limiter = RateLimiter::new(RateLimit::default());
        assert_eq!(run(&limiter, "example.org", 100_000).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn per_second_bursts_one_second_then_paces() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: Some(10.0),
            ..Default::default()
        });
        assert_about(run(&limiter, "a.example", 10).await, 0.0);
        // 50 more at 10/s.
        assert_about(run(&limiter, "a.example", 50).await, 5.0);
    }

    #[tokio::test(start_paused = true)]
    async fn fractional_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: Some(0.5),
            ..Default::default()
        });
        // One at once, then one every 2 s.
        assert_about(run(&limiter, "a.example", 4).await, 6.0);
    }

    #[tokio::test(start_paused = true)]
    async fn per_hour_bursts_one_minute_worth() {
        let limiter = RateLimiter::new(RateLimit {
            per_hour: Some(600),
            ..Default::default()
        });
        assert_about(run(&limiter, "a.example", 10).await, 0.0);
        // Then one every 6 s: 600 more take an hour.
        assert_about(run(&limiter, "a.example", 600).await, 3600.0);
    }

    #[tokio::test(start_paused = true)]
    async fn domains_are_limited_separately_and_case_insensitively() {
        let limiter = Arc::new(RateLimiter::new(RateLimit {
            per_domain_per_second: Some(1.0),
            ..Default::default()
        }));
        let start = Instant::now();
        let a = tokio::spawn({
            let l = limiter.clone();
            async move { run(&l, "a.example", 5).await }
        });
        let b = tokio::spawn({
            let l = limiter.clone();
            async move { run(&l, "b.example", 5).await }
        });
        assert_about(a.await.unwrap(), 4.0);
        assert_about(b.await.unwrap(), 4.0);
        assert_about(start.elapsed(), 4.0);
        // "A.EXAMPLE" is the same domain, whose bucket is now empty.
        assert_about(run(&limiter, "A.EXAMPLE", 1).await, 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn global_limit_applies_across_domains() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: Some(2.0),
            per_domain_per_second: Some(100.0),
            ..Default::default()
        });
        let start = Instant::now();
        for i in 0..10 {
            limiter.acquire(&format!("d{i}.example")).await;
        }
        // 2 at once, 8 more at 2/s.
        assert_about(start.elapsed(), 4.0);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_on_one_limit_does_not_spend_another() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: Some(1.0),
            per_domain_per_hour: Some(60),
            ..Default::default()
        });
        // Domain burst is 1, then 1/min; global is 1/s.
        assert_about(run(&limiter, "a.example", 1).await, 0.0);
        // b.example waits only for the global token, not a.example's minute.
        assert_about(run(&limiter, "b.example", 1).await, 1.0);
        assert_about(run(&limiter, "a.example", 1).await, 59.0);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_never_exceed_the_rate() {
        let limiter = Arc::new(RateLimiter::new(RateLimit {
            per_second: Some(5.0),
            ..Default::default()
        }));
        let start = Instant::now();
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move {
                    l.acquire("x.example").await;
                    start.elapsed()
                })
            })
            .collect();
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        // Burst of 5, then the k-th grant no earlier than (k - 4) / 5 s.
        for (k, t) in times.iter().enumerate() {
            let earliest = (k as f64 - 4.0).max(0.0) / 5.0;
            assert!(
                *t >= earliest - 1e-6,
                "grant {k} at {t} s, earliest {earliest} s"
            );
        }
        assert!(times[39] < 7.1, "last grant at {} s", times[39]);
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_limits_are_ignored() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: Some(0.0),
            per_hour: Some(0),
            per_domain_per_second: Some(f64::NAN),
            per_domain_per_hour: None,
        });
        assert_eq!(run(&limiter, "a.example", 1000).await, Duration::ZERO);
    }
}
