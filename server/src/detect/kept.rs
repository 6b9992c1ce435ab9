//! The detector's side of kept judgements (`storage::judgements`): judging one host's catalogue
//! series at every sensitivity and splitting what was found into days, and reading a kept day
//! back as found events and judged points. Plain functions over grids, unit-tested.
use super::{kinds_judged, load_series, Grid, Loaded, SeriesData};
use crate::{
    analysis::anomaly::{self, Detected, Kind, Profile, Sensitivity},
    storage::judgements::{Judgement, KeptEvent, SeriesCoverage},
};
use chrono::{DateTime, Duration, DurationRound, Utc};

/// A series' status in a kept day.
pub const JUDGED: u8 = 0;
pub const TOO_FEW: u8 = 1;
pub const SPARSE: u8 = 2;
/// In the baseline week of a grid's warm-up (`Grid::warm_from`): judged at hours only.
pub const WARMING: u8 = 3;

/// One bit per slot of the day, set where `present` says so.
pub fn mask_of(present: impl Iterator<Item = bool>) -> Vec<u64> {
    let mut mask = Vec::new();
    for (k, here) in present.enumerate() {
        if k.is_multiple_of(64) {
            mask.push(0u64);
        }
        if here {
            if let Some(word) = mask.last_mut() {
                *word |= 1 << (k % 64);
            }
        }
    }
    mask
}

/// Set bits of `mask` in slots `from..to` (a range past the mask's end counts to its end), a
/// word at a time.
pub fn count_in(mask: &[u64], from: usize, to: usize) -> usize {
    let to = to.min(mask.len() * 64);
    if from >= to {
        return 0;
    }
    let (first, last) = (from / 64, (to - 1) / 64);
    (first..=last)
        .map(|w| {
            let mut word = mask[w];
            if w == first {
                word &= u64::MAX << (from % 64);
            }
            if w == last && !to.is_multiple_of(64) {
                word &= u64::MAX >> (64 - to % 64);
            }
            word.count_ones() as usize
        })
        .sum()
}

/// The midnight starting the day that holds `at`.
pub fn day_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::days(1)).unwrap_or(at)
}

/// Judges every series in `catalogue` of one host on `grid`, at every sensitivity, reporting
/// from `days[0]` on (the days, consecutive midnights, must lie in the grid's range), and keeps
/// one judgement per day: the events found, each in every day it overlaps (one that started
/// before the first day and goes on into it, in the first day too), and per series the points
/// judged in the day. A day is complete when it ends by `complete_until`.
#[allow(clippy::too_many_arguments)]
pub fn judge_days(
    grid: &Grid,
    host_id: i32,
    catalogue: &[std::sync::Arc<super::Series>],
    data: &SeriesData,
    days: &[DateTime<Utc>],
    judged_at: DateTime<Utc>,
    complete_until: DateTime<Utc>,
    buffer: &mut Vec<Option<f64>>,
) -> Vec<Judgement> {
    let Some(&first_day) = days.first() else {
        return Vec::new();
    };
    let step = grid.resolution.step();
    let per_day = grid.resolution.per_day();
    let slot_of = |at: DateTime<Utc>| (at - grid.from).num_seconds() / step.num_seconds();
    let report_from = usize::try_from(slot_of(first_day)).unwrap_or(0);
    let mut kept: Vec<Judgement> = days
        .iter()
        .map(|day| Judgement {
            host_id,
            tier: grid.resolution.code(),
            day: *day,
            judged_at,
            complete: *day + Duration::days(1) <= complete_until,
            series: Vec::with_capacity(catalogue.len()),
            events: Vec::new(),
        })
        .collect();
    let kinds = kinds_judged(per_day, &Kind::ALL);
    for series in catalogue {
        let status = match load_series(
            grid,
            buffer,
            data.get(&(host_id, series.metric_id)),
            report_from,
        ) {
            Loaded::Judged(_) => JUDGED,
            Loaded::TooFew => TOO_FEW,
            Loaded::Sparse => SPARSE,
        };
        // A series reporting in the grid's first hour was there before the grid: its warm-up
        // week is baseline only.
        let reported_before =
            grid.warm_from > 0 && buffer.iter().take(per_day / 24).any(Option::is_some);
        let series_report_from = if reported_before {
            report_from.max(grid.warm_from)
        } else {
            report_from
        };
        for day in &mut kept {
            let first_slot = slot_of(day.day);
            let warming = usize::try_from(first_slot + per_day as i64)
                .is_ok_and(|day_end| day_end <= series_report_from);
            let status = if status == JUDGED && warming {
                WARMING
            } else {
                status
            };
            let mask = if status == JUDGED {
                mask_of((0..per_day as i64).map(|k| {
                    usize::try_from(first_slot + k)
                        .ok()
                        .and_then(|i| buffer.get(i))
                        .is_some_and(Option::is_some)
                }))
            } else {
                Vec::new()
            };
            day.series.push(SeriesCoverage {
                metric: series.metric_id,
                status,
                mask,
            });
        }
        if status != JUDGED {
            continue;
        }
        let profile = Profile {
            per_day,
            significance: series.significance,
        };
        let scores = anomaly::score(buffer, &profile);
        for sensitivity in Sensitivity::ALL {
            let thresholds = grid.resolution.thresholds(sensitivity);
            let found = anomaly::detect_scored(
                buffer,
                &scores,
                &profile,
                &thresholds,
                series_report_from,
                &kinds,
            );
            for detected in found {
                let start = grid.from + step * detected.start as i32;
                let end = grid.from + step * (detected.end as i32 + 1);
                // In every day it overlaps: a range starting on any of them finds it.
                let first = (day_of(start) - first_day).num_days().max(0) as usize;
                let last = (day_of(end - step) - first_day).num_days().max(0) as usize;
                for day in kept.iter_mut().take(last + 1).skip(first) {
                    day.events.push(KeptEvent {
                        sensitivity: sensitivity.code(),
                        metric: series.metric_id,
                        kind: detected.kind.code(),
                        rising: detected.rising,
                        short_baseline: detected.short_baseline,
                        start,
                        end,
                        value: detected.value,
                        baseline: detected.baseline,
                        score: detected.score,
                    });
                }
            }
        }
    }
    kept
}

