//! What-if scenarios on a group's capacity forecast: hosts added or taken away, a load added on a
//! date, extra growth — and what they do to the runway (vROps's what-if analysis, for the
//! group-average forecast the capacity page draws).
//!
//! The model is the runway's: a group's usage is its hosts' average, the load spread evenly over
//! hosts of the group's average size. Day 0 is the forecast's last point (the newest complete
//! day). At day `t` the load, as a share of today's hosts' capacity, is the trend line times the
//! added load (from its day on) times the extra growth compounded monthly; the capacity is
//! today's hosts plus those added (from their day on); usage is load over capacity.
use super::trend::{first_crossing, LinearTrend, CROSSING_SEARCH_DAYS};

/// Days per month for "% per month" (the trends' `monthly` is 30 daily rates too).
const DAYS_PER_MONTH: f64 = 30.0;

/// A scenario's changes to a group of `hosts_now` hosts: any number of dated host and load
/// changes (a scenario typed on the page on top of the plans committed for the group).
#[derive(Clone, Debug, PartialEq)]
pub struct Changes {
    pub hosts_now: usize,
    /// Hosts added (negative: taken away) from a day on.
    pub hosts: Vec<HostChange>,
    /// Load added as a share of the load on its day (0.3 = 30 % more), from a day on; several
    /// multiply, each a share of the load its day already has.
    pub loads: Vec<LoadChange>,
    /// Extra growth of the load per month, compounded from day 0 (0.02 = 2 % a month on top of
    /// the trend); several multiply.
    pub growth_monthly: Vec<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HostChange {
    pub from: f64,
    pub added: i64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadChange {
    pub from: f64,
    pub added: f64,
}

impl Changes {
    /// No change: the forecast itself.
    pub fn none(hosts_now: usize) -> Self {
        Changes {
            hosts_now,
            hosts: Vec::new(),
            loads: Vec::new(),
            growth_monthly: Vec::new(),
        }
    }

    /// One change of each kind (zeros change nothing).
    pub fn one(hosts_now: usize, hosts: HostChange, load: LoadChange, growth_monthly: f64) -> Self {
        Changes {
            hosts_now,
            hosts: vec![hosts],
            loads: vec![load],
            growth_monthly: vec![growth_monthly],
        }
    }

    /// These changes and `other`'s together.
    pub fn with(mut self, other: &Changes) -> Self {
        self.hosts.extend_from_slice(&other.hosts);
        self.loads.extend_from_slice(&other.loads);
        self.growth_monthly.extend_from_slice(&other.growth_monthly);
        self
    }

    /// The hosts after every change.
    pub fn hosts_after(&self) -> i64 {
        self.hosts_now as i64 + self.hosts.iter().map(|h| h.added).sum::<i64>()
    }

    /// The hosts at day `t` (never fewer than one: the group is not emptied by a plan).
    fn hosts_at(&self, t: f64) -> i64 {
        let added: i64 = self
            .hosts
            .iter()
            .filter(|h| t >= h.from)
            .map(|h| h.added)
            .sum();
        (self.hosts_now as i64 + added).max(1)
    }

    /// The load at day `t` relative to the trend line's (1 = unchanged).
    fn load_factor(&self, t: f64) -> f64 {
        let added: f64 = self
            .loads
            .iter()
            .filter(|l| t >= l.from)
            .map(|l| 1.0 + l.added)
            .product();
        let growth: f64 = self
            .growth_monthly
            .iter()
            .map(|g| (1.0 + g).powf(t.max(0.0) / DAYS_PER_MONTH))
            .product();
        added * growth
    }

    /// The capacity at day `t` relative to today's (1 = today's hosts).
    fn capacity_factor(&self, t: f64) -> f64 {
        self.hosts_at(t) as f64 / self.hosts_now.max(1) as f64
    }

    /// The load at day `t`, in percent of today's hosts' capacity.
    pub fn load(&self, trend: &LinearTrend, t: f64) -> f64 {
        trend.at(t).max(0.0) * self.load_factor(t)
    }

    /// The group's average usage at day `t`, in percent.
    pub fn usage(&self, trend: &LinearTrend, t: f64) -> f64 {
        self.load(trend, t) / self.capacity_factor(t)
    }
}

/// Days from day 0 until usage first reaches `threshold` (0 when it is there already), `None`
/// when it does not within two years: the capacity crossing's search, on the scenario.
pub fn days_to(trend: &LinearTrend, changes: &Changes, threshold: f64) -> Option<f64> {
    first_crossing(|t| changes.usage(trend, t), 0.0, threshold)
        .filter(|d| *d <= CROSSING_SEARCH_DAYS)
        .map(|d| (d * 10.0).round() / 10.0)
}

/// The highest load (percent of today's capacity) on any day from 0 to `horizon`.
fn peak_load(trend: &LinearTrend, changes: &Changes, horizon: f64) -> f64 {
    let days = horizon.max(0.0).ceil() as i64;
    (0..=days)
        .map(|d| changes.load(trend, d as f64))
        .fold(0.0, f64::max)
}

/// Hosts of the group's average size it needs so that usage stays below `threshold` up to the
/// horizon under the scenario's load (vROps's recommended total capacity, in hosts); at least 1.
pub fn hosts_needed(trend: &LinearTrend, changes: &Changes, threshold: f64, horizon: f64) -> i64 {
    let peak = peak_load(trend, changes, horizon);
    if threshold <= 0.0 {
        return changes.hosts_now.max(1) as i64;
    }
    // Just under the threshold counts as under it: 80.0000001 % must not ask for a host more.
    let exact = changes.hosts_now as f64 * peak / threshold;
    ((exact - 1e-9).ceil() as i64).max(1)
}

/// How many more average hosts' load (each host's share of the load, growing with it) the group
/// takes under the scenario before any day up to the horizon reaches `threshold` (vROps's VMs
/// remaining); negative when the scenario is over it already by that many. `None` with no load.
pub fn room_for_hosts(
    trend: &LinearTrend,
    changes: &Changes,
    threshold: f64,
    horizon: f64,
) -> Option<i64> {
    let n = changes.hosts_now as f64;
    let days = horizon.max(0.0).ceil() as i64;
    // m more hosts' load multiplies the load by (n + m) / n; usage stays below the threshold
    // while (n + m) / n × usage < threshold on every day.
    let tightest = (0..=days)
        .filter_map(|d| {
            let usage = changes.usage(trend, d as f64);
            (usage > 0.0).then(|| n * (threshold / usage - 1.0))
        })
        .fold(f64::INFINITY, f64::min);
    tightest.is_finite().then(|| {
        // Reaching the threshold exactly is reaching it: the room is what stays below it.
        let whole = tightest.floor();
        (if whole == tightest {
            whole - 1.0
        } else {
            whole
        }) as i64
    })
}

/// Usage on each day from 0 to `horizon`, clamped to 0–100 for drawing.
pub fn projection(trend: &LinearTrend, changes: &Changes, horizon: f64) -> Vec<(f64, f64)> {
    let days = horizon.max(0.0).ceil() as i64;
    (0..=days)
        .map(|d| {
            let t = d as f64;
            (t, changes.usage(trend, t).clamp(0.0, 100.0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 50 % now, a point a month.
    const TREND: LinearTrend = LinearTrend {
        level_now: 50.0,
        slope: 1.0 / 30.0,
    };

    #[test]
    fn no_change_is_the_forecast_itself() {
        let none = Changes::none(4);
        assert_eq!(none.usage(&TREND, 60.0), 52.0);
        // 50 → 80 at a point a month: 900 days, past the two-year search.
        assert_eq!(days_to(&TREND, &none, 80.0), None);
        assert_eq!(days_to(&TREND, &none, 60.0), Some(300.0));
        assert_eq!(days_to(&TREND, &none, 50.0), Some(0.0));
    }

    #[test]
    fn added_load_and_hosts_move_the_crossing_by_hand_checked_days() {
        // 4 hosts, 30 % more load from day 30: 51 × 1.3 = 66.3 on day 30; 80 is reached when
        // (50 + t/30) × 1.3 = 80 → t = 346.2 days.
        let load = Changes {
            loads: vec![LoadChange {
                from: 30.0,
                added: 0.3,
            }],
            ..Changes::none(4)
        };
        assert!((load.usage(&TREND, 29.0) - 50.9667).abs() < 1e-3);
        assert!((load.usage(&TREND, 30.0) - 66.3).abs() < 1e-9);
        assert_eq!(days_to(&TREND, &load, 80.0), Some(346.2));
        // And one host more from day 100: 4/5 of the load from then on → 80 % at
        // (50 + t/30) × 1.3 × 0.8 = 80 → t = 807.7: not within two years.
        let both = load.clone().with(&Changes {
            hosts: vec![HostChange {
                from: 100.0,
                added: 1,
            }],
            ..Changes::none(4)
        });
        assert!((both.usage(&TREND, 100.0) - (50.0 + 100.0 / 30.0) * 1.3 * 0.8).abs() < 1e-9);
        assert_eq!(days_to(&TREND, &both, 80.0), None);
        // Taking one of 4 hosts away today: (50 + t/30) × 4/3 = 80 → t = 300.
        let fewer = Changes {
            hosts: vec![HostChange {
                from: 0.0,
                added: -1,
            }],
            ..Changes::none(4)
        };
        assert_eq!(days_to(&TREND, &fewer, 80.0), Some(300.0));
        assert_eq!(fewer.hosts_after(), 3);
    }

    #[test]
    fn several_changes_combine_loads_multiplying_and_hosts_adding() {
        // 2 hosts at a flat 40 %: half as much load again from day 10 and again from day 20
        // (× 1.5 × 1.5), a third host from day 15 (× 2/3).
        let flat = LinearTrend {
            level_now: 40.0,
            slope: 0.0,
        };
        let plans = Changes {
            hosts: vec![HostChange {
                from: 15.0,
                added: 1,
            }],
            loads: vec![
                LoadChange {
                    from: 10.0,
                    added: 0.5,
                },
                LoadChange {
                    from: 20.0,
                    added: 0.5,
                },
            ],
            ..Changes::none(2)
        };
        let usage: Vec<f64> = [5.0, 10.0, 15.0, 20.0]
            .iter()
            .map(|t| (plans.usage(&flat, *t) * 1e9).round() / 1e9)
            .collect();
        assert_eq!(usage, [40.0, 60.0, 40.0, 60.0]);
        assert_eq!(plans.hosts_after(), 3);
        assert_eq!(days_to(&flat, &plans, 60.0), Some(10.0));
        // Taking both hosts away is one host left, not a division by nothing.
        let emptied = Changes {
            hosts: vec![HostChange {
                from: 0.0,
                added: -2,
            }],
            ..Changes::none(2)
        };
        assert_eq!(emptied.usage(&flat, 0.0), 80.0);
    }

    #[test]
    fn extra_growth_compounds_monthly() {
        let growth = Changes {
            growth_monthly: vec![0.1],
            ..Changes::none(2)
        };
        let flat = LinearTrend {
            level_now: 40.0,
            slope: 0.0,
        };
        assert!((growth.usage(&flat, 60.0) - 48.4).abs() < 1e-9);
        // 40 × 1.1^(t/30) = 80 → t = 30 × ln 2 / ln 1.1 = 218.2 days.
        assert_eq!(days_to(&flat, &growth, 80.0), Some(218.2));
    }

    #[test]
    fn hosts_needed_and_room_for_hosts_are_whole_hosts_of_the_peak() {
        // 4 hosts at 50 → 53 % over 90 days, threshold 80: 4 × 53 / 80 = 2.65 → 3 hosts would do.
        let none = Changes::none(4);
        assert_eq!(hosts_needed(&TREND, &none, 80.0, 90.0), 3);
        // Room: 4 × (80 / 53 − 1) = 2.04 → 2 more hosts' load.
        assert_eq!(room_for_hosts(&TREND, &none, 80.0, 90.0), Some(2));
        // Double the load today: 106 % of today's capacity at day 90 → 4 × 106 / 80 = 5.3 → 6.
        let doubled = Changes {
            loads: vec![LoadChange {
                from: 0.0,
                added: 1.0,
            }],
            ..none.clone()
        };
        assert_eq!(hosts_needed(&TREND, &doubled, 80.0, 90.0), 6);
        // Over already: 4 × (80 / 106 − 1) = −0.98 → −1 (one host's load too many).
        assert_eq!(room_for_hosts(&TREND, &doubled, 80.0, 90.0), Some(-1));
        // Exactly at the threshold is no room: 2 hosts at 40 %, threshold 80 → 2 × (2 − 1) = 2
        // more would reach 80 exactly, so 1.
        let flat = LinearTrend {
            level_now: 40.0,
            slope: 0.0,
        };
        assert_eq!(
            room_for_hosts(&flat, &Changes::none(2), 80.0, 30.0),
            Some(1)
        );
        assert_eq!(hosts_needed(&flat, &Changes::none(2), 80.0, 30.0), 1);
        // No load, no limit.
        let idle = LinearTrend {
            level_now: 0.0,
            slope: 0.0,
        };
        assert_eq!(room_for_hosts(&idle, &Changes::none(2), 80.0, 30.0), None);
    }

    #[test]
    fn the_projection_is_daily_and_clamped() {
        let doubled = Changes {
            loads: vec![LoadChange {
                from: 2.0,
                added: 1.0,
            }],
            ..Changes::none(1)
        };
        let points = projection(&TREND, &doubled, 3.0);
        assert_eq!(points.len(), 4);
        assert_eq!(points[0], (0.0, 50.0));
        assert_eq!(points[3].1, 100.0, "{points:?}");
    }

    proptest! {
        #[test]
        fn more_hosts_never_bring_the_crossing_closer_and_more_load_never_delays_it(
            level in 0.0..100.0_f64,
            slope in -0.5..0.5_f64,
            hosts in 1usize..50,
            added in 0i64..20,
            load in 0.0..2.0_f64,
            from in 0.0..400.0_f64,
        ) {
            let trend = LinearTrend { level_now: level, slope };
            let base = Changes::none(hosts);
            let more_hosts = Changes { hosts: vec![HostChange { from, added }], ..base.clone() };
            let more_load = Changes { loads: vec![LoadChange { from, added: load }], ..base.clone() };
            let never = f64::INFINITY;
            let base_days = days_to(&trend, &base, 80.0).unwrap_or(never);
            prop_assert!(days_to(&trend, &more_hosts, 80.0).unwrap_or(never) >= base_days);
            prop_assert!(days_to(&trend, &more_load, 80.0).unwrap_or(never) <= base_days);
            prop_assert!(hosts_needed(&trend, &more_load, 80.0, 90.0) >= hosts_needed(&trend, &base, 80.0, 90.0));
        }
    }
}
