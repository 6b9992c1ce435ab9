//! Claims of periodic rounds shared by every server on one database (table `shared_rounds`).

use sqlx::PgPool;

/// Claims round `name` for this server unless another server (or this one) started one less than
/// `gap` ago; `true`: it is this server's to run. A server that dies mid-round holds nothing:
/// the next claim after `gap` succeeds.
pub async fn claim(
    pool: &PgPool,
    name: &str,
    gap: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let claimed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO shared_rounds AS r (name, started_at) VALUES ($1, now())
         ON CONFLICT (name) DO UPDATE SET started_at = now()
         WHERE r.started_at <= now() - $2 * interval '1 millisecond'
         RETURNING 1",
    )
    .bind(name)
    .bind(gap.as_secs_f64() * 1000.0)
    .fetch_optional(pool)
    .await?;
    Ok(claimed.is_some())
}
