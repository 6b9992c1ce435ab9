//! Webhook deliveries: destination policy (no private addresses unless allowed), HMAC-signed POSTs,
//! and a worker that retries with exponential backoff. Deliveries live in PostgreSQL, so a restart
//! loses none; a claimed delivery is leased, and a crashed worker's lease simply runs out.
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{FromRow, PgPool};
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};
use tokio_util::sync::CancellationToken;

pub const SIGNATURE_HEADER: &str = "x-lookout-signature";
pub const TIMESTAMP_HEADER: &str = "x-lookout-timestamp";
pub const EVENT_HEADER: &str = "x-lookout-event";
pub const DELIVERY_HEADER: &str = "x-lookout-delivery";
/// A claimed delivery is not handed to another worker for this long.
const LEASE: &str = "2 minutes";
const BATCH: i64 = 16;

#[derive(Clone, Debug)]
pub struct WebhookPolicy {
    pub allow_private: bool,
    pub timeout: Duration,
    pub max_attempts: i32,
    /// The first retry waits this long; each further one twice as long.
    pub retry_base: Duration,
}

/// Addresses a webhook may not reach unless private destinations are allowed: loopback, private,
/// link-local (cloud metadata lives there), carrier-grade NAT, unspecified, broadcast, multicast,
/// documentation ranges, IPv6 unique-local, and IPv4 addresses mapped into IPv6.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10, shared address space
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

/// Resolves the URL's host and checks every address against the policy. The addresses returned
/// are the ones the request is then pinned to, so a DNS answer cannot change in between.
pub async fn check_destination(
    url: &str,
    allow_private: bool,
) -> Result<(reqwest::Url, Vec<SocketAddr>), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "webhook URLs must be http or https, not {}",
            parsed.scheme()
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "webhook URLs may not carry credentials; sign requests with the rule's secret instead"
                .into(),
        );
    }
    let host = parsed
        .host_str()
        .ok_or("the webhook URL has no host")?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = parsed
        .port_or_known_default()
        .ok_or("the webhook URL has no port")?;
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve the webhook host `{host}`: {e}"))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(format!("the webhook host `{host}` has no address"));
    }
    if !allow_private {
        if let Some(bad) = addresses.iter().find(|a| is_forbidden(a.ip())) {
            return Err(format!(
                "the webhook host `{host}` resolves to {} (loopback, private or link-local), which is refused; set LOOKOUT_WEBHOOK_ALLOW_PRIVATE=true to allow it",
                bad.ip()
            ));
        }
    }
    Ok((parsed, addresses))
}

/// `sha256=<hex>` of HMAC-SHA256 over `"{timestamp}.{body}"`: receivers recompute it with the
/// rule's secret and reject stale timestamps, which stops replays.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Wait before attempt `attempts + 1`, after `attempts` failed ones.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    base.saturating_mul(1u32 << attempts.clamp(1, 16).saturating_sub(1))
}

#[derive(FromRow)]
struct Claimed {
    id: i64,
    event: String,
    url: String,
    secret: String,
    payload: serde_json::Value,
    attempts: i32,
}

/// Webhook deliveries for [`crate::jobs::run`]: sends what is due, a batch at a time, and idles
/// until the next retry is due rather than asking every second.
pub struct Deliveries {
    pub pool: PgPool,
    pub policy: WebhookPolicy,
}

impl crate::jobs::Queue for Deliveries {
    const NAME: &'static str = "webhook";

    async fn step(&self, _: &CancellationToken) -> anyhow::Result<crate::jobs::Step> {
        use anyhow::Context;
        let batch = claim(&self.pool)
            .await
            .context("cannot read webhook deliveries")?;
        if batch.is_empty() {
            let due = next_due(&self.pool)
                .await
                .context("cannot read webhook deliveries")?;
            return Ok(crate::jobs::Step::Idle(due));
        }
        let sends = batch
            .into_iter()
            .map(|d| deliver(&self.pool, &self.policy, d));
        futures_util::future::join_all(sends).await;
        Ok(crate::jobs::Step::Worked)
    }
}

/// How long until the earliest pending delivery is due (`None`: nothing pending).
pub async fn next_due(pool: &PgPool) -> Result<Option<std::time::Duration>, sqlx::Error> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8
         FROM webhook_deliveries WHERE status = 'pending'",
    )
    .fetch_one(pool)
    .await?;
    // 10 ms past due, so the claim that follows finds it due.
    Ok(crate::jobs::due_in(seconds).map(|due| due + std::time::Duration::from_millis(10)))
}

async fn claim(pool: &PgPool) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = now() + interval '{LEASE}'
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT {BATCH} FOR UPDATE SKIP LOCKED)
         RETURNING id, event, url, secret, payload, attempts"
    )))
    .fetch_all(pool)
    .await
}

enum Outcome {
    Delivered(u16),
    /// Worth trying again (timeouts, refused connections, 5xx, 429).
    Retry(Option<u16>, String),
    /// Will never work (refused destination, 4xx).
    Fail(Option<u16>, String),
}

