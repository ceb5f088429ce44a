//! Figures about the machine and the host process (CPU, memory, disks, network), read
//! with `sysinfo`. Plugins see them through the WIT `system` interface; the scout agent's
//! `system/metrics` route and `/health/detailed` serve them directly.

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use sysinfo::{Disks, Networks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Processor figures.
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    /// Busy share of all cores since the previous sample, 0-100.
    pub usage_percent: f32,
    /// Logical cores.
    pub cores: u32,
    /// 1, 5, 15 minute load averages.
    pub load_average: (f64, f64, f64),
}

/// Memory figures in bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Installed.
    pub total_bytes: u64,
    /// In use.
    pub used_bytes: u64,
    /// Available for new allocations.
    pub available_bytes: u64,
    /// Resident memory of this process.
    pub host_process_bytes: u64,
}

/// One mounted filesystem.
#[derive(Debug, Clone, Serialize)]
pub struct Disk {
    /// Mount point.
    pub mount_point: String,
    /// Size in bytes.
    pub total_bytes: u64,
    /// Available bytes.
    pub available_bytes: u64,
}

/// Network counters since boot.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    /// Bytes received.
    pub received_bytes: u64,
    /// Bytes sent.
    pub transmitted_bytes: u64,
}

/// Samples the machine on demand. CPU usage is measured between consecutive samples, so
/// the sampler keeps its `System` between calls.
pub struct Sampler {
    system: Mutex<System>,
    pid: Option<Pid>,
    started: Instant,
}

/// Filesystems that say nothing about storage.
const PSEUDO_FS: &[&str] = &[
    "tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs", "cgroup", "cgroup2", "nsfs",
];

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    /// A sampler; the first CPU figure is measured from this moment.
    pub fn new() -> Sampler {
        let mut system = System::new();
        system.refresh_cpu_usage();
        Sampler {
            system: Mutex::new(system),
            pid: sysinfo::get_current_pid().ok(),
            started: Instant::now(),
        }
    }

    fn with_system<T>(&self, f: impl FnOnce(&mut System) -> T) -> T {
        let mut system = match self.system.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut system)
    }

    /// Current processor figures.
    pub fn cpu(&self) -> Cpu {
        self.with_system(|s| {
            s.refresh_cpu_usage();
            let load = System::load_average();
            Cpu {
                usage_percent: s.global_cpu_usage(),
                cores: s.cpus().len() as u32,
                load_average: (load.one, load.five, load.fifteen),
            }
        })
    }

    /// Current memory figures.
    pub fn memory(&self) -> Memory {
        let pid = self.pid;
        self.with_system(|s| {
            s.refresh_memory();
            let host_process_bytes = pid
                .map(|pid| {
                    s.refresh_processes_specifics(
                        ProcessesToUpdate::Some(&[pid]),
                        false,
                        ProcessRefreshKind::nothing().with_memory(),
                    );
                    s.process(pid).map(|p| p.memory()).unwrap_or(0)
                })
                .unwrap_or(0);
            Memory {
                total_bytes: s.total_memory(),
                used_bytes: s.used_memory(),
                available_bytes: s.available_memory(),
                host_process_bytes,
            }
        })
    }

    /// Mounted filesystems, pseudo filesystems and duplicates excluded.
    pub fn disks(&self) -> Vec<Disk> {
        let disks = Disks::new_with_refreshed_list();
        let mut out: Vec<Disk> = disks
            .list()
            .iter()
            .filter(|d| {
                let fs = d.file_system().to_string_lossy();
                !PSEUDO_FS.contains(&fs.as_ref()) && d.total_space() > 0
            })
            .map(|d| Disk {
                mount_point: d.mount_point().display().to_string(),
                total_bytes: d.total_space(),
                available_bytes: d.available_space(),
            })
            .collect();
        out.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
        out.dedup_by(|a, b| a.mount_point == b.mount_point);
        out
    }

    /// Network counters summed over all interfaces.
    pub fn network(&self) -> Network {
        let networks = Networks::new_with_refreshed_list();
        let (rx, tx) = networks.iter().fold((0u64, 0u64), |(rx, tx), (_, n)| {
            (rx + n.total_received(), tx + n.total_transmitted())
        });
        Network {
            received_bytes: rx,
            transmitted_bytes: tx,
        }
    }

    /// Seconds since this sampler (the host) started.
    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_plausible_figures_for_this_machine() {
        let sampler = Sampler::new();
        let cpu = sampler.cpu();
        assert!(cpu.cores >= 1);
        assert!((0.0..=100.0).contains(&cpu.usage_percent));
        let mem = sampler.memory();
        assert!(mem.total_bytes > 0 && mem.used_bytes <= mem.total_bytes);
        assert!(
            mem.host_process_bytes > 0,
            "the test process has resident memory"
        );
        assert!(
            sampler
                .disks()
                .iter()
                .all(|d| d.available_bytes <= d.total_bytes)
        );
    }
}
