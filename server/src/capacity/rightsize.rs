//! Right-sizing: each host's vCPUs and memory against what it used over the last 30 complete
//! days, and the size that would fit it — vROps's "recommended size" and "reclaim", for a
//! fleet without a hypervisor's view. CPU is sized on its 95th percentile (short bursts may
//! queue), memory on its 99th (running out is an outage, not a slowdown).
use crate::{
    history::QueryError,
    storage::{
        hosts::{self, Allocation, HostRef},
        rollups::{self, MetricRollup},
    },
};
use app::models::{HostSizing, Prices, RightSizing};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::HashMap;

/// Complete days looked at.
pub const WINDOW_DAYS: i64 = 30;
/// Fewer days with data than this and a host is not sized.
pub const MIN_DAYS: usize = 7;
/// The CPU p95 and memory p99 a fitting size would run at: the headroom above them is for
/// what the percentiles leave out and for growth until the next review.
pub const CPU_TARGET: f64 = 70.0;
pub const MEMORY_TARGET: f64 = 80.0;
/// Above these a host is undersized.
pub const CPU_UNDERSIZED: f64 = 85.0;
pub const MEMORY_UNDERSIZED: f64 = 90.0;
/// Below this CPU p95 a host does next to nothing: is it still needed?
pub const IDLE_CPU_P95: f64 = 5.0;
/// Silent this long, a host holds an allocation for nothing.
pub const POWERED_OFF_DAYS: i64 = 7;
/// A change smaller than this share of the allocation is not worth a resize.
const MIN_CHANGE: f64 = 0.25;
/// Memory is sized in steps of this.
const MEMORY_STEP: i64 = 512 << 20;
const GIB: f64 = (1u64 << 30) as f64;

/// What a host used over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Use {
    pub cpu_p95: Option<f64>,
    pub memory_p99: Option<f64>,
    pub days: usize,
}

/// The judgement of one host: verdict, fitting sizes and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub verdict: &'static str,
    pub cores: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub reason: String,
}

/// The vCPUs at which `p95` percent of `cores` runs at [`CPU_TARGET`] (at least one).
pub fn fitting_cores(cores: i64, p95: f64) -> i64 {
    ((cores as f64 * p95 / CPU_TARGET).ceil() as i64).max(1)
}

/// The memory at which `p99` percent of `bytes` sits at [`MEMORY_TARGET`], rounded up to 512 MiB.
pub fn fitting_memory(bytes: i64, p99: f64) -> i64 {
    let needed = bytes as f64 * p99 / MEMORY_TARGET;
    ((needed / MEMORY_STEP as f64).ceil() as i64).max(1) * MEMORY_STEP
}

/// Judges one host: `allocated` (vCPUs, memory bytes; `None` when unknown), what it used, and
/// the days since it was last heard from.
pub fn judge(allocated: (Option<i64>, Option<i64>), used: Use, silent_days: i64) -> Judgement {
    let (cores, memory) = allocated;
    if silent_days >= POWERED_OFF_DAYS {
        return Judgement {
            verdict: "powered off",
            cores: Some(0),
            memory_bytes: Some(0),
            reason: format!(
                "no data for {silent_days} days: reclaim its allocation, or remove it from Lookout if it is gone"
            ),
        };
    }
    let (Some(cpu), Some(mem)) = (used.cpu_p95, used.memory_p99) else {
        return too_little(used.days);
    };
    if used.days < MIN_DAYS {
        return too_little(used.days);
    }
    let fit_cores = cores.map(|c| fitting_cores(c, cpu));
    let fit_memory = memory.map(|m| fitting_memory(m, mem));
    let sizes = |cores: Option<i64>, memory_bytes: Option<i64>, verdict, reason| Judgement {
        verdict,
        cores,
        memory_bytes,
        reason,
    };
    if cpu > CPU_UNDERSIZED || mem > MEMORY_UNDERSIZED {
        // Only what is short grows; the other resource stays.
        let grow_cores = (cpu > CPU_UNDERSIZED)
            .then_some(fit_cores)
            .flatten()
            .or(cores);
        let grow_memory = (mem > MEMORY_UNDERSIZED)
            .then_some(fit_memory)
            .flatten()
            .or(memory);
        let mut short = Vec::new();
        if cpu > CPU_UNDERSIZED {
            short.push(format!("CPU p95 {cpu:.0} %"));
        }
        if mem > MEMORY_UNDERSIZED {
            short.push(format!("memory p99 {mem:.0} %"));
        }
        return sizes(
            grow_cores,
            grow_memory,
            "undersized",
            format!("{}: add headroom", short.join(", ")),
        );
    }
    let shrinks = |now: Option<i64>, fit: Option<i64>, floor: i64| match (now, fit) {
        (Some(now), Some(fit)) => {
            let freed = now - fit;
            freed >= floor && freed as f64 >= now as f64 * MIN_CHANGE
        }
        _ => false,
    };
    let fewer_cores = shrinks(cores, fit_cores, 1);
    let less_memory = shrinks(memory, fit_memory, 1 << 30);
    let smaller_cores = if fewer_cores { fit_cores } else { cores };
    let smaller_memory = if less_memory { fit_memory } else { memory };
    if cpu < IDLE_CPU_P95 {
        return sizes(
            smaller_cores,
            smaller_memory,
            "idle",
            format!(
                "CPU p95 {cpu:.1} % for {} days: is it still needed? If so, the size shown fits it",
                used.days
            ),
        );
    }
    if fewer_cores || less_memory {
        let mut what = Vec::new();
        if fewer_cores {
            what.push(format!("CPU p95 {cpu:.0} %"));
        }
        if less_memory {
            what.push(format!("memory p99 {mem:.0} %"));
        }
        return sizes(
            smaller_cores,
            smaller_memory,
            "oversized",
            format!("{}: the size shown still leaves headroom", what.join(", ")),
        );
    }
    let unknown = if cores.is_none() && memory.is_none() {
        " (its vCPUs and memory were never reported: no size to recommend)"
    } else {
        ""
    };
    sizes(
        cores,
        memory,
        "fits",
        format!("CPU p95 {cpu:.0} %, memory p99 {mem:.0} %{unknown}"),
    )
}

