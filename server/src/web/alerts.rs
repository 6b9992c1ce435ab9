//! The alerts page's data and its forms. The forms go through the same rule checks
//! (`alerts::rules::apply`) and changes (`alerts::manage`) as the REST API, and answer with a
//! redirect back to the page: `?notice=` when done, `?error=` with what was typed when refused.
use crate::{
    alerts::{
        manage::{new_secret, ChangeError, MissingSecret},
        rules,
        store::{self, AlertFilter},
    },
    auth::{AlertsWrite, Principal, RequireScope, Scope},
    state::AppState,
    storage::{custom_metrics, hosts},
};
use app::{
    models::{AlertsPageData, HostChoice, Viewer},
    view_state::{encode, param, parse_query},
};
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value};

/// Active alerts listed (the page says how many there are in all).
const FIRING_SHOWN: i64 = 500;
const RESOLVED_SHOWN: i64 = 30;

/// The page for `query` (`level`, `host`: filters of both alert lists; anything else is the
/// forms' business).
pub async fn data(
    state: &AppState,
    principal: Principal,
    viewer: Viewer,
    query: &str,
    now: DateTime<Utc>,
) -> Result<AlertsPageData, super::PageError> {
    let pool = &state.pool;
    let unavailable = super::unavailable;
    let pairs = parse_query(query);
    let level = param(&pairs, "level")
        .filter(|l| rules::LEVELS.contains(l))
        .map(str::to_string);
    let host = param(&pairs, "host")
        .filter(|h| !h.is_empty())
        .map(str::to_string);
    let host_id = match &host {
        // An unknown host matches no alert (row ids start at 1).
        Some(vm_id) => Some(
            hosts::find(pool, vm_id)
                .await
                .map_err(unavailable)?
                .map_or(0, |h| h.id),
        ),
        None => None,
    };
    let (firing, summary) = store::list_alerts(
        pool,
        &AlertFilter {
            level: level.as_deref(),
            kind: None,
            host_id,
            include_resolved: false,
            limit: FIRING_SHOWN,
            most_severe_first: true,
        },
    )
    .await
    .map_err(unavailable)?;
    let firing: Vec<_> = firing.iter().map(store::AlertRow::to_model).collect();
    let resolved = store::recently_resolved(pool, level.as_deref(), host_id, RESOLVED_SHOWN)
        .await
        .map_err(unavailable)?
        .iter()
        .map(store::AlertRow::to_model)
        .collect();
    let rules = store::rules(pool)
        .await
        .map_err(unavailable)?
        .iter()
        .map(store::RuleRow::to_model)
        .collect();
    let custom = custom_metrics::sent_by_hosts(pool, now - chrono::Duration::days(7))
        .await
        .map_err(unavailable)?;
    let by_group = hosts::by_group(pool).await.map_err(unavailable)?;
    let mut groups: Vec<String> = by_group.iter().filter_map(|h| h.2.clone()).collect();
    groups.dedup();
    Ok(AlertsPageData {
        can_write: principal.has(Scope::AlertsWrite),
        viewer,
        summary,
        firing,
        resolved,
        rules,
        metrics: app::catalog::watchable()
            .map(|m| m.name.to_owned())
            .collect(),
        custom_metrics: custom.into_iter().map(|(name, _)| name).collect(),
        hosts: by_group
            .into_iter()
            .map(|(vm_id, name, _)| HostChoice { vm_id, name })
            .collect(),
        groups,
        suggested_secret: new_secret(),
        level,
        host,
    })
}

fn done(notice: &str) -> Response {
    Redirect::to(&format!("/alerts?notice={}", encode(notice))).into_response()
}

fn refused(problem: &str) -> Response {
    Redirect::to(&format!("/alerts?error={}", encode(problem))).into_response()
}

fn problem_text(error: ChangeError) -> String {
    match error {
        ChangeError::Database(e) => super::unreachable(e),
        other => other.to_string(),
    }
}