/// A kept event as the detector found it (grid positions are not kept: only times matter from
/// here on).
pub fn detected_of(event: &KeptEvent) -> Option<Detected> {
    Some(Detected {
        kind: Kind::from_code(event.kind)?,
        start: 0,
        end: 0,
        peak: 0,
        value: event.value,
        baseline: event.baseline,
        rising: event.rising,
        score: event.score,
        short_baseline: event.short_baseline,
    })
}

/// Points of `coverage` judged within `[from, to)`, on a tier of `step` whose day starts at
/// `day`.
pub fn points_within(
    coverage: &SeriesCoverage,
    day: DateTime<Utc>,
    step: Duration,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> usize {
    let slot = |at: DateTime<Utc>| {
        let slots = (at - day).num_seconds().div_euclid(step.num_seconds());
        usize::try_from(slots.max(0)).unwrap_or(0)
    };
    count_in(&coverage.mask, slot(from), slot(to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{fill, Resolution, SERIES};
    use std::collections::HashMap;

    proptest::proptest! {
        #[test]
        fn counting_by_words_equals_counting_slot_by_slot(
            present in proptest::collection::vec(proptest::bool::ANY, 0..300),
            from in 0usize..320,
            length in 0usize..320,
        ) {
            let mask = mask_of(present.iter().copied());
            let to = from + length;
            let by_slot = (from..to).filter(|k| present.get(*k).copied().unwrap_or(false)).count();
            proptest::prop_assert_eq!(count_in(&mask, from, to), by_slot);
        }
    }

    #[test]
    fn masks_count_the_slots_present_in_a_range() {
        let mask = mask_of((0..288).map(|k| k % 3 == 0 || k == 287));
        assert_eq!(mask.len(), 5);
        // 0, 3, …, 285: 96 slots, and 287.
        assert_eq!(count_in(&mask, 0, 288), 97);
        assert_eq!(count_in(&mask, 1, 3), 0);
        assert_eq!(count_in(&mask, 3, 4), 1);
        assert_eq!(count_in(&mask, 280, 288), 3); // 282, 285, 287
        assert_eq!(count_in(&mask, 0, 400), 97, "past the day: nothing more");
        let day = DateTime::<Utc>::UNIX_EPOCH;
        let coverage = SeriesCoverage {
            metric: 1,
            status: JUDGED,
            mask,
        };
        // From 00:10 (slot 2) to 00:20 (slot 4): slot 3.
        let five = Duration::minutes(5);
        let at = |minutes: i64| day + Duration::minutes(minutes);
        assert_eq!(points_within(&coverage, day, five, (at(10), at(20))), 1);
        // A range starting the day before counts from midnight.
        assert_eq!(
            points_within(&coverage, day, five, (at(-60), at(24 * 60))),
            97
        );
    }

    /// Every catalogue metric of `host_id` on `slots` of a grid of `per_day` points a day: a
    /// quiet daily wave with a little deterministic noise, and cpu 60 points higher where
    /// `burst` says so.
    fn wave_host(
        host_id: i32,
        per_day: usize,
        slots: std::ops::Range<usize>,
        burst: impl Fn(usize) -> bool,
    ) -> SeriesData {
        let mut data = SeriesData::new();
        for series in SERIES.iter() {
            let values: Vec<f32> = slots
                .clone()
                .map(|i| {
                    let phase = (i % per_day) as f32 / per_day as f32;
                    let wave = 20.0 + 5.0 * (phase * std::f32::consts::TAU).sin();
                    let noise = ((i * 7919 + 13) % 101) as f32 / 100.0 - 0.5;
                    if series.metric_id == crate::storage::catalog::CPU_PERCENT && burst(i) {
                        wave + 60.0
                    } else {
                        wave + noise
                    }
                })
                .collect();
            data.insert(
                (host_id, series.metric_id),
                (slots.clone().map(|i| i as i32).collect(), values),
            );
        }
        data
    }

    /// A quiet hourly series of every catalogue metric for one host over `days` days, with a
    /// spike of cpu at `spike` hours.
    fn quiet_host(days: usize, spike: usize) -> SeriesData {
        wave_host(7, 24, 0..days * 24, |i| i == spike)
    }

    #[test]
    fn a_fresh_judgement_splits_into_days_at_every_sensitivity() {
        let origin = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let grid = Grid {
            resolution: Resolution::Hourly,
            from: origin,
            len: 30 * 24,
            report_from: 0,
            warm_from: 0,
        };
        let spike = 27 * 24 + 5;
        let data = quiet_host(30, spike);
        let days: Vec<DateTime<Utc>> = (25..30).map(|d| origin + Duration::days(d)).collect();
        let judged_at = origin + Duration::days(29) + Duration::hours(12);
        let kept = judge_days(
            &grid,
            7,
            &SERIES,
            &data,
            &days,
            judged_at,
            judged_at,
            &mut Vec::new(),
        );
        assert_eq!(kept.len(), 5);
        // Ended days are complete; the day still going on is not.
        assert!(kept[..4].iter().all(|k| k.complete));
        assert!(!kept[4].complete);
        // Every catalogue series is covered, each day with its 24 hours (the grid's last day
        // holds what the grid holds).
        for day in &kept {
            assert_eq!(day.series.len(), SERIES.len());
            let cpu = day
                .series
                .iter()
                .find(|s| s.metric == crate::storage::catalog::CPU_PERCENT)
                .expect("cpu");
            assert_eq!(cpu.status, JUDGED);
            assert_eq!(count_in(&cpu.mask, 0, 24), 24);
        }
        // The spike is in its day, once per sensitivity, and nowhere else.
        let spikes: Vec<(usize, u8)> = kept
            .iter()
            .enumerate()
            .flat_map(|(d, k)| k.events.iter().map(move |e| (d, e)))
            .filter(|(_, e)| e.kind == Kind::Spike.code())
            .map(|(d, e)| (d, e.sensitivity))
            .collect();
        assert_eq!(spikes, [(2, 0), (2, 1), (2, 2)], "{kept:?}");
        let event = kept[2]
            .events
            .iter()
            .find(|e| e.sensitivity == Sensitivity::Medium.code())
            .expect("medium");
        assert_eq!(event.start, origin + Duration::hours(spike as i64));
        assert_eq!(event.end - event.start, Duration::hours(1));
        // The same as judging the grid directly at that sensitivity.
        let profile = Profile {
            per_day: 24,
            significance: SERIES
                .iter()
                .find(|s| s.metric_id == crate::storage::catalog::CPU_PERCENT)
                .expect("cpu")
                .significance,
        };
        let (indices, values) = &data[&(7, crate::storage::catalog::CPU_PERCENT)];
        let mut series = vec![None; grid.len];
        fill(&mut series, indices, values);
        let direct = anomaly::detect_kinds(
            &series,
            &profile,
            &Sensitivity::Medium.thresholds(),
            25 * 24,
            &Kind::ALL,
        );
        let detected = detected_of(event).expect("a kind");
        assert!(direct.iter().any(|d| d.kind == detected.kind
            && d.score == detected.score
            && d.value == detected.value));
    }

    /// Five-minute buckets of every catalogue metric for one host, from day `from_day` to
    /// `days`, with a 20-minute cpu burst at each of `bursts` (days).
    fn five_minute_host(
        host_id: i32,
        from_day: usize,
        days: usize,
        bursts: &[usize],
    ) -> SeriesData {
        let per_day = 288;
        wave_host(host_id, per_day, from_day * per_day..days * per_day, |i| {
            bursts
                .iter()
                .any(|d| (d * per_day + 150..d * per_day + 154).contains(&i))
        })
    }

    #[test]
    fn a_series_reporting_before_the_five_minute_buckets_kept_is_judged_after_their_first_week() {
        let origin = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let grid = Grid {
            resolution: Resolution::FiveMinutes,
            from: origin,
            len: 10 * 288,
            report_from: 0,
            warm_from: 7 * 288,
        };
        let days: Vec<DateTime<Utc>> = (0..10).map(|d| origin + Duration::days(d)).collect();
        let judged_at = origin + Duration::days(11);
        let cpu_of = |kept: &[Judgement]| -> (Vec<u8>, Vec<usize>) {
            let statuses = kept
                .iter()
                .map(|k| {
                    k.series
                        .iter()
                        .find(|s| s.metric == crate::storage::catalog::CPU_PERCENT)
                        .map_or(u8::MAX, |s| s.status)
                })
                .collect();
            let burst_days = kept
                .iter()
                .enumerate()
                .filter(|(_, k)| {
                    k.events.iter().any(|e| {
                        e.kind == Kind::Spike.code()
                            && e.sensitivity == Sensitivity::Medium.code()
                            && e.metric == crate::storage::catalog::CPU_PERCENT
                    })
                })
                .map(|(d, _)| d)
                .collect();
            (statuses, burst_days)
        };
        // Reporting from the grid's first bucket: it had history before the buckets kept, and
        // their first week is its baseline.
        let old = five_minute_host(7, 0, 10, &[1, 9]);
        let kept = judge_days(
            &grid,
            7,
            &SERIES,
            &old,
            &days,
            judged_at,
            judged_at,
            &mut Vec::new(),
        );
        let (statuses, bursts) = cpu_of(&kept);
        assert_eq!(
            statuses,
            [
                WARMING, WARMING, WARMING, WARMING, WARMING, WARMING, WARMING, JUDGED, JUDGED,
                JUDGED
            ]
        );
        assert_eq!(bursts, [9], "{kept:?}");
        // A host that started inside the grid is judged from its first day (a new host's cold
        // start is never silence).
        let new = five_minute_host(8, 1, 10, &[4]);
        let kept = judge_days(
            &grid,
            8,
            &SERIES,
            &new,
            &days,
            judged_at,
            judged_at,
            &mut Vec::new(),
        );
        let (statuses, bursts) = cpu_of(&kept);
        assert!(statuses.iter().all(|s| *s == JUDGED), "{statuses:?}");
        assert_eq!(bursts, [4], "{kept:?}");
    }

    #[test]
    fn a_series_without_points_is_kept_as_too_few() {
        let origin = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let grid = Grid {
            resolution: Resolution::Hourly,
            from: origin,
            len: 3 * 24,
            report_from: 0,
            warm_from: 0,
        };
        let kept = judge_days(
            &grid,
            7,
            &SERIES,
            &HashMap::new(),
            &[origin + Duration::days(2)],
            origin,
            origin,
            &mut Vec::new(),
        );
        assert!(kept[0]
            .series
            .iter()
            .all(|s| s.status == TOO_FEW && s.mask.is_empty()));
        assert!(kept[0].events.is_empty());
    }
}
