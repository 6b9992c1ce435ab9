//! Typed models shared by the REST API, the WebSocket stream and the browser UI.
//!
//! Field names follow the performance API seed (`snake_case`); fields beyond the seed are
//! additive so clients written against the seed keep working.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One sample of one host: the `data` of `GET /api/v1/performance/stats` and the
/// `metric` of a `metric_update` WebSocket event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub disk: DiskStats,
    pub network: NetworkStats,
    pub processes: ProcessStats,
    pub connections: ConnectionStats,
    pub timestamp: DateTime<Utc>,
    /// cgroup v2 containers on the host (Docker, Podman, containerd, CRI-O); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerStats>,
    /// NVIDIA GPUs (through NVML); absent when there are none or no driver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<GpuStats>,
}

/// One container, from its cgroup (v2): CPU over the last interval, memory now, I/O rates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerStats {
    /// The container id (64 hex digits, or the cgroup's name when it has none).
    pub id: String,
    /// Its name from the Docker socket when readable, else the id's first 12 digits.
    pub name: String,
    /// CPU time used over the interval as a percentage of one core (`docker stats` convention:
    /// 200 = two cores busy).
    pub cpu_percent: f64,
    /// `memory.current` (includes page cache), bytes; absent where the memory controller is
    /// not on cgroup v2 (a hybrid hierarchy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// `memory.max` when the container has a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<u64>,
    /// Bytes/s read and written (`io.stat`, all devices); absent without the io controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_bps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_bps: Option<f64>,
}

