//! The prices of a vCPU and of a GiB of memory a month (`capacity_prices`, one row at most).
use app::models::Prices;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The prices, when set.
pub async fn get(pool: &PgPool) -> Result<Option<Prices>, sqlx::Error> {
    let row: Option<(String, f64, f64, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT currency, vcpu_month, gib_month, updated_by, updated_at FROM capacity_prices",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(currency, vcpu_month, gib_month, updated_by, updated_at)| Prices {
            currency,
            vcpu_month,
            gib_month,
            updated_by: Some(updated_by),
            updated_at: Some(updated_at),
        },
    ))
}

/// Sets the prices (checked by the caller), replacing any.
pub async fn set(pool: &PgPool, prices: &Prices, by: &str) -> Result<Prices, sqlx::Error> {
    sqlx::query(
        "INSERT INTO capacity_prices (currency, vcpu_month, gib_month, updated_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (only_row) DO UPDATE SET currency = $1, vcpu_month = $2, gib_month = $3,
             updated_by = $4, updated_at = now()",
    )
    .bind(&prices.currency)
    .bind(prices.vcpu_month)
    .bind(prices.gib_month)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(get(pool).await?.unwrap_or_else(|| prices.clone()))
}

/// Removes the prices.
pub async fn clear(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM capacity_prices")
        .execute(pool)
        .await?;
    Ok(())
}
