//! Why an anomaly happened and what to do about it: a rule table over what else was abnormal on
//! the same host at the same time (documented in the README).
use super::Found;
use crate::{analysis::anomaly::Kind, storage::catalog::Group};

/// The rule table of likely causes and suggested actions (documented in the README): what else
/// was abnormal on the same host at the same time decides the explanation.
pub(super) fn explain(
    found: &Found,
    same_host: &[&Found],
) -> (&'static [&'static str], &'static [&'static str]) {
    let group = found.series.group;
    let kind = found.detected.kind;
    let rising = found.detected.rising;
    let with = |g: Group, up: bool| {
        same_host.iter().any(|o| {
            o.series.group == Some(g)
                && o.detected.rising == up
                && o.detected.kind != Kind::PatternBreak
        })
    };
    let (causes, actions): (&[&str], &[&str]) = match (group, kind) {
        (_, Kind::PatternBreak) => (
            &["the workload's schedule changed (a job moved, a holiday, a deploy)"],
            &["confirm the change with the application owners", "update schedules or expectations if it is intended"],
        ),
        (Some(Group::Cpu), Kind::Spike) if with(Group::Network, true) => (
            &["a traffic surge: more requests arrived"],
            &["check request rates and the load balancer", "scale out if the load persists"],
        ),
        (Some(Group::Cpu), Kind::Spike) if with(Group::Disk, true) => (
            &["a batch job or backup (CPU and disk busy together)"],
            &["check scheduled jobs (cron, backups) at that time", "move batch work off-peak"],
        ),
        (Some(Group::Cpu), Kind::Spike) => (
            &["a runaway or newly started process", "a scheduled task"],
            &["inspect the top processes at that time", "check the application logs"],
        ),
        (Some(Group::Memory), Kind::TrendChange) if rising => (
            &["a memory leak or a growing cache"],
            &["compare process memory over the last days", "fix the leak or plan restarts; add memory if the growth is legitimate"],
        ),
        (Some(Group::Memory), Kind::Spike) => (
            &["a large allocation or a burst of load"],
            &["check the application's heap and recent deploys"],
        ),
        (Some(Group::Disk), Kind::TrendChange | Kind::Spike) if found.series.metric_id == 8 => (
            &["log or data growth"],
            &["rotate or clean up logs and temporary data", "expand the volume before it fills"],
        ),
        (Some(Group::Disk), Kind::Spike) => (
            &["an I/O burst (backup, compaction, batch import)"],
            &["find the writing process (iotop, pidstat -d)", "schedule heavy I/O off-peak"],
        ),
        (Some(Group::Network), Kind::Spike) if !with(Group::Cpu, true) => (
            &["a bulk transfer, backup or replication"],
            &["check the largest flows", "rate-limit bulk jobs"],
        ),
        (Some(Group::Network), Kind::Spike) => (
            &["a traffic surge: more requests arrived"],
            &["check request rates and the load balancer"],
        ),
        (Some(Group::System), Kind::Spike) => (
            &["a burst of processes or connections (a fork storm, a connection leak, a traffic surge)"],
            &["list the processes and connections at that time", "check connection pools and limits"],
        ),
        (None, Kind::Spike) => (
            &["a burst in what the custom metric measures"],
            &["check what reports the metric at that time (its tags say where)", "compare with the host's CPU, disk and network"],
        ),
        (_, Kind::Drop) if with(Group::Cpu, false) && with(Group::Network, false) => (
            &["the service stopped or lost its traffic"],
            &["check the service's health and its upstream routing"],
        ),
        (_, Kind::Drop) => (&["lower demand or a stalled service"], &["confirm the service is healthy"]),
        (_, Kind::TrendChange) if rising => (
            &["a lasting increase in load (new workload, release or users)"],
            &["check recent releases and traffic", "review the capacity forecast (/history/trends)"],
        ),
        (_, Kind::TrendChange) => (
            &["load moved away or demand fell"],
            &["check whether capacity can be reclaimed"],
        ),
    };
    (causes, actions)
}
