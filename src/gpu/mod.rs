//! Finding adapters and opening a device on one of them.
//!
//! Every measuring command goes through [`GpuContext::open`]: it enumerates the
//! adapters of the chosen backends, picks one (by filter, or the most capable
//! kind of device), and creates the device with the adapter's own limits and
//! every optional feature this suite can use that the adapter has. The open
//! context carries its [`Capabilities`], its pipeline cache, and the waits
//! that turn stuck or lost devices into errors.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

mod buffers;
mod caps;
mod pipeline;

use serde::{Deserialize, Serialize};

pub use buffers::range;
pub use caps::{
    feature_names, needs_experimental, wanted_features, AdapterSummary, Capabilities,
    CoopMatrixShape, KeyLimits, TimestampTier,
};
pub use pipeline::{Binding, PipelineCache};

use crate::error::{Error, Result};

/// Which graphics API to measure through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// Every backend compiled in; the best device kind wins.
    Auto,
    /// Vulkan (lavapipe on machines without a GPU).
    Vulkan,
    /// OpenGL / GLES through EGL (llvmpipe on machines without a GPU).
    Gl,
    /// Apple's Metal.
    Metal,
    /// Direct3D 12.
    Dx12,
}

impl BackendChoice {
    /// Each single backend, in the order `--backend all` and the benches
    /// visit them.
    pub const EACH: [BackendChoice; 4] = [Self::Vulkan, Self::Gl, Self::Metal, Self::Dx12];

    /// The choice named on the command line and in results files
    /// (`vulkan`, `gl`, `metal`, `dx12`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::EACH
            .into_iter()
            .find(|c| c.single().map(backend_name) == Some(name))
    }

    /// The wgpu backend set this choice enumerates.
    pub fn backends(self) -> wgpu::Backends {
        match self {
            Self::Auto => wgpu::Backends::all() - wgpu::Backends::BROWSER_WEBGPU,
            Self::Vulkan => wgpu::Backends::VULKAN,
            Self::Gl => wgpu::Backends::GL,
            Self::Metal => wgpu::Backends::METAL,
            Self::Dx12 => wgpu::Backends::DX12,
        }
    }

    /// Human-readable list of the backends tried, for error messages.
    pub fn describe(self) -> String {
        match self {
            Self::Auto => "Vulkan, Metal, DX12 and GL".to_string(),
            other => backend_name(other.single().expect("not auto")).to_string(),
        }
    }

    fn single(self) -> Option<wgpu::Backend> {
        match self {
            Self::Auto => None,
            Self::Vulkan => Some(wgpu::Backend::Vulkan),
            Self::Gl => Some(wgpu::Backend::Gl),
            Self::Metal => Some(wgpu::Backend::Metal),
            Self::Dx12 => Some(wgpu::Backend::Dx12),
        }
    }
}

/// Short lowercase name of a backend, as used on the command line and in results.
pub fn backend_name(backend: wgpu::Backend) -> &'static str {
    match backend {
        wgpu::Backend::Vulkan => "vulkan",
        wgpu::Backend::Gl => "gl",
        wgpu::Backend::Metal => "metal",
        wgpu::Backend::Dx12 => "dx12",
        wgpu::Backend::BrowserWebGpu => "webgpu",
        wgpu::Backend::Noop => "noop",
    }
}

/// Short name of a device type, as used in results.
pub fn device_type_name(ty: wgpu::DeviceType) -> &'static str {
    match ty {
        wgpu::DeviceType::DiscreteGpu => "discrete_gpu",
        wgpu::DeviceType::IntegratedGpu => "integrated_gpu",
        wgpu::DeviceType::VirtualGpu => "virtual_gpu",
        wgpu::DeviceType::Cpu => "cpu",
        wgpu::DeviceType::Other => "other",
    }
}

/// How `--adapter` picks among the enumerated adapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterFilter {
    /// Position in the list `wgpu-roofline devices --backend B` prints.
    Index(usize),
    /// Case-insensitive substring of the adapter's name.
    Name(String),
}