/// One NVIDIA GPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuStats {
    pub index: u32,
    pub name: String,
    /// Time a kernel was running over the driver's sample period, 0–100.
    pub utilization_percent: f64,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub temperature_celsius: f64,
    pub power_watts: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Busy time of all logical CPUs, 0–100.
    pub percent: f64,
    /// Logical CPU count.
    pub cores: u32,
    /// Mean current clock of the logical CPUs, MHz.
    pub frequency: u64,
    /// `percent` × `frequency` × `cores` / 100: the MHz actually used.
    pub usage_mhz: f64,
    /// Time the hypervisor kept runnable vCPUs waiting (Linux `steal`), 0–100: the VM's "CPU ready".
    pub ready_percent: f64,
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    pub total: u64,
    pub available: u64,
    pub used: u64,
    pub free: u64,
    pub percent: f64,
    pub cached: u64,
    pub swap_total: u64,
    pub swap_used: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskStats {
    pub total: u64,
    pub free: u64,
    pub used: u64,
    pub percent: f64,
    /// Bytes read/written since boot, summed over physical disks.
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_bps: f64,
    pub write_bps: f64,
    pub read_iops: f64,
    pub write_iops: f64,
    /// Mean time per completed read/write over the last interval, milliseconds.
    pub read_latency_ms: f64,
    pub write_latency_ms: f64,
    #[serde(default)]
    pub filesystems: Vec<FilesystemUsage>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilesystemUsage {
    pub device: String,
    pub mountpoint: String,
    pub total: u64,
    pub free: u64,
    pub percent: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkStats {
    /// Bytes/packets since boot, summed over interfaces other than loopback.
    pub bytes_sent: u64,
    pub bytes_recv: u64,
    pub packets_sent: u64,
    pub packets_recv: u64,
    /// Receive and transmit rates over the last interval, bytes per second.
    pub in_bps: f64,
    pub out_bps: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessStats {
    pub total: u32,
    pub running: u32,
    pub sleeping: u32,
    pub zombie: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStats {
    /// TCP sockets in any state but LISTEN.
    pub active: u32,
    pub listening: u32,
    pub established: u32,
}

/// `data` of `GET /api/v1/performance/history`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryData {
    pub metrics: Vec<HistoryPoint>,
    pub summary: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub timestamp: DateTime<Utc>,
    #[serde(flatten)]
    pub values: BTreeMap<String, MetricValue>,
}

/// A metric value that serializes whole numbers (byte counters) as JSON integers, as the seed
/// shows them, and everything else as a float.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct MetricValue(pub f64);

impl Serialize for MetricValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: beyond it f64 has no exact integers
        if self.0.fract() == 0.0 && self.0.abs() < EXACT {
            serializer.serialize_i64(self.0 as i64)
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

/// `data` of `GET /api/v1/performance/system`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub hostname: String,
    pub platform: String,
    pub platform_version: String,
    pub architecture: String,
    pub server_version: String,
    pub cpu_info: CpuInfo,
    pub memory_info: MemoryInfo,
    pub disk_info: Vec<DiskInfo>,
    pub network_info: Vec<NetworkInterfaceInfo>,
    pub uptime: u64,
    pub load_average: [f64; 3],
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuInfo {
    pub model: String,
    pub cores: u32,
    pub threads: u32,
    pub frequency: u64,
    /// KiB, from `/proc/cpuinfo` (`cache size`); 0 when the kernel does not say.
    pub cache_size: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryInfo {
    pub total: u64,
    pub available: u64,
    pub swap_total: u64,
    pub swap_available: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskInfo {
    pub device: String,
    pub mountpoint: String,
    pub total: u64,
    pub free: u64,
    pub filesystem: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkInterfaceInfo {
    pub interface: String,
    pub ip_address: String,
    pub mac_address: String,
    pub is_up: bool,
}

/// Messages on `/ws/performance`, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // built once per sample and serialized at once; boxing buys nothing
pub enum LiveEvent {
    MetricUpdate {
        host: String,
        metric: Stats,
        /// Fields a partial sample did not carry (their zeros in `metric` mean "not sent");
        /// left out for a full sample.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        absent: Vec<String>,
    },
    SystemChange {
        host: String,
        change: String,
        timestamp: DateTime<Utc>,
    },
    /// A new anomaly found by the continuous detector.
    AnomalyDetected { anomaly: AnomalyEvent },
    /// An alert rule fired (or an alert re-opened within its rule's cooldown).
    AlertTriggered { alert: Alert },
    /// An alert was resolved, automatically or by a person.
    AlertResolved { alert: Alert },
}

/// What every page's top bar shows: who is signed in and what is firing now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub username: String,
    /// Active alerts over the fleet.
    pub firing: u64,
    /// The most severe level among them (`None` when nothing fires).
    pub firing_level: Option<String>,
}

/// What the capacity page shows: the `/history/trends` answer for every host over the last
/// months, and the newest stored anomalies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    pub viewer: Viewer,
    /// The host group planned (`None`: the whole fleet).
    #[serde(default)]
    pub group: Option<String>,
    /// Every host group to choose from, with its number of hosts.
    #[serde(default)]
    pub groups: Vec<(String, usize)>,
    /// Hosts planned (of the group when one is chosen).
    pub hosts: usize,
    pub history_days: i64,
    pub horizon_days: i64,
    pub threshold: f64,
    pub trends: TrendReport,
    pub anomalies: Vec<AnomalyEvent>,
    /// The custom metrics hosts send, each host's trend over the same history: those that reach
    /// their capacity soonest first, then the fastest growing.
    pub app_metrics: Vec<AppMetricTrend>,
    /// The user may set metrics' capacities (`alerts:write`, the scope that sets thresholds).
    #[serde(default)]
    pub can_set_capacity: bool,
    /// The capacities set for every host of a metric, by name (hosts' own are in the rows).
    #[serde(default)]
    pub metric_capacities: Vec<(String, f64)>,
    /// The planned hosts' right-sizing.
    #[serde(default)]
    pub right_sizing: RightSizing,
    /// Each host group's runway (the whole fleet's view only), the shortest first.
    #[serde(default)]
    pub runway: Vec<GroupRunway>,
    /// The plans committed for the view's group (or the fleet), which its what-if and runway
    /// include and its forecasts do not.
    #[serde(default)]
    pub plans: Vec<CapacityPlan>,
    /// The monthly reports of the view's group (or the fleet), newest first.
    #[serde(default)]
    pub monthly_reports: Vec<CapacityReportFile>,
}

/// One host group's runway on the capacity page (the whole fleet's view): how long until the
/// group as a whole, and its first host, reach the view's threshold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRunway {
    pub group: String,
    pub hosts: usize,
    /// Days from the newest complete day until the group's average CPU, memory and disk reach
    /// the threshold (0: there already; `None`: not within two years or no forecast).
    pub cpu_days: Option<f64>,
    pub memory_days: Option<f64>,
    pub disk_days: Option<f64>,
    /// The resource that runs out first.
    pub constrained: Option<String>,
    /// The group's host that reaches the threshold first, with its resource and days.
    pub first_host: Option<RunwayHost>,
    /// Plans committed for the group, which the days above include (0: the forecast alone).
    #[serde(default)]
    pub plans: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunwayHost {
    pub vm_id: String,
    pub vm_name: String,
    pub metric: String,
    pub days: f64,
}

/// Right-sizing of the planned hosts (the capacity page; `POST /api/v1/history/rightsizing`):
/// each host's allocation against what it used over the last complete days, and the size that
/// would fit it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RightSizing {
    /// The complete days looked at.
    pub window_days: i64,
    /// Hosts needing a change first (powered off, undersized, idle, oversized), then the rest.
    pub hosts: Vec<HostSizing>,
    /// vCPUs and bytes of memory the oversized, idle and powered-off hosts' recommendations give
    /// back, and what the undersized ones' take.
    pub freed_cores: i64,
    pub freed_memory_bytes: i64,
    pub added_cores: i64,
    pub added_memory_bytes: i64,
    /// With prices set: what they are, and what the freed and added vCPUs and memory come to a
    /// month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_savings: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_added: Option<f64>,
}

/// What a vCPU and a GiB of memory cost a month (`GET|PUT /api/v1/history/rightsizing/prices`,
/// an extension), in `currency` (free text: `EUR`, `$`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    pub currency: String,
    pub vcpu_month: f64,
    pub gib_month: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// One host's allocation, use and fitting size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostSizing {
    pub vm_id: String,
    pub vm_name: String,
    /// vCPUs and memory now (`None` when the host never said).
    pub cores: Option<i64>,
    pub memory_bytes: Option<i64>,
    /// CPU percent at the 95th percentile, memory percent at the 99th, over the window.
    pub cpu_p95: Option<f64>,
    pub memory_p99: Option<f64>,
    /// Days of the window with data.
    pub days: usize,
    pub recommended_cores: Option<i64>,
    pub recommended_memory_bytes: Option<i64>,
    /// `powered off`, `undersized`, `idle`, `oversized`, `fits` or `too little history`.
    pub verdict: String,
    /// With prices set: what the recommended size changes a month (negative: a saving).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_change: Option<f64>,
    /// Why, in a sentence.
    pub reason: String,
}

/// One host's custom metric as the capacity page plans it (and `/history/trends` answers it in
/// `customMetrics`): its level now, its growth per month and where the line is at the horizon,
/// in the metric's own unit, and when it reaches its capacity if one is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppMetricTrend {
    pub name: String,
    /// The unit the metric was sent with (free text: `req/s`, `ms`, `count`…).
    pub unit: String,
    pub vm_id: String,
    pub vm_name: String,
    /// Complete days with points in the history.
    pub days: usize,
    pub level_now: f64,
    pub monthly_change: f64,
    /// `monthly_change` as a share of `level_now` (0.1 = +10 % a month).
    pub monthly_relative: Option<f64>,
    /// The level the trend line reaches at the horizon.
    pub predicted: f64,
    /// The capacity (the level it must stay below) this host is planned against, when a person
    /// set one: the host's own, or else the metric's.
    #[serde(default)]
    pub capacity: Option<f64>,
    /// Whose `capacity` it is: `host` (this host's own) or `metric` (every host's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_scope: Option<String>,
    /// When the trend line reaches the capacity: the newest day when it is there already;
    /// `None` without a capacity or beyond two years.
    #[serde(default)]
    pub capacity_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub days_to_capacity: Option<f64>,
}

/// The `data` of `GET`, `PUT` and `DELETE /api/v1/performance/metrics/{name}/capacity` (and of
/// `…/capacity/hosts/{vmId}`): the level an application metric must stay below, in its unit —
/// `capacity` for every host (`null` when none is set, or after `DELETE`), and `hosts`, the
/// hosts with their own, which replaces it for them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricCapacity {
    pub name: String,
    /// The unit of the metric's newest point.
    pub unit: String,
    pub capacity: Option<f64>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
    #[serde(default)]
    pub hosts: Vec<HostMetricCapacity>,
}

/// One host's own capacity of an application metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostMetricCapacity {
    /// The host's vmId.
    pub host: String,
    pub host_name: String,
    pub capacity: f64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// The typed `data` of `/history/trends`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrendReport {
    pub historical: Vec<DailyUsage>,
    #[serde(default)]
    pub growth_rates: BTreeMap<String, GrowthRate>,
    /// Present when the request enabled forecasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<BTreeMap<String, MetricForecast>>,
    #[serde(default)]
    pub capacity_alerts: Vec<CapacityAlert>,
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// With `customMetrics` in the request (an extension): each host's trend of each of them,
    /// those that reach their capacity soonest first, then the fastest growing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_metrics: Vec<AppMetricTrend>,
    /// The asked custom metrics that have no trend, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_metrics_skipped: Vec<CustomMetricSkip>,
}

