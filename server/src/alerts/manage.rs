//! What a person changes: saving and deleting rules, resolving an alert. The REST API and the
//! alerts page both come here, so a rule saved from either is checked and applied the same way
//! and the engine, the webhook worker and the live clients hear of it the same way.
use super::{
    payload,
    rules::{self, RuleSpec},
    store, webhook, AlertEngine,
};
use crate::{live::Hub, storage::hosts};
use app::models::{Alert, LiveEvent};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

/// Why a change was refused; each API maps it to its own envelope.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// A field of the rule is wrong (the message names it).
    #[error("{0}")]
    InvalidRule(String),
    #[error("no alert rule with id `rule_{0}`")]
    RuleNotFound(i64),
    /// A webhook without a secret where the caller cannot be shown a generated one.
    #[error("`webhook_secret`: a webhook needs a signing secret (16 characters or more)")]
    SecretNeeded,
    #[error("no alert with id `alert_{0}`")]
    AlertNotFound(i64),
    #[error("alert `alert_{0}` is already resolved")]
    AlreadyResolved(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What changing alerting needs besides the database.
pub struct Alerting<'a> {
    pub pool: &'a PgPool,
    pub engine: &'a AlertEngine,
    pub hub: &'a Hub,
    /// `LOOKOUT_WEBHOOK_ALLOW_PRIVATE`.
    pub allow_private: bool,
}

/// A new webhook signing secret: 40 characters of `[A-Za-z0-9]`.
pub fn new_secret() -> String {
    crate::auth::secret::random_secret(40)
}

/// A rule as [`Alerting::apply_and_save`] saved it.
#[derive(Debug)]
pub struct SavedRule {
    pub id: i64,
    pub name: String,
    /// The webhook secret generated for it, to be shown once.
    pub secret: Option<String>,
}

/// What to do when a saved rule has a webhook and no secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingSecret {
    /// Generate one and return it, to be shown once (the REST API).
    Generate,
    /// Refuse with [`ChangeError::SecretNeeded`] (a form, whose answer is a redirect that must
    /// not carry a secret).
    Refuse,
}

impl Alerting<'_> {
    /// Applies the rules API's JSON `body` to the stored rule `id` (or to a new rule's defaults
    /// when `id` is `None`) and saves it through [`Alerting::save_rule`]: the one path the REST
    /// API's create and update and the alerts page's form share.
    pub async fn apply_and_save(
        &self,
        id: Option<i64>,
        body: &Value,
        missing_secret: MissingSecret,
    ) -> Result<SavedRule, ChangeError> {
        let base = match id {
            Some(id) => store::rule(self.pool, id)
                .await?
                .ok_or(ChangeError::RuleNotFound(id))?
                .to_spec(),
            None => RuleSpec::default(),
        };
        let spec = rules::apply(base, body).map_err(ChangeError::InvalidRule)?;
        if missing_secret == MissingSecret::Refuse
            && spec.webhook_url.is_some()
            && spec.webhook_secret.is_none()
        {
            return Err(ChangeError::SecretNeeded);
        }
        let name = spec.name.clone();
        let (id, secret) = self.save_rule(id, spec).await?;
        Ok(SavedRule { id, name, secret })
    }

    /// Checks what only the server can check (the host exists, the webhook may be reached), adds
    /// a webhook secret when one is needed, stores the rule (new when `id` is `None`) and tells
    /// the engine. Returns the rule's id and the secret it generated, shown once.
    pub async fn save_rule(
        &self,
        id: Option<i64>,
        mut spec: RuleSpec,
    ) -> Result<(i64, Option<String>), ChangeError> {
        let host_id = match &spec.host {
            None => None,
            Some(vm_id) => Some(
                hosts::find(self.pool, vm_id)
                    .await?
                    .ok_or_else(|| {
                        ChangeError::InvalidRule(format!("`host` `{vm_id}` is not a known host"))
                    })?
                    .id,
            ),
        };
        if let Some(url) = &spec.webhook_url {
            webhook::check_destination(url, self.allow_private)
                .await
                .map_err(|e| ChangeError::InvalidRule(format!("`webhook_url`: {e}")))?;
        }
        let mut generated = None;
        if spec.webhook_url.is_some() && spec.webhook_secret.is_none() {
            let secret = new_secret();
            spec.webhook_secret = Some(secret.clone());
            generated = Some(secret);
        }
        match store::save_rule(self.pool, id, &spec, host_id).await {
            Ok(Some(saved)) => {
                self.engine.rules_changed().await;
                Ok((saved, generated))
            }
            Ok(None) => Err(ChangeError::RuleNotFound(id.unwrap_or_default())),
            Err(e) if store::is_unique_violation(&e) => Err(ChangeError::InvalidRule(format!(
                "`name`: a rule named `{}` already exists",
                spec.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a rule; its alerts stay, without a rule.
    pub async fn delete_rule(&self, id: i64) -> Result<(), ChangeError> {
        if !store::delete_rule(self.pool, id).await? {
            return Err(ChangeError::RuleNotFound(id));
        }
        self.engine.rules_changed().await;
        Ok(())
    }

    /// Resolves an active alert by hand: the engine forgets it (its `for` timer starts again),
    /// the rule's webhook hears `alert_resolved` (queued in the same transaction) and so do the
    /// live clients.
    pub async fn resolve(
        &self,
        id: i64,
        at: DateTime<Utc>,
        resolution: &str,
        resolved_by: &str,
    ) -> Result<Alert, ChangeError> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = store::resolve_alert(&mut *tx, id, at, resolution, resolved_by).await?
        else {
            tx.rollback().await?;
            return match store::alert(self.pool, id).await? {
                Some(_) => Err(ChangeError::AlreadyResolved(id)),
                None => Err(ChangeError::AlertNotFound(id)),
            };
        };
        let alert = row.to_model();
        let rule = match row.rule_id {
            Some(rule_id) => store::rule(self.pool, rule_id).await?,
            None => None,
        };
        if let Some(rule) = &rule {
            store::queue_delivery(
                &mut *tx,
                row.id,
                "alert_resolved",
                rule,
                &payload("alert_resolved", &alert, rule),
            )
            .await?;
        }
        tx.commit().await?;
        if let Some(rule_id) = row.rule_id {
            self.engine.resolved(rule_id, row.host_id).await;
        }
        self.engine.deliveries.notify_one();
        tracing::info!(target: "lookout::alert", alert = alert.id, resolved_by, resolution, "Alert resolved by a person.");
        self.hub.publish(&LiveEvent::AlertResolved {
            alert: alert.clone(),
        });
        Ok(alert)
    }
}
