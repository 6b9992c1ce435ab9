//! Stored credentials: users, browser sessions and API tokens (only SHA-256 digests of secrets are stored).
use super::{password, Principal, Scope};
use anyhow::Context;
use rand::{distributions::Alphanumeric, Rng};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

pub const SESSION_DAYS: i32 = 7;
const TOKEN_PREFIX: &str = "lk_";

/// A random alphanumeric string of `len` characters from the OS generator.
pub fn random_secret(len: usize) -> String {
    rand::rngs::OsRng.sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub fn parse_scopes(names: &[String]) -> anyhow::Result<Vec<Scope>> {
    names.iter().map(|n| n.trim().parse::<Scope>().map_err(anyhow::Error::msg)).collect()
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
pub async fn ensure_admin(pool: &PgPool, configured: Option<&str>) -> anyhow::Result<Option<String>> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = 'admin')").fetch_one(pool).await?;
    match (exists, configured) {
        (true, None) => Ok(None),
        (true, Some(password)) => {
            let hash = password::hash(password.to_string()).await?;
            sqlx::query("UPDATE users SET password_hash = $1 WHERE username = 'admin'").bind(hash).execute(pool).await?;
            Ok(None)
        }
        (false, configured) => {
            let generated = configured.is_none().then(|| random_secret(20));
            let password = configured.map(str::to_string).or_else(|| generated.clone()).unwrap_or_default();
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
pub async fn authenticate(pool: &PgPool, username: &str, password: &str) -> anyhow::Result<Option<i32>> {
    let row: Option<(i32, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1").bind(username).fetch_optional(pool).await?;
    let (id, hash) = match row {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    Ok(if password::verify(password.to_string(), hash).await? { id } else { None })
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
    sqlx::query("DELETE FROM sessions WHERE expires_at < now()").execute(pool).await?;
    Ok(secret)
}

pub async fn end_session(pool: &PgPool, secret: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(digest(secret)).execute(pool).await?;
    Ok(())
}

pub async fn principal_for_session(pool: &PgPool, secret: &str) -> Result<Option<Principal>, sqlx::Error> {
    let row: Option<(i32, String, Vec<String>)> = sqlx::query_as(
        "SELECT u.id, u.username, u.scopes FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.expires_at > now()",
    )
    .bind(digest(secret))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, name, scopes)| Principal { name, user_id: Some(id), token_id: None, scopes: scopes_of(scopes), via_session: true }))
}

/// Creates an API token and returns its secret (shown once; only its digest is kept).
/// With `value`, that exact secret is registered (idempotently), as `LOOKOUT_BOOTSTRAP_TOKEN` needs.
pub async fn create_token(pool: &PgPool, name: &str, scopes: &[Scope], value: Option<&str>) -> anyhow::Result<String> {
    if name.trim().is_empty() {
        anyhow::bail!("a token needs a non-empty --name");
    }
    if scopes.is_empty() {
        anyhow::bail!("a token needs at least one scope");
    }
    let secret = match value {
        Some(v) if v.len() < 16 => anyhow::bail!("a fixed token must be at least 16 characters long"),
        Some(v) => v.to_string(),
        None => format!("{TOKEN_PREFIX}{}", random_secret(40)),
    };
    sqlx::query("INSERT INTO api_tokens (name, token_hash, scopes) VALUES ($1, $2, $3) ON CONFLICT (token_hash) DO NOTHING")
        .bind(name.trim())
        .bind(digest(&secret))
        .bind(scope_names(scopes))
        .execute(pool)
        .await
        .context("cannot store the token")?;
    Ok(secret)
}

pub async fn principal_for_token(pool: &PgPool, secret: &str) -> Result<Option<Principal>, sqlx::Error> {
    let row: Option<(i32, String, Vec<String>, bool)> = sqlx::query_as(
        "SELECT id, name, scopes, coalesce(last_used_at < now() - interval '1 minute', true)
         FROM api_tokens WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(digest(secret))
    .fetch_optional(pool)
    .await?;
    let Some((id, name, scopes, stale)) = row else { return Ok(None) };
    if stale {
        // At most one write per token per minute, so reads stay reads.
        sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1").bind(id).execute(pool).await?;
    }
    Ok(Some(Principal { name, user_id: None, token_id: Some(id), scopes: scopes_of(scopes), via_session: false }))
}
