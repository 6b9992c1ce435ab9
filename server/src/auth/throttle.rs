//! Request throttling: a token bucket per caller for the API (keyed by the credential it sends,
//! so it works behind a proxy where every request has the proxy's address) and per user name
//! for sign-in attempts.
use axum::http::{header, HeaderMap};
use governor::{
    clock::{Clock, DefaultClock},
    DefaultKeyedRateLimiter, Quota,
};
use std::{
    hash::{DefaultHasher, Hash, Hasher},
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// Sign-in attempts per user name per minute (burst and sustained).
const LOGINS_PER_MINUTE: u32 = 10;
/// Forget idle callers every this many checks, so the table does not grow without bound.
const PRUNE_EVERY: u64 = 10_000;

pub struct Throttle {
    api: Option<DefaultKeyedRateLimiter<u64>>,
    login: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl Throttle {
    /// `per_second` requests per caller sustained, twice that in a burst; 0 turns API throttling off.
    pub fn new(per_second: u32) -> Self {
        let api = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(per_second.saturating_mul(2)).unwrap_or(rate);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        let logins = NonZeroU32::new(LOGINS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Throttle {
            api,
            login: DefaultKeyedRateLimiter::keyed(Quota::per_minute(logins)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// `Err(wait)` when the caller must wait before its next request.
    pub fn check_api(&self, headers: &HeaderMap) -> Result<(), Duration> {
        let Some(api) = &self.api else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            api.retain_recent();
            self.login.retain_recent();
        }
        api.check_key(&caller_key(headers))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    pub fn check_login(&self, username: &str) -> Result<(), Duration> {
        self.login
            .check_key(&username.trim().to_lowercase())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// The caller as far as throttling is concerned: its bearer token or session cookie (hashed, never
/// stored); callers without credentials share one bucket (they only get `401`s anyway).
fn caller_key(headers: &HeaderMap) -> u64 {
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| super::session_cookie(headers));
    let mut hasher = DefaultHasher::new();
    credential.hash(&mut hasher);
    hasher.finish()
}

/// Whole seconds for `Retry-After`, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
        headers
    }

    #[test]
    fn each_caller_has_its_own_bucket_of_twice_the_rate() {
        let throttle = Throttle::new(5);
        let (a, b) = (bearer("a"), bearer("b"));
        for _ in 0..10 {
            assert!(throttle.check_api(&a).is_ok());
        }
        let wait = throttle
            .check_api(&a)
            .expect_err("the 11th request in a burst waits");
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(
            throttle.check_api(&b).is_ok(),
            "another caller is not affected"
        );
        assert!(
            Throttle::new(0).check_api(&a).is_ok(),
            "0 turns throttling off"
        );
    }

    #[test]
    fn sign_in_attempts_are_limited_per_user_name() {
        let throttle = Throttle::new(0);
        for _ in 0..LOGINS_PER_MINUTE {
            assert!(throttle.check_login("Admin").is_ok());
        }
        assert!(
            throttle.check_login(" admin ").is_err(),
            "names are compared trimmed and case-insensitively"
        );
        assert!(throttle.check_login("someone").is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