/// The rule form's fields as the rules API's JSON body, so that both are checked by one
/// function (`rules::apply`) and refused with the same messages.
pub fn rule_body(pairs: &[(String, String)]) -> Result<Value, String> {
    let mut body = Map::new();
    let text = |key: &str| param(pairs, key).unwrap_or_default().trim().to_string();
    // A field the form did not send keeps the rule's value (a new rule's default).
    for key in [
        "name",
        "metric",
        "operator",
        "level",
        "description",
        "host",
        "group_id",
        "webhook_url",
    ] {
        if param(pairs, key).is_some() {
            body.insert(key.into(), Value::String(text(key)));
        }
    }
    let threshold = text("threshold");
    let number = threshold
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("`threshold` must be a number, got `{threshold}`"))?;
    body.insert("threshold".into(), Value::Number(number));
    for key in ["for", "cooldown", "recovery"] {
        let given = text(key);
        if given.is_empty() {
            continue;
        }
        let seconds: i64 = given
            .parse()
            .map_err(|_| format!("`{key}` must be a whole number of seconds, got `{given}`"))?;
        body.insert(key.into(), Value::Number(seconds.into()));
    }
    body.insert(
        "enabled".into(),
        Value::Bool(param(pairs, "enabled").is_some()),
    );
    let actions = pairs
        .iter()
        .filter(|(k, _)| k == "action")
        .map(|(_, v)| Value::String(v.clone()))
        .collect();
    body.insert("actions".into(), Value::Array(actions));
    // The URL field stays filled when the webhook box is unticked: no webhook then, not a refusal.
    if !pairs.iter().any(|(k, v)| k == "action" && v == "webhook") {
        body.insert("webhook_url".into(), Value::String(String::new()));
    }
    let secret = text("webhook_secret");
    if !secret.is_empty() {
        body.insert("webhook_secret".into(), Value::String(secret));
    }
    Ok(Value::Object(body))
}

/// `POST /alerts/rules`: the rule form (a new rule, or the one `id` names).
pub async fn save_rule(
    _: RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let outcome = async {
        let id = match param(&pairs, "id").filter(|id| !id.is_empty()) {
            Some(text) => Some(
                store::parse_id(text, "rule_")
                    .ok_or_else(|| format!("no alert rule with id `{text}`"))?,
            ),
            None => None,
        };
        // A secret generated here would never be seen: the form offers one instead.
        let saved = state
            .alerting()
            .apply_and_save(id, &rule_body(&pairs)?, MissingSecret::Refuse)
            .await
            .map_err(|e| match e {
                ChangeError::SecretNeeded => "a webhook needs a signing secret: keep the one offered or type your own (16 characters or more)".to_string(),
                other => problem_text(other),
            })?;
        Ok::<_, String>(format!(
            "Rule {} {}.",
            saved.name,
            if id.is_some() { "saved" } else { "added" }
        ))
    }
    .await;
    match outcome {
        Ok(notice) => done(&notice),
        Err(problem) => {
            // Back to the form with what was typed, the secret excepted.
            let typed: String = pairs
                .iter()
                .filter(|(k, _)| k != "webhook_secret")
                .map(|(k, v)| format!("&{}={}", encode(k), encode(v)))
                .collect();
            Redirect::to(&format!(
                "/alerts?error={}{typed}#rule-form",
                encode(&problem)
            ))
            .into_response()
        }
    }
}

/// `POST /alerts/rules/{id}/enable`, `…/disable` and `…/delete`.
pub async fn change_rule(
    _: RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let outcome = async {
        let numeric =
            store::parse_id(&id, "rule_").ok_or_else(|| format!("no alert rule with id `{id}`"))?;
        let rule = store::rule(&state.pool, numeric)
            .await
            .map_err(super::unreachable)?
            .ok_or_else(|| format!("no alert rule with id `{id}`"))?;
        let alerting = state.alerting();
        match action.as_str() {
            "enable" | "disable" => {
                let mut spec = rule.to_spec();
                spec.enabled = action == "enable";
                alerting
                    .save_rule(Some(numeric), spec)
                    .await
                    .map_err(problem_text)?;
                Ok(format!("Rule {} {action}d.", rule.name))
            }
            "delete" => {
                alerting.delete_rule(numeric).await.map_err(problem_text)?;
                Ok(format!(
                    "Rule {} deleted; its alerts stay in the lists.",
                    rule.name
                ))
            }
            other => Err(format!(
                "`{other}` is not something a rule can do (enable, disable, delete)"
            )),
        }
    }
    .await;
    match outcome {
        Ok(notice) => done(&notice),
        Err(problem) => refused(&problem),
    }
}