#[tracing::instrument(skip_all, fields(delivery = delivery.id, attempt = delivery.attempts))]
async fn deliver(pool: &PgPool, policy: &WebhookPolicy, delivery: Claimed) {
    let outcome = send(policy, &delivery).await;
    let counted = match &outcome {
        Outcome::Delivered(_) => "delivered",
        Outcome::Retry(..) if delivery.attempts < policy.max_attempts => "retry",
        Outcome::Retry(..) | Outcome::Fail(..) => "failed",
    };
    crate::counters::add(
        crate::counters::WEBHOOK_ATTEMPTS,
        &[("outcome", counted)],
        1,
    );
    let result = match &outcome {
        Outcome::Delivered(status) => {
            tracing::info!(delivery = delivery.id, url = %delivery.url, status, "Webhook delivered.");
            sqlx::query("UPDATE webhook_deliveries SET status = 'delivered', response_status = $2, last_error = NULL, finished_at = now() WHERE id = $1")
                .bind(delivery.id)
                .bind(i32::from(*status))
                .execute(pool)
                .await
        }
        Outcome::Retry(status, error) if delivery.attempts < policy.max_attempts => {
            let wait = backoff(policy.retry_base, delivery.attempts);
            tracing::warn!(delivery = delivery.id, url = %delivery.url, attempt = delivery.attempts, error, retry_in_ms = wait.as_millis() as u64, "Webhook delivery failed; will retry.");
            sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now() + $2 * interval '1 millisecond', response_status = $3, last_error = $4 WHERE id = $1")
                .bind(delivery.id)
                .bind(wait.as_millis() as f64)
                .bind(status.map(i32::from))
                .bind(error)
                .execute(pool)
                .await
        }
        Outcome::Retry(status, error) | Outcome::Fail(status, error) => {
            tracing::error!(delivery = delivery.id, url = %delivery.url, attempts = delivery.attempts, error, "Webhook delivery failed for good.");
            sqlx::query("UPDATE webhook_deliveries SET status = 'failed', response_status = $2, last_error = $3, finished_at = now() WHERE id = $1")
                .bind(delivery.id)
                .bind(status.map(i32::from))
                .bind(error)
                .execute(pool)
                .await
        }
    };
    if let Err(error) = result {
        // The lease runs out and the delivery is tried again: at least once, never lost.
        tracing::warn!(%error, delivery = delivery.id, "Cannot record a webhook delivery's outcome.");
    }
}

async fn send(policy: &WebhookPolicy, delivery: &Claimed) -> Outcome {
    let (url, addresses) = match check_destination(&delivery.url, policy.allow_private).await {
        Ok(checked) => checked,
        // A name that does not resolve right now may later; a refused address will not change.
        Err(error) if error.starts_with("cannot resolve") => return Outcome::Retry(None, error),
        Err(error) => return Outcome::Fail(None, error),
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    let client = match reqwest::Client::builder()
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addresses)
        .user_agent(concat!("Lookout/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => return Outcome::Fail(None, format!("cannot build an HTTP client: {error}")),
    };
    let body = match serde_json::to_vec(&delivery.payload) {
        Ok(body) => body,
        Err(error) => return Outcome::Fail(None, format!("cannot serialize the payload: {error}")),
    };
    let timestamp = chrono::Utc::now().timestamp();
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, &delivery.event)
        .header(DELIVERY_HEADER, delivery.id.to_string())
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            SIGNATURE_HEADER,
            signature(&delivery.secret, timestamp, &body),
        )
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Outcome::Delivered(r.status().as_u16()),
        Ok(r)
            if r.status().is_server_error()
                || r.status().as_u16() == 429
                || r.status().as_u16() == 408 =>
        {
            Outcome::Retry(
                Some(r.status().as_u16()),
                format!("the receiver answered {}", r.status()),
            )
        }
        Ok(r) => Outcome::Fail(
            Some(r.status().as_u16()),
            format!("the receiver answered {}", r.status()),
        ),
        Err(error) => Outcome::Retry(None, format!("{error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "255.255.255.255",
        ] {
            assert!(is_forbidden(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "172.32.0.1",
        ] {
            assert!(!is_forbidden(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn literal_private_destinations_are_refused_unless_allowed() {
        let error = check_destination("http://127.0.0.1:9/hook", false)
            .await
            .expect_err("refused");
        assert!(error.contains("127.0.0.1"), "{error}");
        assert!(check_destination("http://127.0.0.1:9/hook", true)
            .await
            .is_ok());
        assert!(check_destination("http://[::1]:9/hook", false)
            .await
            .is_err());
        assert!(check_destination("ftp://example.com/", true).await.is_err());
        assert!(check_destination("http://user:pw@93.184.216.34/", true)
            .await
            .is_err());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: python3 -c "import hmac,hashlib; print(hmac.new(b'key', b'1.body', hashlib.sha256).hexdigest())"
        assert_eq!(
            signature("key", 1, b"body"),
            "sha256=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
        );
    }

    #[test]
    fn backoff_doubles_from_the_base() {
        let base = Duration::from_secs(2);
        assert_eq!(backoff(base, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, 2), Duration::from_secs(4));
        assert_eq!(backoff(base, 5), Duration::from_secs(32));
    }
}
