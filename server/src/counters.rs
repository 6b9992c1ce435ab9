//! Lookout's own counters, for watching the watcher: what the background jobs did, what ingest
//! stored, what webhook deliveries came to, what the sample buffer dropped. Counted where the
//! same thing is logged (Vector's "log and count in one place"), kept in memory for this process
//! (they restart at zero, as Prometheus counters may), and served at `GET /metrics` in
//! Prometheus' text exposition format.
use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{LazyLock, Mutex},
};

/// Every counter: its name, help text and whether it is counted by labels (a counter without
/// labels shows 0 before its first count). Only these can be counted.
pub const COUNTERS: &[(&str, &str, bool)] = &[
    (
        JOB_STEPS,
        "Steps of the background job runner, by queue and outcome (worked, idle, failed).",
        true,
    ),
    (
        SAMPLES_STORED,
        "Samples stored through ingest (agents, the API, the demo), new ones only.",
        false,
    ),
    (
        WEBHOOK_ATTEMPTS,
        "Webhook delivery attempts, by outcome (delivered, retry, failed).",
        true,
    ),
    (
        SAMPLES_DROPPED,
        "Local samples dropped from the full buffer while the database was away.",
        false,
    ),
];

pub const JOB_STEPS: &str = "lookout_job_steps_total";
pub const SAMPLES_STORED: &str = "lookout_samples_stored_total";
pub const WEBHOOK_ATTEMPTS: &str = "lookout_webhook_attempts_total";
pub const SAMPLES_DROPPED: &str = "lookout_samples_dropped_total";

/// (counter name, label pairs) → count.
type Series = BTreeMap<(&'static str, Vec<(&'static str, String)>), u64>;

static SERIES: LazyLock<Mutex<Series>> = LazyLock::new(Mutex::default);

/// Adds `by` to counter `name` (one of [`COUNTERS`]) with `labels`.
pub fn add(name: &'static str, labels: &[(&'static str, &str)], by: u64) {
    debug_assert!(COUNTERS.iter().any(|(known, ..)| *known == name), "{name}");
    let key = (
        name,
        labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    );
    let mut series = SERIES.lock().unwrap_or_else(|p| p.into_inner());
    *series.entry(key).or_insert(0) += by;
}

/// Every counter in Prometheus' text format (version 0.0.4): `# HELP` and `# TYPE` for each, then
/// its series; a counter not counted yet shows as 0 when it has no labels.
pub fn render() -> String {
    let series = SERIES.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut out = String::new();
    for (name, help, labelled) in COUNTERS {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let mut any = false;
        for ((counter, labels), value) in series.iter().filter(|((n, _), _)| n == name) {
            any = true;
            let _ = writeln!(out, "{counter}{} {value}", label_text(labels));
        }
        if !any && !labelled {
            let _ = writeln!(out, "{name} 0");
        }
    }
    out
}

/// `{a="x",b="y"}` with the format's escapes (backslash, quote, newline); empty without labels.
fn label_text(labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(key, value)| {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{key}=\"{escaped}\"")
        })
        .collect();
    format!("{{{}}}", pairs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_as_the_text_format_says() {
        assert_eq!(label_text(&[]), "");
        assert_eq!(
            label_text(&[("queue", "a\"b\\c\nd".into()), ("outcome", "idle".into())]),
            r#"{queue="a\"b\\c\nd",outcome="idle"}"#
        );
    }

    #[test]
    fn counts_add_up_per_label_set_and_every_counter_is_described() {
        add(WEBHOOK_ATTEMPTS, &[("outcome", "test-delivered")], 2);
        add(WEBHOOK_ATTEMPTS, &[("outcome", "test-delivered")], 3);
        add(WEBHOOK_ATTEMPTS, &[("outcome", "test-failed")], 1);
        let text = render();
        assert!(text.contains("lookout_webhook_attempts_total{outcome=\"test-delivered\"} 5\n"));
        assert!(text.contains("lookout_webhook_attempts_total{outcome=\"test-failed\"} 1\n"));
        for (name, ..) in COUNTERS {
            assert!(text.contains(&format!("# TYPE {name} counter\n")), "{name}");
        }
    }
}
