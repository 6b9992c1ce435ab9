//! The alerts page: what fires now (resolve it with a note), what resolved lately, and the rules
//! (create, edit, enable or disable, delete). Every control is a plain form posting to the server
//! (`/alerts/...`), which answers with a redirect back here, so it works without JavaScript; a
//! refused rule comes back with the reason and what was typed.
use super::{snapshot::load_alerts, TopBar};
use crate::{
    catalog,
    models::{Alert, AlertRule, AlertsPageData},
    panels::format_value,
    view_state::{host_link, investigate_link, param, Range},
};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AlertsPage() -> impl IntoView {
    let search = leptos_router::hooks::use_location().search.get_untracked();
    let data = Resource::new(move || (), move |_| load_alerts(search.clone()));
    let query = use_query_map();
    view! {
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                let pairs: Vec<(String, String)> = query
                    .get_untracked()
                    .into_iter()
                    .map(|(k, v)| (k.into_owned(), v))
                    .collect();
                match data.await {
                    Ok(data) => view! { <AlertsView data pairs/> }.into_any(),
                    Err(error) => super::failed("the alerts page", error, "/alerts".into()),
                }
            })}
        </Suspense>
    }
}

/// The rule form's fields, as text: a new rule's defaults, a stored rule to edit, or what was
/// typed before the server refused it (the redirect carries the fields back, the secret excepted).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleForm {
    /// `rule_<n>` when editing.
    pub id: Option<String>,
    pub name: String,
    pub metric: String,
    pub operator: String,
    pub threshold: String,
    pub level: String,
    pub description: String,
    pub host: String,
    pub group_id: String,
    pub for_secs: String,
    pub cooldown: String,
    pub recovery: String,
    pub enabled: bool,
    pub log: bool,
    pub webhook: bool,
    pub webhook_url: String,
}

impl Default for RuleForm {
    fn default() -> Self {
        RuleForm {
            id: None,
            name: String::new(),
            metric: "cpu_percent".into(),
            operator: "greater_than".into(),
            threshold: String::new(),
            level: "warning".into(),
            description: String::new(),
            host: String::new(),
            group_id: String::new(),
            for_secs: "0".into(),
            cooldown: "300".into(),
            recovery: "0".into(),
            enabled: true,
            log: true,
            webhook: false,
            webhook_url: String::new(),
        }
    }
}

impl RuleForm {
    pub fn of(rule: &AlertRule) -> Self {
        RuleForm {
            id: Some(rule.id.clone()),
            name: rule.name.clone(),
            metric: rule.metric.clone(),
            operator: rule.operator.clone(),
            threshold: number_text(rule.threshold),
            level: rule.level.clone(),
            description: rule.description.clone(),
            host: rule.host.clone().unwrap_or_default(),
            group_id: rule.group_id.clone().unwrap_or_default(),
            for_secs: rule.for_secs.to_string(),
            cooldown: rule.cooldown.to_string(),
            recovery: rule.recovery.to_string(),
            enabled: rule.enabled,
            log: rule.actions.iter().any(|a| a == "log"),
            webhook: rule.actions.iter().any(|a| a == "webhook"),
            webhook_url: rule.webhook_url.clone().unwrap_or_default(),
        }
    }

    /// The form as it was posted (the page's query string after a refusal).
    pub fn posted(pairs: &[(String, String)]) -> Self {
        let text = |key: &str| param(pairs, key).unwrap_or_default().to_string();
        let action = |name: &str| pairs.iter().any(|(k, v)| k == "action" && v == name);
        RuleForm {
            id: param(pairs, "id")
                .filter(|id| !id.is_empty())
                .map(str::to_string),
            name: text("name"),
            metric: text("metric"),
            operator: text("operator"),
            threshold: text("threshold"),
            level: text("level"),
            description: text("description"),
            host: text("host"),
            group_id: text("group_id"),
            for_secs: text("for"),
            cooldown: text("cooldown"),
            recovery: text("recovery"),
            enabled: param(pairs, "enabled").is_some(),
            log: action("log"),
            webhook: action("webhook"),
            webhook_url: text("webhook_url"),
        }
    }
}