fn too_little(days: usize) -> Judgement {
    Judgement {
        verdict: "too little history",
        cores: None,
        memory_bytes: None,
        reason: format!("{days} days with data of the last {WINDOW_DAYS}; {MIN_DAYS} are needed"),
    }
}

/// Where a verdict is listed: what needs a change first.
fn rank(verdict: &str) -> usize {
    [
        "powered off",
        "undersized",
        "idle",
        "oversized",
        "too little history",
        "fits",
    ]
    .iter()
    .position(|v| *v == verdict)
    .unwrap_or(usize::MAX)
}

/// What `cores` vCPUs and `bytes` of memory (either negative: given back) come to a month at
/// `prices`, to the cent.
pub fn monthly_cost(cores: i64, bytes: i64, prices: &Prices) -> f64 {
    let cost = cores as f64 * prices.vcpu_month + bytes as f64 / GIB * prices.gib_month;
    (cost * 100.0).round() / 100.0
}

/// Prices as a person typed them, checked: a currency of 1–8 characters (`EUR`, `$`), prices
/// from 0 to a million a month.
pub fn check_prices(currency: &str, vcpu_month: f64, gib_month: f64) -> Result<Prices, String> {
    let currency = currency.trim();
    if currency.is_empty() || currency.chars().count() > 8 {
        return Err(format!(
            "`currency` must be 1 to 8 characters (EUR, $…), got `{currency}`"
        ));
    }
    for (name, value) in [("vcpuMonth", vcpu_month), ("gibMonth", gib_month)] {
        if !value.is_finite() || !(0.0..=1_000_000.0).contains(&value) {
            return Err(format!(
                "`{name}` must be a price from 0 to 1000000 a month, got {value}"
            ));
        }
    }
    Ok(Prices {
        currency: currency.to_string(),
        vcpu_month,
        gib_month,
        ..Default::default()
    })
}

/// Sets the prices right-sizing counts in (checked; `QueryError::BadRequest` says why not).
pub async fn set_prices(
    pool: &sqlx::PgPool,
    currency: &str,
    vcpu_month: f64,
    gib_month: f64,
    by: &str,
) -> Result<Prices, QueryError> {
    let prices = check_prices(currency, vcpu_month, gib_month).map_err(QueryError::BadRequest)?;
    Ok(crate::storage::prices::set(pool, &prices, by).await?)
}

/// The prices set, if any.
pub async fn prices(pool: &sqlx::PgPool) -> Result<Option<Prices>, QueryError> {
    Ok(crate::storage::prices::get(pool).await?)
}

/// Removes the prices: right-sizing counts in vCPUs and bytes only again.
pub async fn clear_prices(pool: &sqlx::PgPool) -> Result<(), QueryError> {
    Ok(crate::storage::prices::clear(pool).await?)
}