/// A custom metric asked for that could not be planned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricSkip {
    pub name: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyUsage {
    pub date: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GrowthRate {
    pub daily: f64,
    pub weekly: f64,
    pub monthly: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricForecast {
    pub predicted_value: f64,
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_exceed_date: Option<DateTime<Utc>>,
    pub method: String,
    /// Lasting steps in the daily history (oldest first). The forecast starts from the level
    /// after the last one and grows at the rate measured between them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub level_shifts: Vec<LevelShift>,
    /// The planning view when steps are found: they keep coming at the past pace, so their
    /// average rise per day is added to the growth. Only present with `level_shifts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_shifts_recur: Option<ShiftScenario>,
}

/// A lasting change of a metric's daily level (a deploy, a new workload).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LevelShift {
    /// The first day at the new level.
    pub date: DateTime<Utc>,
    /// New level minus old level, in percentage points.
    pub change: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShiftScenario {
    /// Percentage points per day: the growth between steps plus the steps' average rise.
    pub growth_daily: f64,
    pub predicted_value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_exceed_date: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityAlert {
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_name: Option<String>,
    pub current_usage: f64,
    pub threshold: f64,
    pub predicted_exceed_date: DateTime<Utc>,
    pub severity: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    #[serde(rename = "type")]
    pub kind: String,
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub potential_savings: Option<String>,
}

/// `data` of `GET /api/v1/performance/summary`: each asked resource over the period, network
/// throughput and totals, alert counts. A resource not asked for is left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerformanceSummary {
    /// `1h`, `6h`, `24h` or `7d`.
    pub period: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<ResourceSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ResourceSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<ResourceSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSummary>,
    pub alerts: AlertCounts,
    /// Samples in the period.
    pub samples: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One resource's percent over the period, two decimals; `null` where no sample carried it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceSummary {
    pub current: Option<f64>,
    pub average: Option<f64>,
    pub maximum: Option<f64>,
    pub minimum: Option<f64>,
    /// `increasing`, `decreasing` or `stable`.
    pub trend: String,
}

/// Bytes per second (average over the period, and the newest) and bytes moved in it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkSummary {
    pub throughput_upload: i64,
    pub throughput_download: i64,
    pub current_upload: i64,
    pub current_download: i64,
    pub total_upload: i64,
    pub total_download: i64,
}

/// Alerts raised in a period, by level.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertCounts {
    pub total: i64,
    pub critical: i64,
    pub warning: i64,
    pub info: i64,
}

/// Where a page sits in a paginated answer (`/hosts`, `/history/query`, the timeline).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: i64,
    pub page_size: i64,
    pub total: i64,
    pub total_pages: i64,
}

