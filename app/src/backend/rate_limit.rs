//! Request budgets and sign-in throttling (SPEC AUTH-5).
//!
//! Every limit is a GCRA bucket ("`limit` per `period`, all of it usable at once"): the
//! `gcra` crate keeps the state in-process, and when `REDIS_URL` is set the same algorithm
//! runs atomically inside Redis (a Lua script over one key), so every node shares the
//! budget. Crates that bring a Redis backend are built on older `redis` majors; the script
//! mirrors `gcra::GcraState` exactly (tested against it). If Redis stops answering, limits
//! fall back to this process rather than refusing every request.
//!
//! Sign-in attempts reserve a unit before the password is checked and give it back when
//! the password was right, so only failures count and a sixth wrong guess is refused before
//! any password work is done.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::redis_link::RedisLink;
use gcra::{GcraError, GcraState, RateLimit};

use crate::backend::error::ApiError;

/// Request budgets (SPEC AUTH-5); sign-in limits are fixed by policy, not configured.
#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// Requests per minute one signed-in person may make.
    pub user_per_minute: u32,
    /// Requests per minute one API key may make.
    pub key_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            user_per_minute: 1200,
            key_per_minute: 6000,
            trust_forwarded_for: false,
        }
    }
}

/// The limiter and the budgets requests are held to.
pub struct Limits {
    pub limiter: RateLimiter,
    pub per_user: Policy,
    pub per_key: Policy,
    pub trust_forwarded_for: bool,
}

impl Limits {
    /// Shared through `redis` when given, else kept in this process.
    pub fn new(settings: &LimitSettings, redis: Option<redis::Client>) -> Self {
        Limits {
            limiter: match redis {
                Some(client) => RateLimiter::shared(client, "sightline:rate"),
                None => RateLimiter::local(),
            },
            per_user: Policy::per_minute("user", settings.user_per_minute),
            per_key: Policy::per_minute("api-key", settings.key_per_minute),
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }
}

/// One kind of limit: how many units per period, and what its keys are called.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: &'static str,
    pub limit: u32,
    pub period: Duration,
}

impl Policy {
    /// Failed sign-ins per client address.
    pub fn login_per_ip() -> Self {
        Policy {
            name: "login-ip",
            limit: 5,
            period: Duration::from_secs(15 * 60),
        }
    }

    /// Failed sign-ins per account (email), from anywhere.
    pub fn login_per_account() -> Self {
        Policy {
            name: "login-account",
            limit: 5,
            period: Duration::from_secs(15 * 60),
        }
    }

    /// Requests per minute for one person, or one API key.
    pub fn per_minute(name: &'static str, limit: u32) -> Self {
        Policy {
            name,
            limit,
            period: Duration::from_secs(60),
        }
    }

    fn gcra(&self) -> RateLimit {
        RateLimit::new(self.limit, self.period)
    }

    /// Time one unit takes to come back.
    fn interval(&self) -> Duration {
        self.period / self.limit.max(1)
    }
}

/// The answer for one request: allowed or not, and what the `X-RateLimit-*` headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset_after: Duration,
    /// Until the next unit may be spent (zero when allowed).
    pub retry_after: Duration,
}

impl Decision {
    /// The 429 for a refused decision; `None` when allowed.
    pub fn refusal(&self) -> Option<ApiError> {
        (!self.allowed).then(|| ApiError::RateLimited {
            // Whole seconds, rounded up: retrying at the announced time must work.
            retry_after_secs: self.retry_after.as_millis().div_ceil(1000) as u64,
            limit: self.limit,
            reset_secs: self.reset_after.as_millis().div_ceil(1000) as u64,
        })
    }
}

/// Shared by all requests of one process.
pub struct RateLimiter {
    local: Mutex<LocalBuckets>,
    redis: Option<RedisBuckets>,
}

struct LocalBuckets {
    states: HashMap<String, GcraState>,
    checks_since_prune: u32,
}

