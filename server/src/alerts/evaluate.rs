//! The per-(rule, host) state machine: `for`, cooldown and recovery over a stream of timed values.
//!
//! Pure: it only decides. The engine carries out the decision in the database and then tells the
//! state what happened (`fired`, `resolved`), so a failed write is simply tried again on the next
//! value.
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The condition must hold this long before the alert fires.
    pub hold: Duration,
    /// The condition must be false this long before the alert resolves.
    pub recovery: Duration,
    /// No second notification for the same rule and host within this time of the last one.
    pub cooldown: Duration,
}

/// What is known about one rule on one host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    last_ts: Option<DateTime<Utc>>,
    breach_since: Option<DateTime<Utc>>,
    clear_since: Option<DateTime<Utc>>,
    /// The open alert, if any.
    pub active: Option<i64>,
    /// The newest alert and when it last notified (cooldown is measured from it).
    pub last_alert: Option<(i64, DateTime<Utc>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    /// Open a new alert and notify.
    Fire,
    /// Inside the cooldown of the last notification: open that alert again, without notifying.
    Reopen(i64),
    Resolve(i64),
}

impl Series {
    pub fn restored(active: Option<i64>, last_alert: Option<(i64, DateTime<Utc>)>) -> Self {
        Series {
            active,
            last_alert,
            ..Series::default()
        }
    }

    /// One value at `ts`: whether the rule's condition holds for it. Values not newer than the
    /// last one seen are ignored (out-of-order or repeated deliveries).
    pub fn observe(&mut self, holds: bool, ts: DateTime<Utc>, timing: Timing) -> Decision {
        if self.last_ts.is_some_and(|last| ts <= last) {
            return Decision::Nothing;
        }
        self.last_ts = Some(ts);
        if holds {
            self.clear_since = None;
            let since = *self.breach_since.get_or_insert(ts);
            if self.active.is_some() || ts - since < timing.hold {
                return Decision::Nothing;
            }
            match self.last_alert {
                Some((id, notified)) if ts - notified < timing.cooldown => Decision::Reopen(id),
                _ => Decision::Fire,
            }
        } else {
            self.breach_since = None;
            let Some(id) = self.active else {
                return Decision::Nothing;
            };
            let since = *self.clear_since.get_or_insert(ts);
            if ts - since >= timing.recovery {
                Decision::Resolve(id)
            } else {
                Decision::Nothing
            }
        }
    }

    /// The engine opened alert `id` (new, notified at `ts`) or re-opened it (`notified` is None).
    pub fn opened(&mut self, id: i64, notified: Option<DateTime<Utc>>) {
        self.active = Some(id);
        self.clear_since = None;
        if let Some(ts) = notified {
            self.last_alert = Some((id, ts));
        }
    }

    /// The alert was resolved (by recovery or by a person): the condition must hold for the full
    /// `for` time again before it opens again.
    pub fn closed(&mut self) {
        self.active = None;
        self.clear_since = None;
        self.breach_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("valid time")
    }

    fn timing(hold: i64, recovery: i64, cooldown: i64) -> Timing {
        Timing {
            hold: Duration::seconds(hold),
            recovery: Duration::seconds(recovery),
            cooldown: Duration::seconds(cooldown),
        }
    }

    /// Runs a stream of (seconds, holds) and carries out each decision with increasing alert ids.
    fn run(series: &mut Series, timing: Timing, stream: &[(i64, bool)]) -> Vec<(i64, Decision)> {
        let mut next_id = 1;
        let mut decisions = Vec::new();
        for &(secs, holds) in stream {
            let decision = series.observe(holds, at(secs), timing);
            match decision {
                Decision::Fire => {
                    series.opened(next_id, Some(at(secs)));
                    next_id += 1;
                }
                Decision::Reopen(id) => series.opened(id, None),
                Decision::Resolve(_) => series.closed(),
                Decision::Nothing => {}
            }
            if decision != Decision::Nothing {
                decisions.push((secs, decision));
            }
        }
        decisions
    }

    #[test]
    fn a_sustained_breach_fires_once() {
        let mut series = Series::default();
        let stream: Vec<(i64, bool)> = (0..30).map(|i| (i * 10, i >= 5)).collect();
        assert_eq!(
            run(&mut series, timing(0, 0, 300), &stream),
            vec![(50, Decision::Fire)]
        );
    }

    #[test]
    fn the_condition_must_hold_for_the_whole_for_time() {
        let mut series = Series::default();
        // 40 s above, a dip, then 70 s above with `for` = 60 s: fires at 60 s into the second run.
        let mut stream: Vec<(i64, bool)> = (0..5).map(|i| (i * 10, true)).collect();
        stream.push((50, false));
        stream.extend((6..14).map(|i| (i * 10, true)));
        assert_eq!(
            run(&mut series, timing(60, 0, 0), &stream),
            vec![(120, Decision::Fire)]
        );
    }

    #[test]
    fn recovery_needs_the_condition_false_for_the_recovery_time() {
        let mut series = Series::default();
        let stream = [
            (0, true),
            (10, false),
            (20, true),
            (30, false),
            (40, false),
            (50, false),
            (60, false),
        ];
        assert_eq!(
            run(&mut series, timing(0, 30, 0), &stream),
            vec![(0, Decision::Fire), (60, Decision::Resolve(1))]
        );
    }

    #[test]
    fn flapping_inside_the_cooldown_reopens_instead_of_notifying_again() {
        let mut series = Series::default();
        let stream = [(0, true), (10, false), (20, true), (30, false), (400, true)];
        assert_eq!(
            run(&mut series, timing(0, 0, 300), &stream),
            vec![
                (0, Decision::Fire),
                (10, Decision::Resolve(1)),
                (20, Decision::Reopen(1)),
                (30, Decision::Resolve(1)),
                (400, Decision::Fire)
            ]
        );
    }

    #[test]
    fn old_and_repeated_values_are_ignored() {
        let mut series = Series::default();
        let stream = [(10, false), (5, true), (10, true), (20, true)];
        assert_eq!(
            run(&mut series, timing(0, 0, 0), &stream),
            vec![(20, Decision::Fire)]
        );
    }

    #[test]
    fn a_restored_active_alert_resolves_without_firing_again() {
        let mut series = Series::restored(Some(7), Some((7, at(0))));
        let stream = [(10, true), (20, false)];
        assert_eq!(
            run(&mut series, timing(0, 0, 300), &stream),
            vec![(20, Decision::Resolve(7))]
        );
    }
}
