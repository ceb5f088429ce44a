//! Figures about the machine and the host process that plugins read through the WIT
//! `system` interface. A call does not read them itself: the host hands the runtime a
//! [`SystemFigures`] (usually a [`Sampler`], which samples in the background), so a call
//! never reads `/proc`.

use serde::Serialize;

mod sampler;

pub use sampler::{SAMPLE_INTERVAL, Sampler};

/// Processor figures.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Network {
    /// Bytes received.
    pub received_bytes: u64,
    /// Bytes sent.
    pub transmitted_bytes: u64,
}

/// The latest machine figures. Implementations answer from memory, never blocking.
pub trait SystemFigures: Send + Sync {
    /// Processor figures.
    fn cpu(&self) -> Cpu;
    /// Memory figures.
    fn memory(&self) -> Memory;
    /// Mounted filesystems.
    fn disks(&self) -> Vec<Disk>;
    /// Network counters.
    fn network(&self) -> Network;
    /// Seconds since the host process started.
    fn uptime_seconds(&self) -> f64;
}
