//! What an alert rule is: which metrics it watches, operators, and validation of rule bodies.
use app::catalog::{self, Kind, SampleMetric};
use serde_json::{Map, Value};

/// A built-in metric a rule can watch: a gauge of the sample catalogue.
pub fn builtin(name: &str) -> Option<&'static SampleMetric> {
    catalog::sample_metric(name).filter(|m| m.kind == Kind::Gauge)
}

/// The alert type of a metric: the built-in one's group, else `custom`.
pub fn kind_of(metric: &str) -> &'static str {
    builtin(metric).map_or("custom", |m| m.group.name())
}

/// Custom metric names: a letter or `_`, then letters, digits, `_ . : -`; at most 128 characters.
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

/// The operators live with the levels in the catalogue the alerts page shares.
pub use catalog::Operator;

pub const LEVELS: [&str; 3] = catalog::ALERT_LEVELS;
pub const ACTIONS: [&str; 2] = ["log", "webhook"];
pub const MAX_COOLDOWN_SECS: i64 = 7 * 86_400;
pub const MAX_HOLD_SECS: i64 = 86_400;

/// A validated rule, as stored. `host` is a `vmId` the handler resolves.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    pub metric: String,
    pub operator: Operator,
    pub threshold: f64,
    pub level: String,
    pub description: String,
    pub enabled: bool,
    pub actions: Vec<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub cooldown_secs: i64,
    pub for_secs: i64,
    pub recovery_secs: i64,
    pub host: Option<String>,
    pub group_id: Option<String>,
}

impl Default for RuleSpec {
    fn default() -> Self {
        RuleSpec {
            name: String::new(),
            metric: String::new(),
            operator: Operator::GreaterThan,
            threshold: 0.0,
            level: "warning".into(),
            description: String::new(),
            enabled: true,
            actions: vec!["log".into()],
            webhook_url: None,
            webhook_secret: None,
            cooldown_secs: 300,
            for_secs: 0,
            recovery_secs: 0,
            host: None,
            group_id: None,
        }
    }
}

const FIELDS: &[&str] = &[
    "name",
    "metric",
    "operator",
    "threshold",
    "level",
    "description",
    "enabled",
    "actions",
    "webhook_url",
    "webhook_secret",
    "cooldown",
    "for",
    "recovery",
    "host",
    "group_id",
];

fn text(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, String> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(format!("`{field}` is longer than {max} characters"))
        }
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(other) => Err(format!("`{field}` must be a string, got {other}")),
    }
}

fn seconds(body: &Map<String, Value>, field: &str, max: i64) -> Result<Option<i64>, String> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if (0..=max).contains(&v) => Ok(Some(v)),
            _ => Err(format!(
                "`{field}` must be a whole number of seconds from 0 to {max}, got {n}"
            )),
        },
        Some(other) => Err(format!(
            "`{field}` must be a whole number of seconds, got {other}"
        )),
    }
}

