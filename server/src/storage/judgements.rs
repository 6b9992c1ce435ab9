//! Kept anomaly judgements: what the detector found on one host's catalogue series at one tier
//! for one UTC day, at every sensitivity, with which points it judged. `/history/anomalies` and
//! the continuous detector read them instead of judging a day again; they judge only the days
//! without a usable one.
//!
//! Guarantees: a day is kept *complete* only once it has ended and none of the host's hours up
//! to its end were waiting for their rollup when it was kept; a sample written later for a time a
//! kept judgement covered deletes that judgement and every later one of the host (the trigger on
//! `samples`, in the migration), since the baselines of the days after it learnt from it — but
//! for the day still going on, which is spared samples less than two minutes older than its
//! judgement (in flight while it ran; the continuous detector judges that day again every
//! round). A judgement is not kept at all when samples more than two minutes old were written
//! for its host between the reading of its data and its writing (the backfill's forgetting ran
//! before it existed); the next request judges that host again. A judgement written by another
//! version of the detector is never used.
use crate::storage::hosts::HostRef;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::HashMap;

/// Bumped whenever the detector's results for the same data change: older judgements are then
/// judged again instead of being used.
pub const VERSION: i16 = 1;

/// How one series fared in a day's judgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesCoverage {
    pub metric: i16,
    /// 0 judged, 1 too few points, 2 sampled too sparsely for the tier.
    pub status: u8,
    /// The day's points that were judged, one bit per grid slot from midnight.
    pub mask: Vec<u64>,
}

/// One event found on a kept day, for one sensitivity.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptEvent {
    /// 0 low, 1 medium, 2 high.
    pub sensitivity: u8,
    pub metric: i16,
    /// Index in `analysis::anomaly::Kind::ALL`.
    pub kind: u8,
    pub rising: bool,
    pub short_baseline: bool,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub value: f64,
    pub baseline: f64,
    pub score: f64,
}

/// One host's kept judgement of one tier and day.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub host_id: i32,
    pub tier: i16,
    /// UTC midnight.
    pub day: DateTime<Utc>,
    /// Data up to this instant was judged.
    pub judged_at: DateTime<Utc>,
    pub complete: bool,
    pub series: Vec<SeriesCoverage>,
    pub events: Vec<KeptEvent>,
}

/// The series' coverage as bytes: per series its id (i16), status, word count and mask words,
/// little-endian.
pub fn encode_coverage(series: &[SeriesCoverage]) -> Vec<u8> {
    let mut out = Vec::with_capacity(series.len() * (4 + 8 * 5));
    for s in series {
        out.extend(s.metric.to_le_bytes());
        out.push(s.status);
        out.push(u8::try_from(s.mask.len()).unwrap_or(u8::MAX));
        for word in s.mask.iter().take(usize::from(u8::MAX)) {
            out.extend(word.to_le_bytes());
        }
    }
    out
}

pub fn decode_coverage(bytes: &[u8]) -> Option<Vec<SeriesCoverage>> {
    let mut reader = Reader(bytes);
    let mut series = Vec::new();
    while !reader.0.is_empty() {
        let metric = i16::from_le_bytes(reader.take()?);
        let [status, words] = reader.take::<2>()?;
        let mask = (0..words)
            .map(|_| reader.take().map(u64::from_le_bytes))
            .collect::<Option<_>>()?;
        series.push(SeriesCoverage {
            metric,
            status,
            mask,
        });
    }
    Some(series)
}

/// Events as bytes, 45 per event: sensitivity, metric (i16), kind, flags (rising, short
/// baseline), start and end (Unix seconds, i64), value, baseline, score (f64), little-endian.
pub fn encode_events(events: &[KeptEvent]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 45);
    for e in events {
        out.push(e.sensitivity);
        out.extend(e.metric.to_le_bytes());
        out.push(e.kind);
        out.push(u8::from(e.rising) | (u8::from(e.short_baseline) << 1));
        out.extend(e.start.timestamp().to_le_bytes());
        out.extend(e.end.timestamp().to_le_bytes());
        out.extend(e.value.to_le_bytes());
        out.extend(e.baseline.to_le_bytes());
        out.extend(e.score.to_le_bytes());
    }
    out
}

pub fn decode_events(bytes: &[u8]) -> Option<Vec<KeptEvent>> {
    let mut reader = Reader(bytes);
    let mut events = Vec::new();
    while !reader.0.is_empty() {
        let [sensitivity] = reader.take()?;
        let metric = i16::from_le_bytes(reader.take()?);
        let [kind, flags] = reader.take()?;
        let start = DateTime::from_timestamp(i64::from_le_bytes(reader.take()?), 0)?;
        let end = DateTime::from_timestamp(i64::from_le_bytes(reader.take()?), 0)?;
        events.push(KeptEvent {
            sensitivity,
            metric,
            kind,
            rising: flags & 1 != 0,
            short_baseline: flags & 2 != 0,
            start,
            end,
            value: f64::from_le_bytes(reader.take()?),
            baseline: f64::from_le_bytes(reader.take()?),
            score: f64::from_le_bytes(reader.take()?),
        });
    }
    Some(events)
}

