//! Stored credentials: users, browser sessions and API tokens (only SHA-256 digests of secrets are stored).
use super::{
    password,
    secret::{digest, random_secret},
    Principal, Scope,
};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub const SESSION_DAYS: i32 = 7;
const TOKEN_PREFIX: &str = "lk_";

pub fn parse_scopes(names: &[String]) -> anyhow::Result<Vec<Scope>> {
    names
        .iter()
        .map(|n| n.trim().parse::<Scope>().map_err(anyhow::Error::msg))
        .collect()
}

fn scope_names(scopes: &[Scope]) -> Vec<String> {
    scopes.iter().map(|s| s.as_str().to_string()).collect()
}

fn scopes_of(names: Vec<String>) -> Vec<Scope> {
    // A scope this version does not know (written by a newer one) is ignored, never widened.
    names.iter().filter_map(|n| n.parse().ok()).collect()
}

/// Creates the `admin` user on first start. Returns the generated password when none was given.
/// A configured `LOOKOUT_ADMIN_PASSWORD` is (re)applied on every start, so it is also the way to
/// reset a forgotten password.
pub async fn ensure_admin(
    pool: &PgPool,
    configured: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = 'admin')")
            .fetch_one(pool)
            .await?;
    match (exists, configured) {
        (true, None) => Ok(None),
        (true, Some(password)) => {
            let hash = password::hash(password.to_string()).await?;
            sqlx::query("UPDATE users SET password_hash = $1 WHERE username = 'admin'")
                .bind(hash)
                .execute(pool)
                .await?;
            Ok(None)
        }
        (false, configured) => {
            let generated = configured.is_none().then(|| random_secret(20));
            let password = configured
                .map(str::to_string)
                .or_else(|| generated.clone())
                .unwrap_or_default();
            let hash = password::hash(password).await?;
            sqlx::query("INSERT INTO users (username, password_hash, scopes) VALUES ('admin', $1, $2) ON CONFLICT (username) DO NOTHING")
                .bind(hash)
                .bind(scope_names(&[Scope::Admin]))
                .execute(pool)
                .await?;
            Ok(generated)
        }
    }
}

/// Checks a user name and password; `None` when either is wrong.
pub async fn authenticate(
    pool: &PgPool,
    username: &str,
    password: &str,
) -> anyhow::Result<Option<i32>> {
    let row: Option<(i32, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await?;
    let (id, hash) = match row {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    Ok(if password::verify(password.to_string(), hash).await? {
        id
    } else {
        None
    })
}

/// Starts a browser session; returns the secret for the cookie.
pub async fn create_session(pool: &PgPool, user_id: i32) -> Result<String, sqlx::Error> {
    let secret = random_secret(43);
    sqlx::query("INSERT INTO sessions (id_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(days => $3))")
        .bind(digest(&secret))
        .bind(user_id)
        .bind(SESSION_DAYS)
        .execute(pool)
        .await?;
    // Expired sessions are few; clearing them here keeps the table small without a job.
    sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
        .execute(pool)
        .await?;
    Ok(secret)
}

pub async fn end_session(pool: &PgPool, secret: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(digest(secret))
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn principal_for_session(
    pool: &PgPool,
    secret: &str,
) -> Result<Option<Principal>, sqlx::Error> {
    let row: Option<(i32, String, Vec<String>)> = sqlx::query_as(
        "SELECT u.id, u.username, u.scopes FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.expires_at > now()",
    )
    .bind(digest(secret))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, name, scopes)| Principal {
        name,
        user_id: Some(id),
        token_id: None,
        scopes: scopes_of(scopes),
        via_session: true,
        host: None,
    }))
}

/// A token to create.
#[derive(Clone, Debug, Default)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub scopes: &'a [Scope],
    /// This exact secret (idempotently), as `LOOKOUT_BOOTSTRAP_TOKEN` needs; else a random one.
    pub value: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Enrolment tokens: how many enrolments it allows.
    pub uses: Option<i32>,
    /// Per-host tokens: the host it may write samples of.
    pub host_id: Option<i32>,
}

