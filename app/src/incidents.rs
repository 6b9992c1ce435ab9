//! Anomalies seen as incidents: one host's short events that overlap in time are one thing that
//! happened (a CPU spike with its load and inbound traffic), shown as one row led by the most
//! severe, not as several rows a reader must line up by eye.
use crate::models::AnomalyEvent;
use chrono::{DateTime, Duration, Utc};

/// Events longer than this (shifts, pattern breaks: a day) stand alone: grouped, one of them
/// would pull every burst of the host's week into one incident.
pub const MAX_GROUPED_SECONDS: i64 = 6 * 3600;

/// One host's overlapping events, the lead first.
#[derive(Debug)]
pub struct Incident<'a> {
    pub lead: &'a AnomalyEvent,
    pub with: Vec<&'a AnomalyEvent>,
}

impl Incident<'_> {
    pub fn start(&self) -> DateTime<Utc> {
        std::iter::once(self.lead)
            .chain(self.with.iter().copied())
            .map(|e| e.timestamp)
            .min()
            .unwrap_or(self.lead.timestamp)
    }

    /// When its last event ends.
    pub fn end(&self) -> DateTime<Utc> {
        std::iter::once(self.lead)
            .chain(self.with.iter().copied())
            .map(end)
            .max()
            .unwrap_or(self.lead.timestamp)
    }
}

fn end(e: &AnomalyEvent) -> DateTime<Utc> {
    e.timestamp + Duration::seconds(e.duration.max(0))
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// Groups events into incidents, newest first. Within a host, short events whose spans overlap
/// (touching counts: one five-minute bucket ends where the next begins) are one incident, led by
/// the most severe (then the largest deviation, then the earliest).
pub fn incidents(events: &[AnomalyEvent]) -> Vec<Incident<'_>> {
    let mut order: Vec<&AnomalyEvent> = events.iter().collect();
    order.sort_by(|a, b| a.vm_id.cmp(&b.vm_id).then(a.timestamp.cmp(&b.timestamp)));
    let mut groups: Vec<Vec<&AnomalyEvent>> = Vec::new();
    // The group short events may still join: its index, host and latest end.
    let mut open: Option<(usize, &str, DateTime<Utc>)> = None;
    for e in order {
        if e.duration > MAX_GROUPED_SECONDS {
            groups.push(vec![e]);
            continue;
        }
        match open {
            Some((index, host, until)) if host == e.vm_id && e.timestamp <= until => {
                groups[index].push(e);
                open = Some((index, host, until.max(end(e))));
            }
            _ => {
                groups.push(vec![e]);
                open = Some((groups.len() - 1, e.vm_id.as_str(), end(e)));
            }
        }
    }
    let mut incidents: Vec<Incident> = groups
        .into_iter()
        .map(|mut group| {
            group.sort_by(|a, b| {
                severity_rank(&b.severity)
                    .cmp(&severity_rank(&a.severity))
                    .then(b.deviation.abs().total_cmp(&a.deviation.abs()))
                    .then(a.timestamp.cmp(&b.timestamp))
            });
            let lead = group.remove(0);
            Incident { lead, with: group }
        })
        .collect();
    incidents.sort_by_key(|i| std::cmp::Reverse(i.start()));
    incidents
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(id: &str, vm: &str, minute: i64, minutes: i64, severity: &str) -> AnomalyEvent {
        AnomalyEvent {
            id: id.into(),
            vm_id: vm.into(),
            timestamp: Utc
                .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
                .single()
                .expect("time")
                + Duration::minutes(minute),
            duration: minutes * 60,
            severity: severity.into(),
            deviation: 50.0,
            ..Default::default()
        }
    }

    fn ids(incidents: &[Incident]) -> Vec<(String, Vec<String>)> {
        incidents
            .iter()
            .map(|i| {
                (
                    i.lead.id.clone(),
                    i.with.iter().map(|e| e.id.clone()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn a_hosts_overlapping_bursts_are_one_incident_led_by_the_most_severe() {
        let events = [
            event("cpu", "web-01", 0, 30, "medium"),
            event("load", "web-01", 10, 30, "critical"),
            // Touches the load spike's end (40 min): still the same incident.
            event("net", "web-01", 40, 5, "low"),
            // Later, and on another host at the same time: incidents of their own.
            event("disk", "web-01", 120, 10, "high"),
            event("other", "db-01", 10, 30, "low"),
        ];
        assert_eq!(
            ids(&incidents(&events)),
            [
                ("disk".to_string(), vec![]),
                // Newest first by start: db-01's at 12:10, web-01's incident at 12:00.
                ("other".to_string(), vec![]),
                (
                    "load".to_string(),
                    vec!["cpu".to_string(), "net".to_string()]
                ),
            ]
        );
        // The incident runs from the CPU spike's start (12:00) to the load spike's end (12:45).
        let found = incidents(&events);
        let web = &found[2];
        assert_eq!(web.start(), events[0].timestamp);
        assert_eq!(web.end(), events[0].timestamp + Duration::minutes(45));
    }

    #[test]
    fn long_events_stand_alone_and_do_not_swallow_the_bursts_inside_them() {
        let events = [
            event("shift", "web-01", 0, 24 * 60, "high"),
            event("a", "web-01", 60, 10, "low"),
            // Starts after the shift, overlaps "a": joins it across the shift.
            event("b", "web-01", 65, 10, "low"),
            event("c", "web-01", 600, 10, "medium"),
        ];
        let found = incidents(&events);
        assert_eq!(
            ids(&found),
            [
                ("c".to_string(), vec![]),
                ("a".to_string(), vec!["b".to_string()]),
                ("shift".to_string(), vec![]),
            ]
        );
        // Every event is in exactly one incident.
        assert_eq!(
            found.iter().map(|i| 1 + i.with.len()).sum::<usize>(),
            events.len()
        );
    }

    #[test]
    fn equal_severity_is_led_by_the_larger_deviation() {
        let mut small = event("small", "web-01", 0, 30, "high");
        small.deviation = -20.0;
        let mut large = event("large", "web-01", 5, 30, "high");
        large.deviation = -80.0;
        assert_eq!(
            ids(&incidents(&[small, large])),
            [("large".to_string(), vec!["small".to_string()])]
        );
    }
}