impl Pagination {
    /// `page_size` must be at least 1 (the endpoints refuse less).
    pub fn new(page: i64, page_size: i64, total: i64) -> Pagination {
        Pagination {
            page,
            page_size,
            total,
            total_pages: (total + page_size - 1) / page_size.max(1),
        }
    }
}

/// `data` of `GET /api/v1/history/timeline/{vmId}`: one page of events, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePage {
    pub events: Vec<TimelineEvent>,
    pub total: i64,
    pub pagination: Pagination,
}

/// Liveness and readiness answers (`/healthz`, `/readyz`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthStatus {
    /// `ok` (the process answers) or `ready` (and so does the database).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// One event on a VM's timeline (`/api/v1/history/timeline/{vmId}`), as the history seed gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEvent {
    pub id: String,
    pub vm_id: String,
    pub timestamp: DateTime<Utc>,
    /// metric_alert, power_change, anomaly, manual or maintenance.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_data: Option<TimelineMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_change: Option<StateChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    pub acknowledged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Where the event ends, when it spans time (an anomaly, a resolved alert, a maintenance
    /// window): an extension to the seed's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineMetric {
    pub metric: String,
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// For anomalies: the value expected at that hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// For anomalies: the series judged, `group.field` (`disk.writeIOPS`), an extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub from: String,
    pub to: String,
}

/// A detected anomaly (`/api/v1/history/anomalies`), field names as the history seed gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyEvent {
    pub id: String,
    pub vm_id: String,
    pub vm_name: String,
    pub timestamp: DateTime<Utc>,
    /// cpu, memory, disk or network.
    pub metric: String,
    /// The series inside the metric group that was abnormal (e.g. `usagePercent`, `inBps`).
    pub series: String,
    /// spike, drop, trend_change or pattern_break.
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: String,
    pub value: f64,
    pub baseline: f64,
    /// Percent away from the baseline (robust sigmas when the baseline is zero).
    pub deviation: f64,
    /// Seconds.
    pub duration: i64,
    #[serde(rename = "relatedVMs")]
    pub related_vms: Vec<String>,
    pub possible_causes: Vec<String>,
    pub suggested_actions: Vec<String>,
    /// active, acknowledged or resolved.
    pub status: String,
    /// `normal`, or `low` when judged against a short baseline (a host's first days, before
    /// a seasonal baseline and a settled scale exist). An extension of the seed's shape.
    #[serde(default = "normal_confidence")]
    pub confidence: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn normal_confidence() -> String {
    "normal".into()
}

/// What one `/history/anomalies` run judged: one series at one tier (an extension of the seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyCoverage {
    /// `cpu.usagePercent`, …
    pub series: String,
    /// `hourly`: hourly averages (the hourly rollups, and the hours kept with the daily rows).
    pub tier: String,
    /// The part of the asked range judged at this tier.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Hosts whose series had enough points to be judged.
    pub hosts: usize,
    /// Points judged over all those hosts, within the asked range.
    pub points: usize,
}

/// A series of a host that was not judged, and why (`vmId` absent: for every host).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnomalySkip {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    pub series: String,
    pub reason: String,
}

/// The `data` of `POST /api/v1/history/anomalies`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyAnswer {
    pub anomalies: Vec<AnomalyEvent>,
    pub total: usize,
    pub by_severity: SeverityCounts,
    /// What was judged, per series and tier (an extension of the seed).
    pub judged: Vec<AnomalyCoverage>,
    /// What was not judged, and why (an extension of the seed).
    pub skipped: Vec<AnomalySkip>,
}

/// Events per severity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

impl SeverityCounts {
    pub fn of(events: &[AnomalyEvent]) -> Self {
        let mut counts = Self::default();
        for event in events {
            match event.severity.as_str() {
                "critical" => counts.critical += 1,
                "high" => counts.high += 1,
                "medium" => counts.medium += 1,
                "low" => counts.low += 1,
                _ => {}
            }
        }
        counts
    }
}

/// One of a host's busiest processes at a sample (agents send the top 5 by CPU and by memory).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
    /// The command line, cut to 128 characters.
    #[serde(default)]
    pub command: String,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}

/// One host on the fleet page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetHost {
    pub vm_id: String,
    pub name: String,
    pub group_id: Option<String>,
    pub cluster_id: Option<String>,
    /// `poweredOn` or `poweredOff` (no sample for 5 minutes), as `/api/v1/hosts` says.
    pub power_state: String,
    pub last_seen: Option<DateTime<Utc>>,
    /// The newest sample's CPU, memory and disk usage (percent).
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub disk: Option<f64>,
    /// CPU usage of the last hours, 5-minute means, oldest first (`None` where no sample).
    pub spark: Vec<Option<f64>>,
    pub active_alerts: i64,
    pub open_anomalies: i64,
    /// The newest active alert or open anomaly: (timeline id, instant), for a link to it.
    pub newest_event: Option<(String, DateTime<Utc>)>,
    /// The newest value of each custom metric the host sent lately, by name.
    pub app_metrics: Vec<AppMetricValue>,
}

/// A custom metric's newest value, with the unit it was sent in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppMetricValue {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// The fleet page: every host, and who is looking.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetPageData {
    pub viewer: Viewer,
    pub hosts: Vec<FleetHost>,
    /// The host Lookout runs on (its own samples).
    pub local_vm: String,
}

/// A chart of the host view, as the server draws it for the first paint without JavaScript.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StaticPanel {
    pub id: String,
    pub svg: String,
}