/// Creates an API token and returns its secret (shown once; only its digest is kept).
/// With `value`, that exact secret is registered (idempotently), as `LOOKOUT_BOOTSTRAP_TOKEN` needs.
pub async fn create_token(
    pool: &PgPool,
    name: &str,
    scopes: &[Scope],
    value: Option<&str>,
) -> anyhow::Result<String> {
    create(
        pool,
        &NewToken {
            name,
            scopes,
            value,
            ..Default::default()
        },
    )
    .await
}

pub async fn create(pool: &PgPool, token: &NewToken<'_>) -> anyhow::Result<String> {
    create_in(pool, token).await
}

/// The same inside a transaction or on a connection of the caller's.
pub async fn create_in<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    token: &NewToken<'_>,
) -> anyhow::Result<String> {
    if token.name.trim().is_empty() {
        anyhow::bail!("a token needs a non-empty --name");
    }
    if token.scopes.is_empty() {
        anyhow::bail!("a token needs at least one scope");
    }
    if token.uses.is_some_and(|u| u < 1) {
        anyhow::bail!("--uses must be at least 1");
    }
    let secret = match token.value {
        Some(v) if v.len() < 16 => {
            anyhow::bail!("a fixed token must be at least 16 characters long")
        }
        Some(v) => v.to_string(),
        None => format!("{TOKEN_PREFIX}{}", random_secret(40)),
    };
    sqlx::query(
        "INSERT INTO api_tokens (name, token_hash, scopes, expires_at, uses_left, host_id) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(token.name.trim())
    .bind(digest(&secret))
    .bind(scope_names(token.scopes))
    .bind(token.expires_at)
    .bind(token.uses)
    .bind(token.host_id)
    .execute(executor)
    .await
    .context("cannot store the token")?;
    Ok(secret)
}

/// "30m", "24h", "7d" or "90s" as a duration.
pub fn parse_lifetime(text: &str) -> anyhow::Result<chrono::Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{text}` is not a lifetime such as 30m, 24h or 7d"))?;
    let duration = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => anyhow::bail!("`{text}` is not a lifetime such as 30m, 24h or 7d"),
    };
    if n < 1 || duration > chrono::Duration::days(3650) {
        anyhow::bail!("a lifetime must be between 1 second and 10 years");
    }
    Ok(duration)
}

pub async fn principal_for_token(
    pool: &PgPool,
    secret: &str,
) -> Result<Option<Principal>, sqlx::Error> {
    /// id, name, scopes, last use stale, bound host (row id, vmId)
    type TokenRow = (i32, String, Vec<String>, bool, Option<i32>, Option<String>);
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT t.id, t.name, t.scopes, coalesce(t.last_used_at < now() - interval '1 minute', true), t.host_id, h.vm_id
         FROM api_tokens t LEFT JOIN hosts h ON h.id = t.host_id
         WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > now()) AND t.revoked_at IS NULL
           AND (t.uses_left IS NULL OR t.uses_left > 0)",
    )
    .bind(digest(secret))
    .fetch_optional(pool)
    .await?;
    let Some((id, name, scopes, stale, host_id, vm_id)) = row else {
        return Ok(None);
    };
    if stale {
        // At most one write per token per minute, so reads stay reads.
        sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?;
    }
    let host = host_id.zip(vm_id);
    Ok(Some(Principal {
        name,
        user_id: None,
        token_id: Some(id),
        scopes: scopes_of(scopes),
        via_session: false,
        host,
    }))
}

/// A token as lists show it (never its secret).
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: i32,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub uses_left: Option<i32>,
    pub vm_id: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn list_tokens(pool: &PgPool) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.name, t.scopes, t.created_at, t.last_used_at, t.expires_at, t.uses_left, h.vm_id, t.revoked_at
         FROM api_tokens t LEFT JOIN hosts h ON h.id = t.host_id ORDER BY t.id",
    )
    .fetch_all(pool)
    .await
}

/// Revokes a token; `false` when there is none with this id (or it was revoked already).
pub async fn revoke_token(pool: &PgPool, id: i32) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected()
            == 1,
    )
}