impl FromStr for AdapterFilter {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(i) => Self::Index(i),
            Err(_) => Self::Name(s.to_string()),
        })
    }
}

impl fmt::Display for AdapterFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Index(i) => write!(f, "index {i}"),
            Self::Name(n) => write!(f, "{n}"),
        }
    }
}

/// A wgpu instance for the chosen backends. GL adapters are only enumerated
/// when GL is asked for (or `auto`), since probing EGL is slow.
pub fn instance(choice: BackendChoice) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = choice.backends();
    wgpu::Instance::new(desc)
}

/// All adapters of the chosen backends, in enumeration order.
pub fn enumerate(choice: BackendChoice) -> Vec<wgpu::Adapter> {
    let inst = instance(choice);
    let mut adapters = pollster::block_on(inst.enumerate_adapters(choice.backends()));
    if let Some(b) = choice.single() {
        adapters.retain(|a| a.get_info().backend == b);
    }
    adapters
}

/// Preference rank of a device type: a discrete GPU over an integrated one
/// over a virtual one over a CPU adapter.
fn type_rank(ty: wgpu::DeviceType) -> u8 {
    match ty {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Among equal device types, the native modern APIs come before GL.
fn backend_rank(b: wgpu::Backend) -> u8 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    }
}

/// Pick one adapter out of `adapters`, consuming the list; returns its index too.
pub fn select(
    mut adapters: Vec<wgpu::Adapter>,
    choice: BackendChoice,
    filter: Option<&AdapterFilter>,
) -> Result<(usize, wgpu::Adapter)> {
    if adapters.is_empty() {
        return Err(Error::NoAdapter {
            tried: choice.describe(),
        });
    }
    let position = match filter {
        None => (0..adapters.len())
            .min_by_key(|&i| {
                let info = adapters[i].get_info();
                (type_rank(info.device_type), backend_rank(info.backend), i)
            })
            .expect("non-empty"),
        Some(AdapterFilter::Index(i)) if *i < adapters.len() => *i,
        Some(AdapterFilter::Name(n)) => {
            let needle = n.to_lowercase();
            match adapters
                .iter()
                .position(|a| a.get_info().name.to_lowercase().contains(&needle))
            {
                Some(p) => p,
                None => return Err(not_found(&adapters, choice, filter)),
            }
        }
        Some(AdapterFilter::Index(_)) => return Err(not_found(&adapters, choice, filter)),
    };
    Ok((position, adapters.swap_remove(position)))
}

fn not_found(
    adapters: &[wgpu::Adapter],
    choice: BackendChoice,
    filter: Option<&AdapterFilter>,
) -> Error {
    let available = adapters
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let info = a.get_info();
            format!("[{i}] {} ({})", info.name, backend_name(info.backend))
        })
        .collect::<Vec<_>>()
        .join(", ");
    Error::AdapterNotFound {
        filter: filter.map(|f| f.to_string()).unwrap_or_default(),
        tried: choice.describe(),
        available,
    }
}

