//! The host's [`SystemFigures`]: figures about the machine and the host process (CPU,
//! memory, disks, network), read with `sysinfo` by one background thread every
//! [`SAMPLE_INTERVAL`]. Readers (plugins through the WIT `system` interface, the server's
//! scout agent `system/metrics` route and `/health/detailed`, `sanctuary plugin check`)
//! get the latest sample: no request ever reads `/proc` or the mount table itself or waits
//! on a lock held across such a read.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use sysinfo::{Disks, Networks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// How often the background thread samples the machine.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(1000);

use super::{Cpu, Disk, Memory, Network, SystemFigures};

/// The latest figures, replaced whole by each sample.
#[derive(Debug, Clone)]
struct Figures {
    cpu: Cpu,
    memory: Memory,
    disks: Vec<Disk>,
    network: Network,
}

/// Samples the machine in the background and serves the latest sample. CPU usage is
/// measured between consecutive samples.
pub struct Sampler {
    latest: Arc<RwLock<Arc<Figures>>>,
    started: Instant,
    /// Dropped with the sampler: the background thread sees it gone and stops.
    _alive: Arc<()>,
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

/// What the background thread keeps between samples.
struct Reader {
    system: System,
    disks: Disks,
    networks: Networks,
    pid: Option<Pid>,
}

impl Reader {
    fn new() -> Reader {
        let mut system = System::new();
        system.refresh_cpu_usage();
        Reader {
            system,
            disks: Disks::new_with_refreshed_list(),
            networks: Networks::new_with_refreshed_list(),
            pid: sysinfo::get_current_pid().ok(),
        }
    }

    fn sample(&mut self, refresh_lists: bool) -> Figures {
        let s = &mut self.system;
        s.refresh_cpu_usage();
        s.refresh_memory();
        let load = System::load_average();
        let cpu = Cpu {
            usage_percent: s.global_cpu_usage(),
            cores: s.cpus().len() as u32,
            load_average: (load.one, load.five, load.fifteen),
        };
        let host_process_bytes = self
            .pid
            .map(|pid| {
                s.refresh_processes_specifics(
                    ProcessesToUpdate::Some(&[pid]),
                    false,
                    ProcessRefreshKind::nothing().with_memory(),
                );
                s.process(pid).map(|p| p.memory()).unwrap_or(0)
            })
            .unwrap_or(0);
        let memory = Memory {
            total_bytes: s.total_memory(),
            used_bytes: s.used_memory(),
            available_bytes: s.available_memory(),
            host_process_bytes,
        };
        // Disks and interfaces that went away are dropped now and then, not every round.
        self.disks.refresh(refresh_lists);
        self.networks.refresh(refresh_lists);
        let mut disks: Vec<Disk> = self
            .disks
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
        disks.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
        disks.dedup_by(|a, b| a.mount_point == b.mount_point);
        let (rx, tx) = self.networks.iter().fold((0u64, 0u64), |(rx, tx), (_, n)| {
            (rx + n.total_received(), tx + n.total_transmitted())
        });
        Figures {
            cpu,
            memory,
            disks,
            network: Network {
                received_bytes: rx,
                transmitted_bytes: tx,
            },
        }
    }
}

impl Sampler {
    /// A sampler with a first sample taken now and a background thread refreshing it
    /// every [`SAMPLE_INTERVAL`] until the sampler is dropped.
    pub fn new() -> Sampler {
        Sampler::every(SAMPLE_INTERVAL)
    }

    /// [`Sampler::new`] sampling every `interval`.
    pub fn every(interval: Duration) -> Sampler {
        let mut reader = Reader::new();
        let latest = Arc::new(RwLock::new(Arc::new(reader.sample(false))));
        let alive = Arc::new(());
        let watch: Weak<()> = Arc::downgrade(&alive);
        let target = latest.clone();
        let spawned = std::thread::Builder::new()
            .name("sanctuary-system-sampler".into())
            .spawn(move || {
                let mut round: u64 = 0;
                loop {
                    std::thread::sleep(interval);
                    if watch.upgrade().is_none() {
                        return;
                    }
                    round += 1;
                    let figures = Arc::new(reader.sample(round.is_multiple_of(30)));
                    match target.write() {
                        Ok(mut guard) => *guard = figures,
                        Err(poisoned) => *poisoned.into_inner() = figures,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(cause = %e, "cannot start the system sampler; figures stay at the first sample");
        }
        Sampler {
            latest,
            started: Instant::now(),
            _alive: alive,
        }
    }

    fn latest(&self) -> Arc<Figures> {
        match self.latest.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Processor figures of the latest sample.
    pub fn cpu(&self) -> Cpu {
        self.latest().cpu.clone()
    }

    /// Memory figures of the latest sample.
    pub fn memory(&self) -> Memory {
        self.latest().memory.clone()
    }

    /// Mounted filesystems of the latest sample, pseudo filesystems and duplicates
    /// excluded.
    pub fn disks(&self) -> Vec<Disk> {
        self.latest().disks.clone()
    }

    /// Network counters of the latest sample, summed over all interfaces.
    pub fn network(&self) -> Network {
        self.latest().network.clone()
    }

    /// Seconds since this sampler (the host) started.
    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

impl SystemFigures for Sampler {
    fn cpu(&self) -> Cpu {
        Sampler::cpu(self)
    }
    fn memory(&self) -> Memory {
        Sampler::memory(self)
    }
    fn disks(&self) -> Vec<Disk> {
        Sampler::disks(self)
    }
    fn network(&self) -> Network {
        Sampler::network(self)
    }
    fn uptime_seconds(&self) -> f64 {
        Sampler::uptime_seconds(self)
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