/// A threshold as typed: `80`, not `80.0`; `0.5` stays.
fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

/// "0 s", "45 s", "5 min", "1 h 30 min", "2 d": a rule's timing, short.
pub fn duration_text(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 if s % 60 == 0 => format!("{} min", s / 60),
        60..=3_599 => format!("{} min {} s", s / 60, s % 60),
        3_600..=86_399 if s % 3_600 == 0 => format!("{} h", s / 3_600),
        3_600..=86_399 => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
        _ if s % 86_400 == 0 => format!("{} d", s / 86_400),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3_600),
    }
}

fn symbol(operator: &str) -> &str {
    match catalog::Operator::parse(operator) {
        Some(op) => op.symbol(),
        None => operator,
    }
}

/// A value of a rule's metric in its unit ("91.4 %", "1.2 MiB/s"); custom metrics as numbers.
pub fn rule_value(metric: &str, value: f64) -> String {
    match catalog::sample_metric(metric) {
        Some(m) => format_value(value, m.unit.display()),
        None => format_value(value, "number"),
    }
}

/// `cpu_percent > 80 %`.
fn condition(rule: &AlertRule) -> String {
    format!(
        "{} {} {}",
        rule.metric,
        symbol(&rule.operator),
        rule_value(&rule.metric, rule.threshold)
    )
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[component]
fn AlertsView(data: AlertsPageData, pairs: Vec<(String, String)>) -> impl IntoView {
    let AlertsPageData {
        viewer,
        can_write,
        summary,
        firing,
        resolved,
        rules,
        metrics,
        custom_metrics,
        hosts,
        groups,
        suggested_secret,
        level,
        host,
    } = data;
    let filter = alert_filter(&hosts, level.as_deref(), host.as_deref());
    let error = param(&pairs, "error").map(str::to_string);
    let notice = param(&pairs, "notice").map(str::to_string);
    // A refused rule comes back with its fields; other refusals (resolving, deleting) without.
    let refused_form = error.is_some() && param(&pairs, "name").is_some();
    let (form_error, top_error) = if refused_form && can_write {
        (error, None)
    } else {
        (None, error)
    };
    let form = if refused_form {
        RuleForm::posted(&pairs)
    } else {
        param(&pairs, "edit")
            .and_then(|id| rules.iter().find(|r| r.id == id))
            .map(RuleForm::of)
            .unwrap_or_default()
    };
    let host_name = {
        let hosts = hosts.clone();
        move |vm_id: &str| {
            hosts
                .iter()
                .find(|h| h.vm_id == vm_id)
                .map_or_else(|| vm_id.to_string(), |h| h.name.clone())
        }
    };
    let now = Utc::now();
    // Every active alert counts, also beyond the ones listed.
    let firing_count = summary.active.max(firing.len() as i64);
    let unlisted = firing_count - firing.len() as i64;
    let rule_count = rules.len();
    let critical = firing.iter().filter(|a| a.level == "critical").count();
    let firing_rows = firing
        .iter()
        .map(|a| alert_row(a, &host_name, Some(now), can_write))
        .collect_view();
    let resolved_rows = resolved
        .iter()
        .map(|a| alert_row(a, &host_name, None, false))
        .collect_view();
    let rule_rows = rules
        .iter()
        .map(|r| rule_row(r, &host_name, can_write))
        .collect_view();
    let top = view! {
        <TopBar active="/alerts" viewer>
            <span class="muted" data-testid="alerts-summary">{format!(
                "{firing_count} firing ({critical} critical) · {rule_count} rules · {} alerts stored",
                summary.total
            )}</span>
        </TopBar>
    }
    .into_any();
    let editor = can_write
        .then(|| view! { <RuleEditor form error=form_error metrics custom_metrics hosts groups suggested_secret/> }.into_any());
    let read_only = (!can_write).then(|| {
        view! { <p class="muted">"Your account can read alerts and rules; changing them needs the alerts:write scope."</p> }
    });
    let unlisted = (unlisted > 0).then(|| {
        view! { <p class="muted small">{format!("{unlisted} older firing alerts are not listed here.")}</p> }
    });
    let no_firing = (firing_count == 0)
        .then(|| view! { <p class="muted" data-testid="nothing-firing">"Nothing is firing."</p> });
    let no_resolved = resolved
        .is_empty()
        .then(|| view! { <p class="muted">"No alert resolved yet."</p> });
    let no_rules = rules
        .is_empty()
        .then(|| view! { <p class="muted">"No rules: nothing is watched. Add one below."</p> });
    let top_error =
        top_error.map(|e| view! { <p class="error" data-testid="alerts-error">{e}</p> });
    view! {
        {top}
        <main class="page">
            {notice.map(|n| view! { <p class="notice" data-testid="alerts-notice">{n}</p> })}
            {top_error}
            <section class="panel">
                <h2>"Firing now"</h2>
                {filter}
                {no_firing}
                <div class="table-wrap">
                    <table data-testid="firing-table">
                        <thead><tr><th>"level"</th><th>"since"</th><th>"host"</th><th>"alert"</th><th>"value"</th><th></th></tr></thead>
                        <tbody>{firing_rows}</tbody>
                    </table>
                </div>
                {unlisted}
            </section>
            <section class="panel">
                <h2>"Rules"</h2>
                {no_rules}
                {read_only}
                <div class="table-wrap">
                    <table data-testid="rules-table">
                        <thead><tr><th>"rule"</th><th>"condition"</th><th>"level"</th><th>"applies to"</th><th>"timing"</th><th>"notifies"</th><th>"fired"</th><th></th></tr></thead>
                        <tbody>{rule_rows}</tbody>
                    </table>
                </div>
            </section>
            {editor}
            <section class="panel">
                <h2>"Resolved lately"</h2>
                {no_resolved}
                <div class="table-wrap">
                    <table data-testid="resolved-table">
                        <thead><tr><th>"level"</th><th>"from"</th><th>"host"</th><th>"alert"</th><th>"value"</th><th>"resolved"</th></tr></thead>
                        <tbody>{resolved_rows}</tbody>
                    </table>
                </div>
            </section>
        </main>
    }
}

/// A GET form narrowing both alert lists to a level and a host (the rules stay whole).
fn alert_filter(
    hosts: &[crate::models::HostChoice],
    level: Option<&str>,
    host: Option<&str>,
) -> AnyView {
    let levels = catalog::ALERT_LEVELS
        .iter()
        .map(|l| view! { <option value=*l selected=level == Some(*l)>{*l}</option> })
        .collect_view();
    let host_options = hosts
        .iter()
        .map(|h| {
            view! { <option value=h.vm_id.clone() selected=host == Some(h.vm_id.as_str())>{format!("{} ({})", h.name, h.vm_id)}</option> }
        })
        .collect_view();
    let clear = (level.is_some() || host.is_some())
        .then(|| view! { <a href="/alerts" data-testid="alerts-clear">"all alerts"</a> });
    view! {
        <form class="filters alert-filters" method="get" action="/alerts" data-testid="alerts-filter">
            <label>"Level "<select name="level" data-testid="alerts-level"><option value="">"any"</option>{levels}</select></label>
            <label>"Host "<select name="host" data-testid="alerts-host"><option value="">"any"</option>{host_options}</select></label>
            <button type="submit">"Filter"</button>
            {clear}
        </form>
    }
    .into_any()
}

/// One alert: firing (with how long and the resolve form) or resolved (when, by whom, why).
fn alert_row(
    a: &Alert,
    host_name: &impl Fn(&str) -> String,
    now: Option<DateTime<Utc>>,
    can_write: bool,
) -> AnyView {
    let host = match &a.host {
        Some(vm_id) => {
            let href = host_link(
                vm_id,
                &Range::around(a.created_at.timestamp_millis()),
                Some(&a.id),
            );
            let investigate = investigate_link(
                vm_id,
                a.created_at.timestamp_millis(),
                a.resolved_at.map(|t| t.timestamp_millis()),
            );
            view! {
                <a href=href data-testid="alert-host">{host_name(vm_id)}</a>
                <div class="small"><a href=investigate data-testid="alert-investigate" title="what else changed on this host then">"what changed"</a></div>
            }
            .into_any()
        }
        None => view! { <span class="muted">"no host"</span> }.into_any(),
    };
    let value = rule_value(&a.metric, a.value);
    let threshold = format!("threshold {}", rule_value(&a.metric, a.threshold));
    let age = now.map(|now| {
        let age = duration_text((now - a.created_at).num_seconds());
        view! { <div class="muted small">{format!("for {age}")}</div> }
    });
    let last = match now {
        Some(_) => {
            let resolve = can_write.then(|| {
                view! {
                    <form method="post" action=format!("/alerts/{}/resolve", a.id) class="inline">
                        <input type="text" name="resolution" placeholder="note (optional)" maxlength="2000" aria-label="resolution note"/>
                        <button type="submit" data-testid="alert-resolve">"Resolve"</button>
                    </form>
                }
            });
            view! { <td>{resolve}</td> }.into_any()
        }
        None => {
            let resolved = format!(
                "{} by {}{}",
                a.resolved_at.map(when).unwrap_or_default(),
                a.resolved_by.clone().unwrap_or_else(|| "system".into()),
                a.resolution
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            view! { <td class="muted small">{resolved}</td> }.into_any()
        }
    };
    view! {
        <tr class=format!("severity-{}", a.level) data-testid="alert-row" data-id=a.id.clone()>
            <td>{a.level.clone()}</td>
            <td class="nowrap">{when(a.created_at)}{age}</td>
            <td class="nowrap">{host}</td>
            <td>{a.title.clone()}<div class="muted small">{a.message.clone()}</div></td>
            <td class="num nowrap">{value}<div class="muted small">{threshold}</div></td>
            {last}
        </tr>
    }
    .into_any()
}

fn rule_row(r: &AlertRule, host_name: &impl Fn(&str) -> String, can_write: bool) -> AnyView {
    let scope = match (&r.host, &r.group_id) {
        (Some(vm_id), _) => host_name(vm_id),
        (None, Some(group)) => format!("group {group}"),
        (None, None) => "every host".into(),
    };
    let timing = format!(
        "for {} · cooldown {} · recovery {}",
        duration_text(r.for_secs),
        duration_text(r.cooldown),
        duration_text(r.recovery)
    );
    let notifies = r
        .actions
        .iter()
        .map(|a| match (a.as_str(), &r.webhook_url) {
            ("webhook", Some(url)) => format!("webhook {url}"),
            (other, _) => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let fired = match r.last_triggered {
        Some(t) => format!("{} × · last {}", r.trigger_count, when(t)),
        None => "never".into(),
    };
    let controls = can_write.then(|| {
        let (toggle, toggle_label) = if r.enabled {
            ("disable", "Disable")
        } else {
            ("enable", "Enable")
        };
        view! {
            <a href=format!("/alerts?edit={}#rule-form", r.id) data-testid="rule-edit">"Edit"</a>
            <form method="post" action=format!("/alerts/rules/{}/{toggle}", r.id) class="inline">
                <button type="submit" data-testid="rule-toggle">{toggle_label}</button>
            </form>
            // A second click confirms: a delete cannot be undone.
            <details class="confirm">
                <summary data-testid="rule-delete">"Delete…"</summary>
                <form method="post" action=format!("/alerts/rules/{}/delete", r.id) class="inline">
                    <button type="submit" class="danger" data-testid="rule-delete-confirm">{format!("Delete {}", r.name)}</button>
                </form>
            </details>
        }
    });
    let state = (!r.enabled).then(|| view! { <span class="muted small">" (disabled)"</span> });
    view! {
        <tr class=if r.enabled { "rule" } else { "rule disabled" } data-testid="rule-row" data-id=r.id.clone() data-name=r.name.clone()>
            <td><strong>{r.name.clone()}</strong>{state}<div class="muted small">{r.description.clone()}</div></td>
            <td>{condition(r)}</td>
            <td>{r.level.clone()}</td>
            <td>{scope}</td>
            <td class="small">{timing}</td>
            <td class="small">{notifies}</td>
            <td class="small">{fired}</td>
            <td class="controls">{controls}</td>
        </tr>
    }
    .into_any()
}

#[component]
fn RuleEditor(
    form: RuleForm,
    error: Option<String>,
    metrics: Vec<String>,
    custom_metrics: Vec<String>,
    hosts: Vec<crate::models::HostChoice>,
    groups: Vec<String>,
    suggested_secret: String,
) -> impl IntoView {
    let editing = form.id.is_some();
    let heading = if editing {
        format!("Edit rule {}", form.name)
    } else {
        "New rule".to_string()
    };
    let metric_options = metrics
        .iter()
        .chain(custom_metrics.iter())
        .map(|m| view! { <option value=m.clone()></option> })
        .collect_view();
    let operators = catalog::Operator::ALL
        .iter()
        .map(|op| {
            let name = op.as_str();
            view! { <option value=name selected=form.operator == name>{format!("{} ({})", op.symbol(), name.replace('_', " "))}</option> }
        })
        .collect_view();
    let levels = catalog::ALERT_LEVELS
        .iter()
        .map(|l| view! { <option value=*l selected=form.level == *l>{*l}</option> })
        .collect_view();
    let host_options = hosts
        .iter()
        .map(|h| {
            view! { <option value=h.vm_id.clone() selected=form.host == h.vm_id>{format!("{} ({})", h.name, h.vm_id)}</option> }
        })
        .collect_view();
    let group_options = groups
        .iter()
        .map(
            |g| view! { <option value=g.clone() selected=form.group_id == *g>{g.clone()}</option> },
        )
        .collect_view();
    // Editing keeps the stored secret unless a new one is typed; a new rule is offered one.
    let (secret_value, secret_hint) = if editing {
        (
            String::new(),
            "leave empty to keep the stored one; 16 characters or more",
        )
    } else {
        (
            suggested_secret,
            "copy it to the receiver: it signs every delivery (X-Lookout-Signature)",
        )
    };
    let cancel = editing.then(|| view! { <a href="/alerts">"Cancel"</a> });
    view! {
        <section class="panel" id="rule-form">
            <h2>{heading}</h2>
            {error.map(|e| view! { <p class="error" data-testid="rule-error">{e}</p> })}
            <form class="rule-form" method="post" action="/alerts/rules" data-testid="rule-form">
                {form.id.clone().map(|id| view! { <input type="hidden" name="id" value=id/> })}
                <label>"Name"<input type="text" name="name" required maxlength="100" value=form.name.clone() data-testid="rule-name"/></label>
                <label>"Metric"<input type="text" name="metric" required list="rule-metrics" value=form.metric.clone() data-testid="rule-metric"/></label>
                <datalist id="rule-metrics">{metric_options}</datalist>
                <label>"Condition"<select name="operator" data-testid="rule-operator">{operators}</select></label>
                <label>"Threshold"<input type="text" name="threshold" required inputmode="decimal" value=form.threshold.clone() data-testid="rule-threshold"/></label>
                <label>"Level"<select name="level" data-testid="rule-level">{levels}</select></label>
                <label>"Host"<select name="host" data-testid="rule-host"><option value="">"every host"</option>{host_options}</select></label>
                <label>"Group"<select name="group_id" data-testid="rule-group"><option value="">"any group"</option>{group_options}</select></label>
                <label>"Holds for (s)"<input type="number" name="for" min="0" max="86400" value=form.for_secs.clone()/></label>
                <label>"Cooldown (s)"<input type="number" name="cooldown" min="0" max="604800" value=form.cooldown.clone()/></label>
                <label>"Recovery (s)"<input type="number" name="recovery" min="0" max="86400" value=form.recovery.clone()/></label>
                <label class="wide">"Description"<input type="text" name="description" maxlength="1000" value=form.description.clone()/></label>
                <fieldset class="wide">
                    <legend>"Notify"</legend>
                    <label class="check"><input type="checkbox" name="action" value="log" checked=form.log/>" log"</label>
                    <label class="check"><input type="checkbox" name="action" value="webhook" checked=form.webhook data-testid="rule-webhook"/>" webhook"</label>
                    <label>"Webhook URL"<input type="url" name="webhook_url" maxlength="2048" value=form.webhook_url.clone() placeholder="https://hooks.example.com/lookout"/></label>
                    <label>"Signing secret"<input type="text" name="webhook_secret" maxlength="256" value=secret_value autocomplete="off"/><span class="muted small">{secret_hint}</span></label>
                </fieldset>
                <label class="check"><input type="checkbox" name="enabled" value="on" checked=form.enabled/>" enabled"</label>
                <div class="wide">
                    <button type="submit" class="primary" data-testid="rule-save">{if editing { "Save rule" } else { "Add rule" }}</button>
                    " " {cancel}
                </div>
            </form>
            <p class="muted small">"Built-in metrics are judged on every sample, a custom metric on every point sent with its name. Limit a rule to one host or to one group, or to neither for every host. Times are in seconds."</p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_units_that_fit() {
        assert_eq!(duration_text(0), "0 s");
        assert_eq!(duration_text(45), "45 s");
        assert_eq!(duration_text(300), "5 min");
        assert_eq!(duration_text(330), "5 min 30 s");
        assert_eq!(duration_text(3_600), "1 h");
        assert_eq!(duration_text(5_400), "1 h 30 min");
        assert_eq!(duration_text(7 * 86_400), "7 d");
        assert_eq!(duration_text(86_400 + 7_200), "1 d 2 h");
        assert_eq!(duration_text(-5), "0 s");
    }

    #[test]
    fn a_refused_form_comes_back_as_it_was_typed() {
        let pairs: Vec<(String, String)> = [
            ("id", "rule_4"),
            ("name", "db cpu"),
            ("metric", "cpu_percent"),
            ("operator", "less_than"),
            ("threshold", "eighty"),
            ("level", "critical"),
            ("for", "60"),
            ("cooldown", "300"),
            ("recovery", "0"),
            ("action", "webhook"),
            ("webhook_url", "https://hooks.example.com/x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let form = RuleForm::posted(&pairs);
        assert_eq!(form.id.as_deref(), Some("rule_4"));
        assert_eq!(form.threshold, "eighty");
        assert_eq!(form.operator, "less_than");
        assert!(form.webhook && !form.log && !form.enabled);
        assert_eq!(form.for_secs, "60");
    }

    #[test]
    fn values_and_thresholds_read_in_the_metrics_unit() {
        assert_eq!(rule_value("cpu_percent", 91.41), "91.4 %");
        assert_eq!(rule_value("api.latency_p95", 0.01234), "0.0123");
        assert_eq!(number_text(80.0), "80");
        assert_eq!(number_text(0.5), "0.5");
        assert_eq!(symbol("greater_or_equal"), "≥");
        assert_eq!(symbol("unknown"), "unknown");
    }
}
