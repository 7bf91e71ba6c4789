//! The library's typed errors. The binary wraps them with context (anyhow) and
//! prints them as one line; nothing in the library panics on bad input.

use std::path::PathBuf;

/// Everything that can go wrong while finding a GPU, measuring on it or
/// reading and writing results.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter exists on any of the backends that were tried.
    #[error(
        "no GPU adapter found on the backends tried ({tried}). Without a GPU, install a \
         software driver: on Debian or Ubuntu `apt-get install mesa-vulkan-drivers` gives \
         Mesa's lavapipe (Vulkan) and `apt-get install libegl-mesa0 libgl1-mesa-dri` gives \
         llvmpipe (GL); on Debian 12 take them from bookworm-backports (Mesa 25) for f16 \
         and timestamp support. Check with `wgpu-roofline devices`."
    )]
    NoAdapter {
        /// The backends that were asked for, as text.
        tried: String,
    },

    /// Adapters exist, but none matches the `--adapter` filter.
    #[error("no adapter matches `{filter}` on {tried}; available: {available}")]
    AdapterNotFound {
        /// The filter as the user gave it.
        filter: String,
        /// The backends searched.
        tried: String,
        /// The adapters that do exist, with their indices.
        available: String,
    },

    /// The driver refused to create a device.
    #[error("could not open a device on `{adapter}`: {reason}")]
    RequestDevice {
        /// Adapter name.
        adapter: String,
        /// The driver's refusal.
        reason: wgpu::RequestDeviceError,
    },

    /// A size argument is zero or otherwise unusable.
    #[error("{what} must be greater than zero")]
    ZeroSize {
        /// Which size.
        what: &'static str,
    },

    /// A size exceeds one of the adapter's limits (or a kernel's own).
    #[error("{}", exceeds(what, *requested, limit_name, *limit))]
    ExceedsLimit {
        /// Which size.
        what: String,
        /// The requested size in bytes.
        requested: u64,
        /// Name of the limit in wgpu's `Limits`.
        limit_name: &'static str,
        /// The limit's value.
        limit: u64,
    },

    /// A dtype is not supported by the adapter (f16 without SHADER_F16).
    #[error("{dtype} is not supported on `{adapter}`: the adapter lacks {feature}")]
    Unsupported {
        /// The data type asked for.
        dtype: String,
        /// Adapter name.
        adapter: String,
        /// The missing feature.
        feature: &'static str,
    },

    /// A parameter is outside what a kernel supports.
    #[error("{0}")]
    Invalid(String),

    /// The GPU did not finish within the deadline.
    #[error("the GPU did not finish within {seconds} s (stuck device or driver timeout)")]
    Timeout {
        /// The deadline.
        seconds: f64,
    },

    /// The device reported an error while polling.
    #[error("GPU device error: {0}")]
    Device(String),

    /// The device was lost (driver reset, GPU removed, or destroyed).
    #[error("the GPU device was lost ({reason}); what was measured before is kept")]
    DeviceLost {
        /// wgpu's reason and message.
        reason: String,
    },

    /// A validation or out-of-memory error captured from wgpu.
    #[error("wgpu rejected {what}: {message}")]
    Wgpu {
        /// What was being created or run.
        what: String,
        /// wgpu's message.
        message: String,
    },

    /// Every timing sample was nonsense (zero or negative after overhead).
    #[error("every timing sample of {kernel} was zero or negative after subtracting the empty-pass cost; the kernel is too short for the timer")]
    NoValidSamples {
        /// Kernel name.
        kernel: String,
    },

    /// A results or input file could not be read or written.
    #[error("{action} {path}: {reason}")]
    Io {
        /// What was being done ("cannot write", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error (in the message rather than as a source, so the
        /// one-line report does not repeat it).
        reason: std::io::Error,
    },

    /// A run was interrupted (Ctrl-C) before its last op.
    #[error("interrupted")]
    Interrupted,

    /// An error, with what was being done when it happened.
    #[error("{context}: {source}")]
    Context {
        /// What was being done, e.g. `measuring init q B=1 S=128 f32`.
        context: String,
        /// The error.
        source: Box<Error>,
    },

    /// A results file is malformed or of another schema.
    #[error("{path}: not a wgpu-roofline results file: {message}")]
    BadResults {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// "`what` of N bytes exceeds the adapter's LIMIT (M bytes)": bytes for the
/// `*_size` limits, a count for the others; "the adapter's" for wgpu's
/// `max_*` limits, nothing for a kernel's own.
fn exceeds(what: &str, requested: u64, limit_name: &str, limit: u64) -> String {
    let unit = if limit_name.ends_with("_size") || limit_name.contains("range") {
        " bytes"
    } else {
        ""
    };
    let owner = if limit_name.starts_with("max_") {
        "the adapter's "
    } else {
        ""
    };
    format!("{what} of {requested}{unit} exceeds {owner}{limit_name} ({limit}{unit})")
}

impl Error {
    /// This error, with what was being done when it happened.
    pub fn context(self, context: impl Into<String>) -> Self {
        Self::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The error under any added context.
    pub fn root(&self) -> &Error {
        match self {
            Self::Context { source, .. } => source.root(),
            other => other,
        }
    }
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_say_bytes_only_for_sizes() {
        let e = Error::ExceedsLimit {
            what: "stream array".into(),
            requested: 300,
            limit_name: "max_storage_buffer_binding_size",
            limit: 256,
        };
        assert_eq!(
            e.to_string(),
            "stream array of 300 bytes exceeds the adapter's max_storage_buffer_binding_size (256 bytes)"
        );
        let e = Error::ExceedsLimit {
            what: "peak chains".into(),
            requested: 9,
            limit_name: "the shader's MAX_CHAINS",
            limit: 8,
        };
        assert_eq!(
            e.to_string(),
            "peak chains of 9 exceeds the shader's MAX_CHAINS (8)"
        );
        let e = Error::Timeout { seconds: 1.0 }.context("measuring x");
        assert_eq!(
            e.root().to_string(),
            Error::Timeout { seconds: 1.0 }.to_string()
        );
        assert!(e
            .to_string()
            .starts_with("measuring x: the GPU did not finish"));
    }
}