/// Right-sizing of `hosts` over the [`WINDOW_DAYS`] complete days before `now`.
pub async fn of(
    pool: &sqlx::PgPool,
    hosts: &[HostRef],
    now: DateTime<Utc>,
) -> Result<RightSizing, QueryError> {
    let today = now.duration_trunc(Duration::days(1)).unwrap_or(now);
    let first = today - Duration::days(WINDOW_DAYS);
    let ids: Vec<i32> = hosts.iter().map(|h| h.id).collect();
    let metrics = [app::catalog::CPU_PERCENT, app::catalog::MEMORY_PERCENT];
    let rows = rollups::stored_daily(pool, &ids, &metrics, (first, today), today).await?;
    let allocations: HashMap<i32, Allocation> = hosts::allocations(pool, &ids)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    // Merged on the blocking pool: decoding a month of sketches for 100 hosts is CPU work.
    let merged = tokio::task::spawn_blocking(move || {
        let mut merged: HashMap<(i32, i16), (MetricRollup, usize)> = HashMap::new();
        for row in &rows {
            let rollup = row.rollup()?;
            let entry = merged.entry((row.host_id, row.metric)).or_default();
            entry.0.merge(&rollup);
            entry.1 += 1;
        }
        Ok::<_, crate::analysis::sketch::SketchDecodeError>(merged)
    })
    .await
    .map_err(|e| QueryError::Internal(anyhow::anyhow!("right-sizing task failed: {e}")))?
    .map_err(|e| QueryError::Internal(e.into()))?;

    let prices = crate::storage::prices::get(pool).await?;
    let mut out = RightSizing {
        window_days: WINDOW_DAYS,
        ..Default::default()
    };
    for host in hosts {
        let cpu = merged.get(&(host.id, app::catalog::CPU_PERCENT));
        let memory = merged.get(&(host.id, app::catalog::MEMORY_PERCENT));
        let used = Use {
            cpu_p95: cpu.and_then(|(r, _)| r.quantile(0.95)),
            memory_p99: memory.and_then(|(r, _)| r.quantile(0.99)),
            days: cpu.map_or(0, |c| c.1).min(memory.map_or(0, |m| m.1)),
        };
        let allocation = allocations.get(&host.id);
        let cores = allocation.and_then(|a| a.cores).map(i64::from);
        let memory_bytes = allocation.and_then(|a| a.memory_total);
        let silent_days = allocation.map_or(0, |a| (now - a.last_seen).num_days());
        let judged = judge((cores, memory_bytes), used, silent_days);
        let change = |now: Option<i64>, fit: Option<i64>| match (now, fit) {
            (Some(now), Some(fit)) => fit - now,
            _ => 0,
        };
        let (core_change, memory_change) = (
            change(cores, judged.cores),
            change(memory_bytes, judged.memory_bytes),
        );
        out.freed_cores += (-core_change).max(0);
        out.added_cores += core_change.max(0);
        out.freed_memory_bytes += (-memory_change).max(0);
        out.added_memory_bytes += memory_change.max(0);
        out.hosts.push(HostSizing {
            vm_id: host.vm_id.clone(),
            vm_name: host.name.clone(),
            cores,
            memory_bytes,
            cpu_p95: used.cpu_p95.map(|v| (v * 10.0).round() / 10.0),
            memory_p99: used.memory_p99.map(|v| (v * 10.0).round() / 10.0),
            days: used.days,
            recommended_cores: judged.cores,
            recommended_memory_bytes: judged.memory_bytes,
            verdict: judged.verdict.into(),
            reason: judged.reason,
            monthly_change: prices
                .as_ref()
                .map(|p| monthly_cost(core_change, memory_change, p)),
        });
    }
    if let Some(prices) = prices {
        out.monthly_savings = Some(monthly_cost(
            out.freed_cores,
            out.freed_memory_bytes,
            &prices,
        ));
        out.monthly_added = Some(monthly_cost(
            out.added_cores,
            out.added_memory_bytes,
            &prices,
        ));
        out.prices = Some(prices);
    }
    // What changes most first within a verdict: the largest memory change, then by name.
    out.hosts.sort_by(|a, b| {
        let moved = |h: &HostSizing| {
            (h.memory_bytes.unwrap_or(0) - h.recommended_memory_bytes.unwrap_or(0)).abs() as f64
                / GIB
                + (h.cores.unwrap_or(0) - h.recommended_cores.unwrap_or(0)).abs() as f64
        };
        rank(&a.verdict)
            .cmp(&rank(&b.verdict))
            .then_with(|| moved(b).total_cmp(&moved(a)))
            .then_with(|| a.vm_name.cmp(&b.vm_name))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn money_is_vcpus_and_gib_at_their_prices_to_the_cent() {
        let prices = check_prices(" EUR ", 12.5, 3.2).expect("valid");
        assert_eq!(prices.currency, "EUR");
        // 4 vCPUs and 6 GiB given back: −(4 × 12.5 + 6 × 3.2) = −69.2.
        assert_eq!(monthly_cost(-4, -6 << 30, &prices), -69.2);
        // 512 MiB: half a GiB, 1.6.
        assert_eq!(monthly_cost(0, 512 << 20, &prices), 1.6);
        assert_eq!(monthly_cost(1, 1, &prices), 12.5, "a byte rounds away");
        assert!(check_prices("", 1.0, 1.0).is_err());
        assert!(check_prices("EURO-DOLLAR", 1.0, 1.0).is_err());
        assert!(check_prices("$", f64::NAN, 1.0).is_err());
        assert!(check_prices("$", 1.0, -1.0).is_err());
        assert!(check_prices("$", 1.0, 2e6).is_err());
    }

    use super::*;

    const GIB: i64 = 1 << 30;

    fn used(cpu: f64, memory: f64) -> Use {
        Use {
            cpu_p95: Some(cpu),
            memory_p99: Some(memory),
            days: 30,
        }
    }

    #[test]
    fn fitting_sizes_put_the_percentiles_at_their_targets() {
        // 8 vCPUs at p95 21 %: 1.68 busy vCPUs, 2.4 at 70 %, so 3.
        assert_eq!(fitting_cores(8, 21.0), 3);
        assert_eq!(fitting_cores(4, 0.5), 1, "never below one");
        assert_eq!(fitting_cores(4, 70.0), 4);
        // 16 GiB at p99 30 %: 4.8 GiB used, 6 GiB at 80 %: exactly 12 steps of 512 MiB.
        assert_eq!(fitting_memory(16 * GIB, 30.0), 6 * GIB);
        // 16 GiB at 31 %: 6.2 GiB rounds up to 6.5.
        assert_eq!(fitting_memory(16 * GIB, 31.0), 6 * GIB + GIB / 2);
    }

    #[test]
    fn each_verdict_is_given_where_its_rule_says() {
        let size = (Some(8), Some(16 * GIB));
        let oversized = judge(size, used(21.0, 30.0), 0);
        assert_eq!(
            (oversized.verdict, oversized.cores, oversized.memory_bytes),
            ("oversized", Some(3), Some(6 * GIB))
        );
        let undersized = judge(size, used(92.0, 40.0), 0);
        // 8 × 92 / 70 = 10.5 → 11 vCPUs; memory is not short and stays.
        assert_eq!(
            (
                undersized.verdict,
                undersized.cores,
                undersized.memory_bytes
            ),
            ("undersized", Some(11), Some(16 * GIB))
        );
        assert!(undersized.reason.contains("CPU p95 92 %"));
        let short_of_memory = judge(size, used(30.0, 95.0), 0);
        // 16 × 95 / 80 = 19 GiB.
        assert_eq!(
            (short_of_memory.cores, short_of_memory.memory_bytes),
            (Some(8), Some(19 * GIB))
        );
        let idle = judge(size, used(2.0, 30.0), 0);
        assert_eq!((idle.verdict, idle.cores), ("idle", Some(1)));
        let off = judge(size, used(50.0, 50.0), 9);
        assert_eq!(
            (off.verdict, off.cores, off.memory_bytes),
            ("powered off", Some(0), Some(0))
        );
        assert!(off.reason.contains("9 days"));
        // 6 of 8 vCPUs (p95 50 %: 5.7 → 6): 2 fewer is 25 %, a change; memory at p99 70 %
        // would fit 14 of 16 GiB, 12.5 % less: kept.
        let fewer = judge(size, used(50.0, 70.0), 0);
        assert_eq!(
            (fewer.verdict, fewer.cores, fewer.memory_bytes),
            ("oversized", Some(6), Some(16 * GIB))
        );
        // 7 of 8 (p95 55 %: 6.3 → 7) is one vCPU, under a quarter: it fits.
        let fits = judge(size, used(55.0, 70.0), 0);
        assert_eq!(
            (fits.verdict, fits.cores, fits.memory_bytes),
            ("fits", Some(8), Some(16 * GIB))
        );
        let new = judge(
            size,
            Use {
                days: 3,
                ..used(20.0, 20.0)
            },
            0,
        );
        assert_eq!((new.verdict, new.cores), ("too little history", None));
        // Sizes never told: judged on the percentages, no sizes recommended.
        let unknown = judge((None, None), used(21.0, 30.0), 0);
        assert_eq!((unknown.verdict, unknown.cores), ("fits", None));
    }
}