/// Applies a JSON rule body onto `base` (defaults for a new rule, the stored rule for an update),
/// checking every field; the message names the field at fault.
pub fn apply(base: RuleSpec, body: &Value) -> Result<RuleSpec, String> {
    let Value::Object(body) = body else {
        return Err("the body must be a JSON object".into());
    };
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(crate::error::unknown_field_message(unknown, FIELDS));
    }
    let mut rule = base;
    if let Some(name) = text(body, "name", 100)? {
        rule.name = name;
    }
    if let Some(metric) = text(body, "metric", 128)? {
        rule.metric = metric;
    }
    if let Some(op) = text(body, "operator", 20)? {
        rule.operator = Operator::parse(&op).ok_or_else(|| {
            format!("`operator` `{op}` is not one of greater_than, less_than, greater_or_equal, less_or_equal, equal, not_equal, >, <, >=, <=, ==, !=")
        })?;
    }
    match body.get("threshold") {
        None => {}
        Some(Value::Number(n)) => {
            rule.threshold = n
                .as_f64()
                .filter(|v| v.is_finite())
                .ok_or("`threshold` must be a finite number")?
        }
        Some(other) => return Err(format!("`threshold` must be a number, got {other}")),
    }
    if let Some(level) = text(body, "level", 20)? {
        rule.level = level;
    }
    if let Some(description) = text(body, "description", 1000)? {
        rule.description = description;
    }
    match body.get("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => rule.enabled = *b,
        Some(other) => return Err(format!("`enabled` must be true or false, got {other}")),
    }
    match body.get("actions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut actions: Vec<String> = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(a) if ACTIONS.contains(&a) => {
                        if !actions.iter().any(|x| x == a) {
                            actions.push(a.to_owned());
                        }
                    }
                    _ => {
                        return Err(format!(
                            "`actions` items must be \"log\" or \"webhook\", got {item}"
                        ))
                    }
                }
            }
            rule.actions = actions;
        }
        Some(other) => {
            return Err(format!(
                "`actions` must be an array such as [\"log\", \"webhook\"], got {other}"
            ))
        }
    }
    if body.contains_key("webhook_url") {
        rule.webhook_url = text(body, "webhook_url", 2048)?.filter(|u| !u.is_empty());
    }
    if let Some(secret) = text(body, "webhook_secret", 256)? {
        if secret.len() < 16 {
            return Err("`webhook_secret` must be at least 16 characters".into());
        }
        rule.webhook_secret = Some(secret);
    }
    if let Some(v) = seconds(body, "cooldown", MAX_COOLDOWN_SECS)? {
        rule.cooldown_secs = v;
    }
    if let Some(v) = seconds(body, "for", MAX_HOLD_SECS)? {
        rule.for_secs = v;
    }
    if let Some(v) = seconds(body, "recovery", MAX_HOLD_SECS)? {
        rule.recovery_secs = v;
    }
    if body.contains_key("host") {
        rule.host = text(body, "host", 128)?.filter(|h| !h.is_empty());
    }
    if body.contains_key("group_id") {
        rule.group_id = text(body, "group_id", 128)?.filter(|g| !g.is_empty());
    }
    check(&rule)?;
    Ok(rule)
}