/// The host view: its header (the newest sample), static charts for the range, and its events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostPageData {
    pub viewer: Viewer,
    pub vm_id: String,
    pub name: String,
    pub group_id: Option<String>,
    pub cluster_id: Option<String>,
    pub power_state: String,
    pub platform: String,
    pub latest: Option<Stats>,
    /// The range drawn, epoch milliseconds, and the resolution the server read it at.
    pub from: i64,
    pub to: i64,
    pub resolution: String,
    pub panels: Vec<StaticPanel>,
    pub events: Vec<TimelineEvent>,
    /// The custom metrics the host sent in the range (the first twelve by name), server-drawn.
    pub custom: Vec<CustomPanel>,
    /// Custom metrics of the range beyond those.
    pub custom_more: usize,
    /// The host's capacity outlook as the capacity page plans by default (its last 180 days,
    /// a 90-day forecast against 80 %), whatever range the view shows.
    #[serde(default)]
    pub outlook: TrendReport,
}

/// A custom metric's chart on the host view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomPanel {
    pub name: String,
    pub unit: String,
    /// The newest bucket's mean in the range.
    pub latest: Option<f64>,
    pub svg: String,
}

/// The compare view: one metric over several hosts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparePageData {
    pub viewer: Viewer,
    /// Every host to choose from: (vmId, name, group).
    pub choices: Vec<(String, String, Option<String>)>,
    /// The hosts compared: (vmId, name).
    pub hosts: Vec<(String, String)>,
    pub metric: String,
    pub from: i64,
    pub to: i64,
    pub svg: String,
    /// Custom metrics hosts sent in the last 7 days, to compare too: (name, unit).
    pub custom_choices: Vec<(String, String)>,
}

/// One side of an investigation's comparison — the baseline or the window — in the series' unit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSide {
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub points: usize,
}

/// A series of a host whose window differs from the baseline before it by more than the
/// series' practical floor (`POST /api/v1/history/investigate`, an extension).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesChange {
    pub vm_id: String,
    pub host_name: String,
    /// `cpu.usagePercent`, `fs:/var` (a file system's usage), `custom:<name>`.
    pub series: String,
    /// The catalogue unit's name (`percent`, `B/s`, …) or a custom metric's unit as sent.
    pub unit: String,
    /// `up` or `down`: where the largest move went.
    pub direction: String,
    /// How different the window's values are from the baseline's: the two-sample
    /// Kolmogorov–Smirnov statistic, 0 (alike) to 1 (no overlap).
    pub score: f64,
    /// The largest move — of the median, to a new high, to a new low — in multiples of the
    /// series' practical floor (1 or more, or it would not be listed).
    pub size: f64,
    pub baseline: ChangeSide,
    pub window: ChangeSide,
    /// The resolution both sides were read at (`raw`, `1m`, `5m`, `15m`, `1h`, `1d`).
    pub resolution: String,
}

/// How much changed on one host of an investigation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostChanges {
    pub vm_id: String,
    pub host_name: String,
    /// Series compared (enough points on both sides).
    pub compared: usize,
    /// Of those, the series that changed by more than their floor.
    pub changed: usize,
    /// The highest score among its changed series (0 when none).
    pub top_score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_series: Option<String>,
    /// Why nothing of the host was compared (no data in the window, none before it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The `data` of `POST /api/v1/history/investigate`: what changed in a window against the
/// baseline before it, most different first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Investigation {
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    /// What the window is compared with: `before` (the stretch just before it, four times as
    /// long, within what is kept), `day` or `week` (the same window that much earlier).
    pub baseline: String,
    pub baseline_start_time: DateTime<Utc>,
    pub baseline_end_time: DateTime<Utc>,
    /// Every host asked about, the most changed first.
    pub hosts: Vec<HostChanges>,
    /// The changed series of all hosts, most different first, at most `limit`.
    pub changes: Vec<SeriesChange>,
    /// Changed series beyond `limit`.
    pub more: usize,
    /// Series compared over all hosts.
    pub compared: usize,
    /// Whether each file system was compared on its own; over many hosts and days (more than
    /// 10 host-days of raw samples) only `disk.usagePercent`, all of them together, is.
    pub filesystems_compared: bool,
}

/// The investigate page: a window of one host, a group or the fleet, and what changed in it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InvestigatePageData {
    pub viewer: Viewer,
    /// Every host to choose from: (vmId, name, group).
    pub choices: Vec<(String, String, Option<String>)>,
    /// The host or group investigated (none: every host).
    pub host: Option<String>,
    pub group: Option<String>,
    pub from: i64,
    pub to: i64,
    pub result: Investigation,
    /// A small chart of each listed change (its baseline and window), in `result.changes` order.
    pub sparks: Vec<String>,
    /// Why nothing was investigated (a fleet larger than one investigation covers).
    pub notice: Option<String>,
}