/// Reads fixed-size pieces off the front of a byte string.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

type Row = (
    i32,
    i16,
    DateTime<Utc>,
    DateTime<Utc>,
    bool,
    Vec<u8>,
    Vec<u8>,
);

/// The kept judgements of these hosts and tier for the days from `first_day` to `last_day`
/// (midnights, inclusive) written by this version of the detector. One that does not decode is
/// left out (and so judged again).
pub async fn read(
    pool: &PgPool,
    host_ids: &[i32],
    tier: i16,
    (first_day, last_day): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Judgement>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT host_id, tier, day, judged_at, complete, coverage, events FROM anomaly_judgements
         WHERE host_id = ANY($1) AND tier = $2 AND day >= $3 AND day <= $4 AND version = $5",
    )
    .bind(host_ids)
    .bind(tier)
    .bind(first_day)
    .bind(last_day)
    .bind(VERSION)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(host_id, tier, day, judged_at, complete, coverage, events)| {
                Some(Judgement {
                    host_id,
                    tier,
                    day,
                    judged_at,
                    complete,
                    series: decode_coverage(&coverage)?,
                    events: decode_events(&events)?,
                })
            },
        )
        .collect())
}

/// Each host's count of backfills — statements that wrote samples more than two minutes old
/// (the trigger on `samples` counts them) —, 0 for a host never backfilled. Read before the data
/// a judgement is made from, and handed back to [`write`].
pub async fn backfill_generations(
    pool: &PgPool,
    host_ids: &[i32],
) -> Result<HashMap<i32, i64>, sqlx::Error> {
    let rows: Vec<(i32, i64)> =
        sqlx::query_as("SELECT host_id, generation FROM sample_backfills WHERE host_id = ANY($1)")
            .bind(host_ids)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Keeps judgements (replacing those of the same host, tier and day), but none of a host
/// backfilled since `generations` was read (before the data they were made from): that
/// backfill's trigger ran before they existed and found nothing to forget. A backfill still in
/// flight is waited for, and the hosts' counts are held until the judgements are committed, so
/// that a backfill starting meanwhile forgets them once they are. `complete` is taken as asked
/// only where none of the host's hours up to the day's end are still queued for their rollup.
pub async fn write(
    pool: &PgPool,
    judgements: &[Judgement],
    generations: &HashMap<i32, i64>,
) -> Result<(), sqlx::Error> {
    if judgements.is_empty() {
        return Ok(());
    }
    let mut host_ids: Vec<i32> = judgements.iter().map(|j| j.host_id).collect();
    host_ids.sort_unstable();
    host_ids.dedup();
    let mut tx = pool.begin().await?;
    // A row to hold for every host (inserting waits for a backfill writing the same row), each
    // then held in host order, the order the trigger takes them in.
    sqlx::query(
        "INSERT INTO sample_backfills (host_id, generation)
         SELECT h, 0 FROM unnest($1::int4[]) h WHERE EXISTS (SELECT 1 FROM hosts WHERE id = h) ORDER BY h
         ON CONFLICT (host_id) DO NOTHING",
    )
    .bind(&host_ids)
    .execute(&mut *tx)
    .await?;
    let current: HashMap<i32, i64> = sqlx::query_as::<_, (i32, i64)>(
        "SELECT host_id, generation FROM sample_backfills WHERE host_id = ANY($1) ORDER BY host_id FOR SHARE",
    )
    .bind(&host_ids)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let unchanged = |host_id: &i32| {
        current.get(host_id).copied().unwrap_or(0) == generations.get(host_id).copied().unwrap_or(0)
    };
    let judgements: Vec<&Judgement> = judgements
        .iter()
        .filter(|j| unchanged(&j.host_id))
        .collect();
    if judgements.is_empty() {
        return tx.commit().await;
    }
    sqlx::query(
        "INSERT INTO anomaly_judgements (host_id, tier, day, version, judged_at, complete, coverage, events)
         SELECT j.h, j.t, j.d, $8, j.at, j.c AND NOT EXISTS (
                    SELECT 1 FROM rollup_queue_hourly q WHERE q.host_id = j.h AND q.bucket < j.d + interval '1 day'),
                j.cov, j.ev
         FROM unnest($1::int4[], $2::int2[], $3::timestamptz[], $4::timestamptz[], $5::bool[], $6::bytea[], $7::bytea[])
              AS j(h, t, d, at, c, cov, ev)
         WHERE EXISTS (SELECT 1 FROM hosts WHERE id = j.h)
         ORDER BY 1, 2, 3
         ON CONFLICT (host_id, tier, day) DO UPDATE SET version = excluded.version, judged_at = excluded.judged_at,
             complete = excluded.complete, coverage = excluded.coverage, events = excluded.events",
    )
    .bind(judgements.iter().map(|j| j.host_id).collect::<Vec<_>>())
    .bind(judgements.iter().map(|j| j.tier).collect::<Vec<_>>())
    .bind(judgements.iter().map(|j| j.day).collect::<Vec<_>>())
    .bind(judgements.iter().map(|j| j.judged_at).collect::<Vec<_>>())
    .bind(judgements.iter().map(|j| j.complete).collect::<Vec<_>>())
    .bind(
        judgements
            .iter()
            .map(|j| encode_coverage(&j.series))
            .collect::<Vec<_>>(),
    )
    .bind(
        judgements
            .iter()
            .map(|j| encode_events(&j.events))
            .collect::<Vec<_>>(),
    )
    .bind(VERSION)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The days a host should have kept complete at both tiers: hours over `days` (from the first
/// midnight to the last, exclusive), five-minute buckets from `fine_from` on.
pub struct Missing {
    pub days: (DateTime<Utc>, DateTime<Utc>),
    pub fine_from: DateTime<Utc>,
}

/// Up to `limit` hosts after `after` (by id) short of a complete judgement of this version for
/// some day of `missing`, leaving out those with an hour before its end still queued for its
/// rollup (their days could not be kept complete yet).
pub async fn hosts_missing_days(
    pool: &PgPool,
    missing: &Missing,
    after: i32,
    limit: i64,
) -> Result<Vec<HostRef>, sqlx::Error> {
    let (first, end) = missing.days;
    sqlx::query_as(
        "SELECT h.id, h.vm_id, h.name FROM hosts h
         WHERE h.id > $1
           AND NOT EXISTS (SELECT 1 FROM rollup_queue_hourly q WHERE q.host_id = h.id AND q.bucket < $3)
           AND (SELECT count(*) FILTER (WHERE j.tier = 1) < $5
                       OR count(*) FILTER (WHERE j.tier = 0 AND j.day >= $4) < $6
                FROM anomaly_judgements j
                WHERE j.host_id = h.id AND j.day >= $2 AND j.day < $3 AND j.complete AND j.version = $7)
         ORDER BY h.id LIMIT $8",
    )
    .bind(after)
    .bind(first)
    .bind(end)
    .bind(missing.fine_from)
    .bind((end - first).num_days())
    .bind((end - missing.fine_from.max(first)).num_days())
    .bind(VERSION)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Forgets kept judgements older than their tier's data (the five-minute tier lives with the
/// hourly rollups, the hourly one with the daily rollups); returns how many.
pub async fn expire(pool: &PgPool, fine_days: i64, hourly_days: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM anomaly_judgements
         WHERE day < now() - make_interval(days => CASE WHEN tier = 0 THEN $1 ELSE $2 END) - interval '1 day'",
    )
    .bind(i32::try_from(fine_days).unwrap_or(i32::MAX))
    .bind(i32::try_from(hourly_days).unwrap_or(i32::MAX))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn coverage_and_events_read_back_as_written(
            series in proptest::collection::vec((any::<i16>(), 0u8..3, proptest::collection::vec(any::<u64>(), 0..6)), 0..20),
            events in proptest::collection::vec(
                (0u8..3, any::<i16>(), 0u8..4, any::<bool>(), any::<bool>(), -1_000_000_000i64..4_000_000_000, 0i64..100_000,
                 any::<f64>(), any::<f64>(), any::<f64>()), 0..10),
        ) {
            let series: Vec<SeriesCoverage> = series
                .into_iter()
                .map(|(metric, status, mask)| SeriesCoverage { metric, status, mask })
                .collect();
            prop_assert_eq!(decode_coverage(&encode_coverage(&series)), Some(series));
            let events: Vec<KeptEvent> = events
                .into_iter()
                .map(|(sensitivity, metric, kind, rising, short_baseline, start, length, value, baseline, score)| KeptEvent {
                    sensitivity, metric, kind, rising, short_baseline,
                    start: DateTime::from_timestamp(start, 0).unwrap_or_default(),
                    end: DateTime::from_timestamp(start + length, 0).unwrap_or_default(),
                    value, baseline, score,
                })
                .collect();
            let back = decode_events(&encode_events(&events)).expect("decodes");
            prop_assert_eq!(back.len(), events.len());
            for (b, e) in back.iter().zip(&events) {
                // Bit for bit, NaN included.
                prop_assert_eq!((b.sensitivity, b.metric, b.kind, b.rising, b.short_baseline, b.start, b.end),
                                (e.sensitivity, e.metric, e.kind, e.rising, e.short_baseline, e.start, e.end));
                prop_assert_eq!((b.value.to_bits(), b.baseline.to_bits(), b.score.to_bits()),
                                (e.value.to_bits(), e.baseline.to_bits(), e.score.to_bits()));
            }
        }
    }

    #[test]
    fn a_truncated_record_does_not_decode() {
        let series = vec![SeriesCoverage {
            metric: 3,
            status: 0,
            mask: vec![7, 9],
        }];
        let bytes = encode_coverage(&series);
        assert_eq!(decode_coverage(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode_coverage(&[]), Some(Vec::new()));
        assert_eq!(decode_events(&[1, 2]), None);
    }
}
