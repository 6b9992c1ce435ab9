//! NVIDIA GPUs through NVML, loaded at run time: where the library (the driver's
//! `libnvidia-ml.so`) is missing, the collector stays off — logged once, never an error per tick.
use app::models::GpuStats;
use nvml_wrapper::{enum_wrappers::device::TemperatureSensor, Nvml};

pub struct Gpus {
    nvml: Nvml,
    count: u32,
}

impl Gpus {
    /// `Err` says why there are no GPU metrics (no driver, no device), for one log line.
    pub fn new() -> Result<Self, String> {
        let nvml = Nvml::init().map_err(|e| format!("NVML is not available ({e})"))?;
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML cannot count devices ({e})"))?;
        if count == 0 {
            return Err("NVML reports no GPU".into());
        }
        Ok(Gpus { nvml, count })
    }

    /// One reading per GPU; a value the device does not support is 0 (NVML answers
    /// `NotSupported` for, e.g., power on some boards).
    pub fn sample(&self) -> Vec<GpuStats> {
        (0..self.count)
            .filter_map(|index| {
                let device = self.nvml.device_by_index(index).ok()?;
                let memory = device.memory_info().ok();
                Some(GpuStats {
                    index,
                    name: device.name().unwrap_or_default(),
                    utilization_percent: device
                        .utilization_rates()
                        .map_or(0.0, |u| f64::from(u.gpu)),
                    memory_used_bytes: memory.as_ref().map_or(0, |m| m.used),
                    memory_total_bytes: memory.as_ref().map_or(0, |m| m.total),
                    temperature_celsius: device
                        .temperature(TemperatureSensor::Gpu)
                        .map_or(0.0, f64::from),
                    power_watts: device
                        .power_usage()
                        .map_or(0.0, |mw| f64::from(mw) / 1000.0),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_a_driver_the_collector_is_off_with_a_reason() {
        // No NVIDIA driver on the build machines: `new` must say so, not panic.
        if std::path::Path::new("/proc/driver/nvidia").exists() {
            return;
        }
        let reason = super::Gpus::new().err().expect("no GPUs here");
        assert!(reason.contains("NVML"), "{reason}");
    }
}