/// `POST /api/v1/history/what-if` (an extension) and the what-if page: a scenario's changes to a
/// group's capacity forecast and the runway it gives, beside the forecast's own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhatIf {
    /// Hosts planned now, and after the scenario's hosts are added or taken away.
    pub hosts: usize,
    pub hosts_after: i64,
    /// Days forecast, and the threshold (percent) the runway runs to.
    pub horizon: i64,
    pub capacity_threshold: f64,
    /// The newest complete day: day 0 of every projection.
    pub newest_day: Option<DateTime<Utc>>,
    pub changes: WhatIfChanges,
    /// The plans committed for the same scope, included in `scenario` with `changes` (none when
    /// the request left them out).
    #[serde(default)]
    pub plans: Vec<CapacityPlan>,
    /// CPU, memory and disk, each with a straight forecast (a resource without one is left out
    /// and named in `warning`).
    pub resources: Vec<WhatIfResource>,
    /// The selection's host that reaches the threshold first under the scenario (each host's own
    /// forecast, its load changed by the same factors), with its forecast's crossing beside it;
    /// `None` with one host (the selection is the host) or when none reaches it within two years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_host: Option<WhatIfHost>,
    /// The group's daily averages the forecasts are drawn from (as `/history/trends` gives them).
    pub historical: Vec<DailyUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A scenario: hosts added (negative: taken away) from a day, a load added from a day (percent
/// of the load then), extra growth per month (percent, compounded). A day left out is the
/// newest complete day (at once).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfChanges {
    pub add_hosts: i64,
    pub hosts_from: Option<DateTime<Utc>>,
    pub add_load_percent: f64,
    pub load_from: Option<DateTime<Utc>>,
    pub growth_monthly_percent: f64,
}

/// A planned change committed for a group (or, with no `groupId`, the whole fleet): the runway
/// and every what-if of the same scope include it until it is removed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityPlan {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// What it is ("Black Friday", "billing migration").
    pub title: String,
    pub changes: WhatIfChanges,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A monthly capacity report (`GET /api/v1/history/capacity-reports`, an extension): the capacity
/// plan of the fleet (no `groupId`) or of a group as of the first instant of `month`, as a PDF
/// at `downloadUrl`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityReportFile {
    pub id: i64,
    /// The month it was made at the start of (`2026-12-01`): its history ends there.
    pub month: chrono::NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    pub as_of: DateTime<Utc>,
    pub hosts: i64,
    /// The view it plans: days of history, days forecast, threshold in percent.
    pub history_days: i64,
    pub horizon_days: i64,
    pub threshold: i64,
    pub generated_at: DateTime<Utc>,
    /// The PDF's size.
    pub bytes: i64,
    pub download_url: String,
    /// The scope's runway in it (absent in reports made before it was kept).
    #[serde(default)]
    pub runway: Runway,
}

/// Days from the newest complete day until a scope's average CPU, memory and disk reach the
/// threshold (`None`: not within two years, or no forecast).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Runway {
    pub cpu_days: Option<f64>,
    pub memory_days: Option<f64>,
    pub disk_days: Option<f64>,
}

/// One resource under the forecast and under the scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfResource {
    /// `cpu`, `memory` or `disk`.
    pub metric: String,
    /// The trend line's level on the newest complete day (percent) and its change per month
    /// (percentage points).
    pub now: f64,
    pub growth_monthly: f64,
    pub forecast: WhatIfOutcome,
    pub scenario: WhatIfOutcome,
    /// Hosts of the group's average size needed so that the scenario's load stays below the
    /// threshold up to the horizon.
    pub hosts_needed: i64,
    /// More average hosts' load the scenario takes before the threshold within the horizon
    /// (negative: over it by that many); `None` without load.
    pub room_for_hosts: Option<i64>,
    /// Each day from the newest complete day to the horizon: the forecast and the scenario.
    pub projection: Vec<WhatIfPoint>,
}

/// One host's resource under its own forecast and under the scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfHost {
    pub vm_id: String,
    pub vm_name: String,
    pub metric: String,
    pub forecast: WhatIfOutcome,
    pub scenario: WhatIfOutcome,
}

/// Where a resource is at the horizon and when it reaches the threshold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfOutcome {
    /// Percent at the horizon (0–100).
    pub predicted_value: f64,
    /// Days from the newest complete day (0: there already; `None`: not within two years).
    pub days_to_threshold: Option<f64>,
    /// The day (midnight UTC) it is reached.
    pub capacity_exceed_date: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfPoint {
    pub date: DateTime<Utc>,
    pub forecast: f64,
    pub scenario: f64,
}

/// The what-if page: the view and scenario asked for (as its form holds them), the groups to
/// choose from, and the answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WhatIfPageData {
    pub viewer: Viewer,
    pub query: crate::view_state::WhatIfQuery,
    pub groups: Vec<(String, usize)>,
    pub result: WhatIf,
    /// Why the scenario was not computed (a change out of bounds), shown above the form.
    pub problem: Option<String>,
    /// The user may commit and remove plans (`alerts:write`, as for capacities).
    pub can_commit: bool,
    /// What the plan forms' redirects say: done, or what was wrong.
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// Window of the live chart.
pub const LIVE_WINDOW_SECS: i64 = 15 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_serialize_in_the_seed_spelling() {
        assert_eq!(Pagination::new(1, 100, 0).total_pages, 0);
        assert_eq!(Pagination::new(1, 100, 100).total_pages, 1);
        assert_eq!(Pagination::new(2, 100, 101).total_pages, 2);
        assert_eq!(
            serde_json::to_string(&Pagination::new(2, 50, 120)).expect("serializes"),
            r#"{"page":2,"pageSize":50,"total":120,"totalPages":3}"#
        );
    }

    #[test]
    fn whole_metric_values_serialize_as_integers() {
        let point = HistoryPoint {
            timestamp: DateTime::from_timestamp(1_704_110_400, 0).expect("valid"),
            values: BTreeMap::from([
                ("cpu_percent".to_string(), MetricValue(45.2)),
                ("network_bytes_sent".to_string(), MetricValue(1048576000.0)),
            ]),
        };
        let json = serde_json::to_string(&point).expect("serializes");
        assert_eq!(
            json,
            r#"{"timestamp":"2024-01-01T12:00:00Z","cpu_percent":45.2,"network_bytes_sent":1048576000}"#
        );
        let back: HistoryPoint = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, point);
    }
}