/// A device on every adapter of the Vulkan, GL, Metal and DX12 backends, in
/// that order and in `enumerate` order within each; an adapter that cannot
/// be opened gives its error in its place. What the benches measure.
pub fn open_every() -> Vec<Result<GpuContext>> {
    BackendChoice::EACH
        .into_iter()
        .flat_map(|choice| {
            enumerate(choice)
                .iter()
                .enumerate()
                .map(|(i, a)| GpuContext::from_adapter(i, a))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An open device plus what was asked of it.
pub struct GpuContext {
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The adapter it was opened on, described.
    pub adapter: AdapterSummary,
    /// The features requested (and granted) at device creation.
    pub features: wgpu::Features,
    /// What the device can do, its limits included.
    pub caps: Capabilities,
    /// Longest any single wait on the GPU may take before it is an error.
    pub deadline: Duration,
    /// Whether shader modules keep wgpu's runtime checks (bounds checks,
    /// loop bounding); off by default, since every kernel is verified.
    pub shader_checks: bool,
    /// Modules and pipelines built on this device.
    pipelines: PipelineCache,
    /// Set by wgpu's device-lost callback: why the device was lost.
    lost: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// Milliseconds since [`epoch`] at the last completed wait (see
    /// [`Self::watchdog`]).
    heartbeat: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The first wgpu error raised outside an error scope (wgpu's default
    /// handler would panic), reported by the next [`Self::wait`].
    uncaptured: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl GpuContext {
    /// Default deadline for one wait on the GPU.
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);

    /// Enumerate, select and open in one step.
    pub fn open(choice: BackendChoice, filter: Option<&AdapterFilter>) -> Result<Self> {
        let (index, adapter) = select(enumerate(choice), choice, filter)?;
        Self::from_adapter(index, &adapter)
    }

    /// Open a device on `adapter` with its own limits and the wanted optional
    /// features it has (`adapter.features() & wanted_features()`).
    pub fn from_adapter(index: usize, adapter: &wgpu::Adapter) -> Result<Self> {
        Self::with_limits(index, adapter, adapter.limits())
    }

    /// As [`Self::from_adapter`], with `limits` instead of the adapter's own
    /// (each at most the adapter's): tests use small limits to reach the
    /// edges of bindings and dispatches with small buffers.
    pub fn with_limits(
        index: usize,
        adapter: &wgpu::Adapter,
        limits: wgpu::Limits,
    ) -> Result<Self> {
        let summary = AdapterSummary::of(index, adapter);
        let features = adapter.features() & wanted_features();
        let caps = Capabilities::new(&summary, features, limits.clone());
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("wgpu-roofline"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: if needs_experimental(features) {
                // SAFETY: the only experimental feature requested is
                // cooperative matrices, used by the cooperative kernels alone,
                // whose every result is verified against the host.
                unsafe { wgpu::ExperimentalFeatures::enabled() }
            } else {
                wgpu::ExperimentalFeatures::disabled()
            },
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|reason| Error::RequestDevice {
            adapter: summary.name.clone(),
            reason,
        })?;
        let lost = std::sync::Arc::new(std::sync::Mutex::new(None));
        let flag = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut l) = flag.lock() {
                *l = Some(format!("{reason:?}: {message}"));
            }
        });
        let uncaptured = std::sync::Arc::new(std::sync::Mutex::new(None));
        let slot = uncaptured.clone();
        device.on_uncaptured_error(std::sync::Arc::new(move |e: wgpu::Error| {
            if let Ok(mut s) = slot.lock() {
                s.get_or_insert_with(|| first_line(&e.to_string()));
            }
        }));
        Ok(Self {
            device,
            queue,
            adapter: summary,
            features,
            caps,
            deadline: Self::DEFAULT_DEADLINE,
            shader_checks: false,
            pipelines: PipelineCache::default(),
            lost,
            uncaptured,
            heartbeat: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(now_ms())),
        })
    }

    /// Whether the device was opened with `f`.
    pub fn has(&self, f: wgpu::Features) -> bool {
        self.features.contains(f)
    }

    /// Record progress now (the watchdog measures from the last beat).
    fn beat(&self) {
        self.heartbeat
            .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Start a thread that calls `on_stall` (once) when no wait on this
    /// device has completed for longer than the deadline. A driver that
    /// executes submissions inside `submit` (lavapipe, llvmpipe's GL) blocks
    /// there, where no poll timeout can help; the watchdog bounds that too.
    /// The thread ends with the context.
    pub fn watchdog(&self, on_stall: impl FnOnce(Duration) + Send + 'static) {
        let beat = std::sync::Arc::downgrade(&self.heartbeat);
        let deadline = self.deadline;
        let tick = (deadline / 20).clamp(Duration::from_millis(1), Duration::from_millis(200));
        self.beat();
        std::thread::spawn(move || loop {
            std::thread::sleep(tick);
            let Some(last) = beat.upgrade() else {
                return;
            };
            let idle = now_ms().saturating_sub(last.load(std::sync::atomic::Ordering::Relaxed));
            if Duration::from_millis(idle) > deadline {
                on_stall(deadline);
                return;
            }
        });
    }

    /// Why the device was lost, if it was.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    /// Block until all submitted work is done, or fail after the deadline
    /// or when the device is lost.
    pub fn wait(&self) -> Result<()> {
        let polled = self.device.poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: Some(self.deadline),
        });
        if let Some(reason) = self.lost() {
            return Err(Error::DeviceLost { reason });
        }
        if polled.is_ok() {
            self.beat();
        }
        if let Some(message) = self.uncaptured.lock().ok().and_then(|mut s| s.take()) {
            return Err(Error::Device(message));
        }
        match polled {
            Ok(_) => Ok(()),
            Err(wgpu::PollError::Timeout) => Err(Error::Timeout {
                seconds: self.deadline.as_secs_f64(),
            }),
            Err(e) => Err(Error::Device(e.to_string())),
        }
    }

    /// Check that a storage binding of `bytes` fits the device's limits.
    pub fn check_binding(&self, what: &str, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Err(Error::ZeroSize {
                what: "buffer size",
            });
        }
        let binding = self.caps.limits.max_storage_buffer_binding_size;
        if bytes > binding {
            return Err(Error::ExceedsLimit {
                what: what.to_string(),
                requested: bytes,
                limit_name: "max_storage_buffer_binding_size",
                limit: binding,
            });
        }
        self.check_buffer(what, bytes)
    }

    /// Check that a buffer of `bytes` fits `max_buffer_size`.
    pub fn check_buffer(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self.caps.limits.max_buffer_size;
        if bytes > limit {
            return Err(Error::ExceedsLimit {
                what: what.to_string(),
                requested: bytes,
                limit_name: "max_buffer_size",
                limit,
            });
        }
        Ok(())
    }

    /// Run `f` inside validation, out-of-memory and internal error scopes
    /// and turn any captured error into [`Error::Wgpu`], instead of wgpu's
    /// default panic; a device lost meanwhile is [`Error::DeviceLost`]
    /// (wgpu loses the device when a driver fails to compile a pipeline).
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        let i = pollster::block_on(internal.pop());
        if let Some(reason) = self.lost() {
            return Err(Error::DeviceLost {
                reason: format!("{what}: {reason}"),
            });
        }
        match v.or(o).or(i) {
            None => Ok(value),
            Some(e) => Err(Error::Wgpu {
                what: what.to_string(),
                message: first_line(&e.to_string()),
            }),
        }
    }

    /// Compile WGSL, with or without wgpu's runtime checks (bounds checks and
    /// loop bounding). Unchecked modules are only used for kernels whose
    /// output is verified on every run.
    pub fn shader(&self, label: &str, source: &str, checked: bool) -> Result<wgpu::ShaderModule> {
        let checks = if checked {
            wgpu::ShaderRuntimeChecks::checked()
        } else {
            wgpu::ShaderRuntimeChecks::unchecked()
        };
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        };
        // SAFETY: unchecked modules skip bounds checks and loop bounding. Every
        // kernel of this crate indexes within the sizes it dispatches and has
        // bounded loops, and every measured run verifies the kernel's output.
        self.scoped(&format!("shader `{label}`"), || unsafe {
            self.device.create_shader_module_trusted(desc, checks)
        })
    }

    /// Read back `bytes` bytes of a MAP_READ buffer, bounded by the deadline.
    pub fn read_mapped(&self, buffer: &wgpu::Buffer) -> Result<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        match rx.recv_timeout(self.deadline) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Device(format!("buffer mapping failed: {e}"))),
            Err(_) => {
                return Err(Error::Timeout {
                    seconds: self.deadline.as_secs_f64(),
                })
            }
        }
        let data = buffer
            .get_mapped_range(..)
            .map_err(|e| Error::Device(format!("buffer mapping failed: {e}")))?
            .to_vec();
        buffer.unmap();
        Ok(data)
    }

    /// Copy `size` bytes at `offset` of a storage buffer to the host.
    pub fn read_buffer(&self, src: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src, offset, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        self.read_mapped(&staging)
    }
}

/// Milliseconds since the first call: the watchdog's clock.
fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