struct RedisBuckets {
    /// Prefix of every key, so several deployments (or tests) can share one Redis.
    namespace: String,
    link: RedisLink,
    script: redis::Script,
}

/// Spending (`1`), returning (`-1`), or asking whether a unit could be spent (`0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cost {
    Peek = 0,
    Spend = 1,
    Refund = -1,
}

impl RateLimiter {
    /// Limits kept in this process only.
    pub fn local() -> Self {
        RateLimiter {
            local: Mutex::new(LocalBuckets {
                states: HashMap::new(),
                checks_since_prune: 0,
            }),
            redis: None,
        }
    }

    /// Limits shared through Redis under `namespace`, with this process as the fallback.
    pub fn shared(client: redis::Client, namespace: impl Into<String>) -> Self {
        RateLimiter {
            redis: Some(RedisBuckets {
                link: RedisLink::fail_fast(client),
                namespace: namespace.into(),
                script: redis::Script::new(GCRA_SCRIPT),
            }),
            ..Self::local()
        }
    }

    /// Spends one unit of `key`'s budget if there is one.
    pub async fn spend(&self, policy: &Policy, key: &str) -> Decision {
        self.apply(policy, key, Cost::Spend).await
    }

    /// Gives back a unit spent by `spend` (a sign-in that turned out to be right).
    pub async fn refund(&self, policy: &Policy, key: &str) {
        self.apply(policy, key, Cost::Refund).await;
    }

    /// Whether a unit could be spent now, without spending it.
    pub async fn peek(&self, policy: &Policy, key: &str) -> Decision {
        self.apply(policy, key, Cost::Peek).await
    }

    async fn apply(&self, policy: &Policy, key: &str, cost: Cost) -> Decision {
        if let Some(redis) = &self.redis {
            match redis.apply(policy, key, cost).await {
                Ok(decision) => return decision,
                Err(error) => tracing::warn!(%error, "rate limits fall back to this process: Redis failed"),
            }
        }
        self.apply_locally(policy, key, cost, Instant::now())
    }

    fn apply_locally(&self, policy: &Policy, key: &str, cost: Cost, now: Instant) -> Decision {
        let rate = policy.gcra();
        let mut buckets = self.local.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.prune(now);
        let state = buckets
            .states
            .entry(format!("{}:{key}", policy.name))
            .or_default();
        let outcome = match cost {
            Cost::Spend => state.check_and_modify_at(&rate, now, 1),
            Cost::Refund => state.revert_at(&rate, now, 1),
            // A copy answers "could I?" without changing anything.
            Cost::Peek => state.clone().check_and_modify_at(&rate, now, 1),
        };
        let reset_after = state
            .tat
            .map_or(Duration::ZERO, |tat| tat.saturating_duration_since(now));
        match outcome {
            Ok(()) => Decision {
                allowed: true,
                limit: policy.limit,
                remaining: remaining(policy, reset_after),
                reset_after,
                retry_after: Duration::ZERO,
            },
            Err(GcraError::DeniedUntil { next_allowed_at }) => Decision {
                allowed: false,
                limit: policy.limit,
                remaining: 0,
                reset_after,
                retry_after: next_allowed_at.saturating_duration_since(now),
            },
            Err(GcraError::DeniedIndefinitely { .. }) => Decision {
                allowed: false,
                limit: policy.limit,
                remaining: 0,
                reset_after,
                retry_after: policy.period,
            },
        }
    }
}

/// Whole units left when the bucket is full again after `reset_after`. In integers: the
/// crate's own float arithmetic rounds 3 × 3 min / 15 min up to more than 3 units.
fn remaining(policy: &Policy, reset_after: Duration) -> u32 {
    let interval = policy.interval().as_nanos().max(1);
    let used = reset_after.as_nanos().div_ceil(interval);
    policy.limit.saturating_sub(used.min(u128::from(u32::MAX)) as u32)
}