/// An alert rule as `GET /api/v1/performance/alerts/rules` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    pub metric: String,
    /// Always the long spelling (`greater_than`, …) whichever spelling created it.
    pub operator: String,
    pub threshold: f64,
    pub level: String,
    pub description: String,
    pub enabled: bool,
    pub actions: Vec<String>,
    pub webhook_url: Option<String>,
    /// Seconds between two notifications of the same rule and host.
    pub cooldown: i64,
    /// Seconds the condition must hold before the alert fires.
    #[serde(rename = "for")]
    pub for_secs: i64,
    /// Seconds the condition must stay false before the alert resolves itself.
    pub recovery: i64,
    /// The host (`vmId`) the rule is limited to, if any.
    pub host: Option<String>,
    pub group_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub trigger_count: i64,
    pub last_triggered: Option<DateTime<Utc>>,
}

/// One alert, as `GET /api/v1/performance/alerts` and the `alert_*` live events carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    /// cpu, memory, disk, network, system or custom.
    #[serde(rename = "type")]
    pub kind: String,
    pub level: String,
    pub title: String,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
    /// active or resolved.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub metadata: AlertMetadata,
    pub rule_id: Option<String>,
    pub metric: String,
    /// The host (`vmId`) the value came from; none for a custom metric sent without one.
    pub host: Option<String>,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
}

/// The body of a webhook delivery (`X-Lookout-Event` names the same event).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// `alert_triggered` or `alert_resolved`.
    pub event: String,
    pub alert: Alert,
    pub rule: WebhookRule,
    /// Always `lookout`.
    pub sent_by: String,
}

/// The rule a webhook delivery comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookRule {
    /// `rule_<n>`, as the rules API names it.
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertMetadata {
    /// Top processes by CPU, then memory, when the alert fired (known for the server's own host).
    #[serde(default)]
    pub affected_processes: Vec<String>,
    #[serde(default)]
    pub suggestion: String,
}

/// The `data` of `POST /api/v1/performance/alerts/rules`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleCreated {
    pub rule_id: String,
    pub created_at: DateTime<Utc>,
    pub rule: AlertRule,
    /// The secret webhook deliveries are signed with, shown once: when the rule has a webhook
    /// and the secret was made by this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// The `data` of `PUT /api/v1/performance/alerts/rules/{rule_id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleUpdated {
    pub rule: AlertRule,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// The `data` of `DELETE /api/v1/performance/alerts/rules/{rule_id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleDeleted {
    pub deleted: bool,
    pub rule_id: String,
}

/// The `data` of `GET /api/v1/performance/alerts/rules`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleList {
    pub rules: Vec<AlertRule>,
    /// The built-in metric names a rule can watch.
    pub metrics: Vec<String>,
}

/// The `data` of `GET /api/v1/performance/alerts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertList {
    pub alerts: Vec<Alert>,
    pub summary: AlertSummary,
}

/// Counts over every alert the query's filters select, not only the page returned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertSummary {
    pub total: i64,
    pub active: i64,
    pub resolved: i64,
    pub by_level: AlertsByLevel,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertsByLevel {
    pub critical: i64,
    pub warning: i64,
    pub info: i64,
}

/// The `data` of `POST /api/v1/performance/alerts/{alert_id}/resolve`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertResolved {
    pub resolved: bool,
    pub resolved_at: Option<DateTime<Utc>>,
    pub alert: Alert,
}

/// A host offered on the exports page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostChoice {
    pub vm_id: String,
    pub name: String,
}

/// What the exports page asks for: the last `hours` of the chosen hosts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportForm {
    pub vm_ids: Vec<String>,
    pub hours: i64,
    pub aggregation: String,
    pub format: String,
}

/// One export task as the exports page shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportProgress {
    pub id: String,
    pub status: String,
    pub filename: String,
    pub processed: i64,
    pub total: i64,
    pub percentage: i64,
    pub file_url: Option<String>,
    pub error: Option<String>,
}

impl ExportProgress {
    pub fn is_running(&self) -> bool {
        self.status == "pending" || self.status == "processing"
    }
}

/// An export task as `POST /api/v1/history/export` and `GET /api/v1/history/export/{id}`
/// answer it (the history seed's `ExportTask`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportTask {
    pub id: String,
    /// pending, processing, completed or failed.
    pub status: String,
    pub query: ExportTaskQuery,
    pub format: String,
    pub filename: String,
    pub progress: ExportTaskProgress,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ExportTaskResult>,
    /// Once failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ExportTaskError>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportTaskQuery {
    pub vm_count: i32,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub aggregation: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportTaskProgress {
    pub total: i64,
    pub processed: i64,
    pub percentage: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportTaskResult {
    pub file_url: String,
    pub file_size: Option<i64>,
    pub record_count: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportTaskError {
    pub code: Option<String>,
    pub message: Option<String>,
}

/// The `data` of `POST /api/v1/performance/reports`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportCreated {
    pub report_id: String,
    pub download_url: String,
    pub estimated_ready_time: DateTime<Utc>,
    pub status: String,
}

/// The `data` of `GET /api/v1/performance/reports/{report_id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportStatus {
    pub report_id: String,
    /// pending, processing, completed or failed.
    pub status: String,
    pub format: String,
    pub filename: String,
    pub download_url: String,
    pub estimated_ready_time: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub file_size: Option<i64>,
    /// Once failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReportError>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportError {
    pub code: String,
    pub message: Option<String>,
}