/// Cross-field rules, after every field has its final value.
fn check(rule: &RuleSpec) -> Result<(), String> {
    if rule.name.is_empty() {
        return Err("`name` is required".into());
    }
    if rule.metric.is_empty() {
        return Err("`metric` is required (e.g. cpu_percent, memory_percent, disk_usage_percent or a custom metric name)".into());
    }
    if let Some(counter) = catalog::sample_metric(&rule.metric).filter(|m| m.kind == Kind::Counter)
    {
        return Err(format!(
            "`metric` `{}` is a counter that only grows; watch a rate such as {} instead",
            counter.name,
            if counter.name.ends_with("sent") {
                "network_out_bps"
            } else {
                "network_in_bps"
            }
        ));
    }
    if !valid_metric_name(&rule.metric) {
        return Err(format!(
            "`metric` `{}` is not a metric name (letters, digits, _ . : -, starting with a letter)",
            rule.metric
        ));
    }
    if !LEVELS.contains(&rule.level.as_str()) {
        return Err(format!(
            "`level` must be info, warning or critical, got `{}`",
            rule.level
        ));
    }
    if rule.actions.is_empty() {
        return Err("`actions` needs at least one of \"log\", \"webhook\"".into());
    }
    let wants_webhook = rule.actions.iter().any(|a| a == "webhook");
    match (&rule.webhook_url, wants_webhook) {
        (None, true) => {
            return Err("`webhook_url` is required when `actions` contains \"webhook\"".into())
        }
        (Some(_), false) => {
            return Err("`webhook_url` is set but `actions` does not contain \"webhook\"".into())
        }
        (Some(url), true) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            return Err("`webhook_url` must be an http:// or https:// URL".into())
        }
        _ => {}
    }
    if rule.host.is_some() && rule.group_id.is_some() {
        return Err("give either `host` or `group_id`, not both".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_operator_spellings_parse_to_the_same_operator() {
        for (long, short) in [
            ("greater_than", ">"),
            ("less_than", "<"),
            ("greater_or_equal", ">="),
            ("less_or_equal", "<="),
            ("equal", "=="),
            ("not_equal", "!="),
        ] {
            assert_eq!(Operator::parse(long), Operator::parse(short));
            assert_eq!(Operator::parse(long).map(Operator::as_str), Some(long));
        }
        assert_eq!(Operator::parse("gt"), None);
    }

    #[test]
    fn operators_compare_with_tolerance_for_equality() {
        assert!(Operator::GreaterThan.holds(80.1, 80.0));
        assert!(!Operator::GreaterThan.holds(80.0, 80.0));
        assert!(Operator::GreaterOrEqual.holds(80.0, 80.0));
        assert!(Operator::Equal.holds(0.1 + 0.2, 0.3));
        assert!(Operator::LessThan.holds(-1.0, 0.0));
        assert!(!Operator::NotEqual.holds(5.0, 5.0));
        assert!(Operator::LessOrEqual.holds(79.0, 80.0));
    }

    #[test]
    fn the_seed_body_is_a_valid_rule() {
        let body = json!({"name": "high_cpu_usage", "metric": "cpu_percent", "operator": "greater_than", "threshold": 80.0,
            "level": "warning", "description": "CPU使用率过高", "enabled": true, "actions": ["log", "webhook"],
            "webhook_url": "https://chat.example.com/hook", "cooldown": 300});
        let rule = apply(RuleSpec::default(), &body).expect("valid");
        assert_eq!(rule.operator, Operator::GreaterThan);
        assert_eq!(rule.cooldown_secs, 300);
        assert_eq!(rule.actions, vec!["log", "webhook"]);
    }

    #[test]
    fn each_bad_field_is_named_in_the_message() {
        let good = json!({"name": "r", "metric": "cpu_percent", "operator": ">", "threshold": 1, "level": "info"});
        let cases = [
            ("threshold", json!("high")),
            ("operator", json!("bigger")),
            ("level", json!("urgent")),
            ("cooldown", json!(-5)),
            ("for", json!(1.5)),
            ("actions", json!(["email"])),
            ("metric", json!("cpu percent")),
            ("enabled", json!("yes")),
        ];
        for (field, value) in cases {
            let mut body = good.clone();
            body[field] = value;
            let error = apply(RuleSpec::default(), &body).expect_err(field);
            assert!(error.contains(&format!("`{field}`")), "{field}: {error}");
        }
        let error = apply(
            RuleSpec::default(),
            &json!({"name": "r", "metric": "m", "actions": ["webhook"]}),
        )
        .expect_err("no url");
        assert!(error.contains("webhook_url"), "{error}");
        let error = apply(
            RuleSpec::default(),
            &json!({"name": "r", "metric": "m", "colour": "red"}),
        )
        .expect_err("unknown");
        assert!(error.contains("colour"), "{error}");
        assert!(apply(RuleSpec::default(), &json!({"metric": "m"}))
            .expect_err("no name")
            .contains("`name`"));
    }

    #[test]
    fn an_update_keeps_what_it_does_not_mention() {
        let base = apply(
            RuleSpec::default(),
            &json!({"name": "r", "metric": "memory_percent", "threshold": 90, "cooldown": 60}),
        )
        .expect("valid");
        let updated = apply(base.clone(), &json!({"threshold": 95})).expect("valid");
        assert_eq!(updated.threshold, 95.0);
        assert_eq!(updated.cooldown_secs, 60);
        assert_eq!(updated.metric, "memory_percent");
    }

    #[test]
    fn every_builtin_metric_has_a_valid_name_and_a_type() {
        for metric in catalog::watchable() {
            assert!(valid_metric_name(metric.name), "{}", metric.name);
            assert!(builtin(metric.name).is_some());
            assert!(["cpu", "memory", "disk", "network", "system"].contains(&kind_of(metric.name)));
        }
        assert_eq!(kind_of("orders_per_minute"), "custom");
        let error = apply(
            RuleSpec::default(),
            &json!({"name": "r", "metric": "network_bytes_recv", "threshold": 1}),
        )
        .expect_err("a counter");
        assert!(error.contains("network_in_bps"), "{error}");
    }
}