impl LocalBuckets {
    /// Every 4,096 checks, forgets buckets that are full again (their state says nothing).
    fn prune(&mut self, now: Instant) {
        self.checks_since_prune += 1;
        if self.checks_since_prune < 4096 {
            return;
        }
        self.checks_since_prune = 0;
        self.states
            .retain(|_, state| state.tat.is_some_and(|tat| tat > now));
    }
}

/// GCRA over one key holding the theoretical arrival time in milliseconds, on Redis's own
/// clock so nodes with skewed clocks agree. Same rules as `gcra::GcraState`: a unit is
/// allowed when `max(tat, now) + interval - period <= now`.
/// ARGV: interval ms, limit, cost (1 spend, 0 peek, -1 refund).
/// Returns {allowed, remaining, reset_after ms, retry_after ms}.
const GCRA_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local period = interval * limit
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
if cost < 0 then
  local reverted = tat - interval
  if stored == false or reverted <= now then
    redis.call('DEL', KEYS[1])
    return {1, limit, 0, 0}
  end
  redis.call('SET', KEYS[1], reverted, 'PX', reverted - now)
  return {1, math.floor((period - (reverted - now)) / interval), reverted - now, 0}
end
local new_tat = tat + interval
local allowed_at = new_tat - period
if allowed_at > now then
  return {0, 0, tat - now, allowed_at - now}
end
if cost > 0 then
  redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
  tat = new_tat
end
return {1, math.floor((period - (tat - now)) / interval), tat - now, 0}
";

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct RedisFailed(#[from] redis::RedisError);

impl RedisBuckets {
    async fn apply(&self, policy: &Policy, key: &str, cost: Cost) -> Result<Decision, RedisFailed> {
        let mut connection = self.link.get().await?;
        let interval_ms = policy.interval().as_millis().max(1) as u64;
        let result: redis::RedisResult<(i64, i64, i64, i64)> = self
            .script
            .key(format!("{}:{}:{key}", self.namespace, policy.name))
            .arg(interval_ms)
            .arg(policy.limit)
            .arg(cost as i32)
            .invoke_async(&mut connection)
            .await;
        let (allowed, remaining, reset_ms, retry_ms) = match result {
            Ok(values) => values,
            Err(error) => {
                // A broken connection is made again on the next request.
                self.link.reset().await;
                return Err(error.into());
            }
        };
        Ok(Decision {
            allowed: allowed == 1,
            limit: policy.limit,
            remaining: remaining.clamp(0, i64::from(policy.limit)) as u32,
            reset_after: Duration::from_millis(reset_ms.max(0) as u64),
            retry_after: Duration::from_millis(retry_ms.max(0) as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Policy {
        Policy::login_per_account()
    }

    #[test]
    fn five_units_then_a_refusal_that_says_when_to_retry() {
        let limiter = RateLimiter::local();
        let now = Instant::now();
        for expected_remaining in (0..5).rev() {
            let decision = limiter.apply_locally(&login(), "a", Cost::Spend, now);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
        }
        let refused = limiter.apply_locally(&login(), "a", Cost::Spend, now);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(180));
        assert!(!limiter.apply_locally(&login(), "a", Cost::Peek, now).allowed);
        // Another key has its own budget.
        assert!(limiter.apply_locally(&login(), "b", Cost::Spend, now).allowed);
        // One unit comes back after period / limit.
        let later = now + Duration::from_secs(180);
        assert!(limiter.apply_locally(&login(), "a", Cost::Spend, later).allowed);
    }

    #[test]
    fn a_refund_gives_the_unit_back_and_a_peek_spends_nothing() {
        let limiter = RateLimiter::local();
        let now = Instant::now();
        for _ in 0..10 {
            assert!(limiter.apply_locally(&login(), "a", Cost::Peek, now).allowed);
            assert!(limiter.apply_locally(&login(), "a", Cost::Spend, now).allowed);
            limiter.apply_locally(&login(), "a", Cost::Refund, now);
        }
        assert_eq!(limiter.apply_locally(&login(), "a", Cost::Peek, now).remaining, 5);
    }
}