/// What the exports and reports page loads first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportsPageData {
    pub viewer: Viewer,
    pub hosts: Vec<HostChoice>,
    pub exports: Vec<ExportProgress>,
    /// The caller's reports that have not expired, newest first.
    pub reports: Vec<ReportStatus>,
}

/// What the alerts page shows: the alerts firing now, the ones resolved lately, every rule, and
/// the choices its rule form offers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertsPageData {
    pub viewer: Viewer,
    /// The user may change rules and resolve alerts (`alerts:write`).
    pub can_write: bool,
    /// Counts over every alert stored.
    pub summary: AlertSummary,
    /// Every active alert, the most severe first, then the newest.
    pub firing: Vec<Alert>,
    /// The newest resolved alerts.
    pub resolved: Vec<Alert>,
    pub rules: Vec<AlertRule>,
    /// The built-in metrics a rule can watch, then the custom metrics sent in the last 7 days.
    pub metrics: Vec<String>,
    pub custom_metrics: Vec<String>,
    pub hosts: Vec<HostChoice>,
    /// The host groups rules can be limited to.
    pub groups: Vec<String>,
    /// A fresh signing secret offered to a new rule with a webhook (the form shows it, so the
    /// user can copy it to the receiver before saving).
    pub suggested_secret: String,
    /// The filters applied to both alert lists (`level`, `host` vmId), as the query gave them.
    pub level: Option<String>,
    pub host: Option<String>,
}

/// `data` of `POST /api/v1/performance/metrics`: the stored point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricCreated {
    pub metric_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// `data` of `POST /api/v1/performance/metrics/batch`: what was stored and why each other item
/// was refused (items by their index in the request).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricBatch {
    pub accepted: usize,
    pub rejected: usize,
    pub metric_ids: Vec<String>,
    pub accepted_indexes: Vec<usize>,
    pub errors: Vec<CustomMetricRejection>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricRejection {
    pub index: usize,
    /// The item's `name`, when it had one.
    pub name: Option<String>,
    pub reason: String,
}

/// `data` of `GET /api/v1/performance/metrics/{name}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricReadout {
    pub name: String,
    pub unit: String,
    pub category: String,
    pub minutes: i64,
    pub resolution: CustomMetricResolution,
    /// The tag filter asked for.
    pub tags: serde_json::Value,
    pub points: Vec<CustomMetricReading>,
    /// More raw points matched than one answer holds; the newest are returned.
    pub truncated: bool,
    pub summary: CustomMetricSummary,
}

/// One item of `POST /api/v1/ingest/samples` that was not stored, with every problem found in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestRejection {
    /// The item's position in `samples`.
    pub index: usize,
    pub vm_id: Option<String>,
    /// Every problem, joined with `; `.
    pub reason: String,
    pub problems: Vec<String>,
}

/// `data` of a sample batch of which something was accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IngestOutcome {
    /// Items that passed validation.
    pub accepted: usize,
    /// Of those, the ones newly stored.
    pub stored: usize,
    /// Of those, the ones whose (vmId, timestamp) was already stored.
    pub duplicates: usize,
    pub rejected: Vec<IngestRejection>,
}

/// Which tier a custom-metric read came from: raw points, hourly or daily rollups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomMetricResolution {
    Raw,
    Hour,
    Day,
}

impl CustomMetricResolution {
    /// The name on the wire, which is also the rollups' `resolution` and `date_trunc` unit.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomMetricResolution::Raw => "raw",
            CustomMetricResolution::Hour => "hour",
            CustomMetricResolution::Day => "day",
        }
    }
}

/// A raw point (up to 7 days back) or a rollup bucket (longer reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CustomMetricReading {
    Point(CustomMetricPoint),
    Bucket(CustomMetricBucket),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricPoint {
    pub metric_id: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub value: f64,
    pub unit: String,
    pub category: String,
    pub tags: serde_json::Value,
    /// The host's vmId; `null` for a point tied to no host.
    pub host: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricBucket {
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// The bucket's mean.
    pub value: f64,
    pub min: f64,
    pub max: f64,
    pub count: i64,
}

/// Over the returned points; `null` averages and extremes when there are none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomMetricSummary {
    pub count: i64,
    pub avg: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// `data` of `POST /api/v1/agents/enrol`: the per-host token, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentEnrolled {
    pub token: String,
    pub vm_id: String,
}

/// `data` of `POST /api/v1/hosts/{vmId}/reassign`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostReassigned {
    pub vm_id: String,
    pub reassigned: bool,
}

/// `data` of `POST /api/v1/tokens`: the new token's secret, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenCreated {
    pub token: String,
    pub name: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How many times it may be used (enrolment tokens); `null` for unlimited.
    pub uses: Option<i32>,
}

/// `data` of `DELETE /api/v1/tokens/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub id: i32,
    pub revoked: bool,
}