/// `POST /alerts/{id}/resolve` with an optional `resolution` note.
pub async fn resolve(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let outcome = async {
        let numeric =
            store::parse_id(&id, "alert_").ok_or_else(|| format!("no alert with id `{id}`"))?;
        let resolution = param(&pairs, "resolution")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("resolved manually");
        if resolution.chars().count() > 2000 {
            return Err("the note is limited to 2000 characters".to_string());
        }
        let alert = state
            .alerting()
            .resolve(numeric, Utc::now(), resolution, &principal.name)
            .await
            .map_err(problem_text)?;
        Ok(format!("Resolved: {}.", alert.title))
    }
    .await;
    match outcome {
        Ok(notice) => done(&notice),
        Err(problem) => refused(&problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::RuleSpec;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_form_becomes_the_apis_body_and_is_checked_by_the_same_rules() {
        let form = pairs(&[
            ("name", " db cpu "),
            ("metric", "cpu_percent"),
            ("operator", "greater_or_equal"),
            ("threshold", "85.5"),
            ("level", "critical"),
            ("host", ""),
            ("group_id", "grp_01"),
            ("for", "60"),
            ("cooldown", ""),
            ("recovery", "120"),
            ("action", "log"),
            ("enabled", "on"),
        ]);
        let spec = rules::apply(RuleSpec::default(), &rule_body(&form).expect("body"))
            .expect("a valid rule");
        assert_eq!(spec.name, "db cpu");
        assert_eq!(spec.threshold, 85.5);
        assert_eq!(spec.operator.as_str(), "greater_or_equal");
        assert_eq!(
            (spec.for_secs, spec.cooldown_secs, spec.recovery_secs),
            (60, 300, 120)
        );
        assert_eq!(spec.host, None);
        assert_eq!(spec.group_id.as_deref(), Some("grp_01"));
        assert_eq!(spec.actions, vec!["log".to_string()]);
        assert!(spec.enabled);

        // Unticked boxes are absent from a form: the rule is disabled, and a webhook URL left
        // in its field without the webhook box is dropped rather than refused.
        let off = pairs(&[
            ("name", "x"),
            ("metric", "load1"),
            ("threshold", "4"),
            ("action", "log"),
            ("webhook_url", "https://hooks.example.com/x"),
        ]);
        let spec = rules::apply(RuleSpec::default(), &rule_body(&off).expect("body"))
            .expect("a valid rule");
        assert!(!spec.enabled);
        assert_eq!(spec.webhook_url, None);
        let silent = pairs(&[("name", "x"), ("metric", "load1"), ("threshold", "4")]);
        let refused = rules::apply(RuleSpec::default(), &rule_body(&silent).expect("body"))
            .expect_err("no action");
        assert!(refused.contains("`actions`"), "{refused}");

        let words = pairs(&[("name", "x"), ("metric", "load1"), ("threshold", "four")]);
        assert_eq!(
            rule_body(&words).expect_err("not a number"),
            "`threshold` must be a number, got `four`"
        );
        let minutes = pairs(&[
            ("name", "x"),
            ("metric", "load1"),
            ("threshold", "4"),
            ("for", "5m"),
        ]);
        assert!(rule_body(&minutes)
            .expect_err("not seconds")
            .contains("`for`"));
        let counter = pairs(&[
            ("name", "x"),
            ("metric", "network_bytes_sent"),
            ("threshold", "4"),
        ]);
        let refused = rules::apply(RuleSpec::default(), &rule_body(&counter).expect("body"))
            .expect_err("a counter");
        assert!(refused.contains("network_out_bps"), "{refused}");
    }
}
