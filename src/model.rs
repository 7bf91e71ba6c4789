//! Model descriptions: the sizes of a decoder-only transformer that decide
//! the shapes of its matrix products. Built-in presets, or a file: a Hugging
//! Face `config.json` as it is, or a small file of this tool's own with the
//! same field names.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The sizes of one decoder-only transformer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Display name.
    pub name: String,
    /// Model (residual stream) width.
    pub hidden_size: u64,
    /// Query heads.
    pub num_attention_heads: u64,
    /// Key/value heads (fewer than query heads with grouped-query attention).
    pub num_key_value_heads: u64,
    /// Width of one head.
    pub head_dim: u64,
    /// MLP width.
    pub intermediate_size: u64,
    /// Decoder layers.
    pub num_hidden_layers: u64,
    /// Vocabulary size.
    pub vocab_size: u64,
}

/// Names of the built-in models.
pub const PRESETS: [&str; 5] = [
    "llama-7b",
    "llama-13b",
    "llama-2-70b",
    "llama-3-8b",
    "mistral-7b",
];

impl ModelConfig {
    /// A built-in model by name. Sizes from each model's published config.
    pub fn preset(name: &str) -> Result<Self> {
        let m = |hidden, heads, kv, head_dim, inter, layers, vocab| Self {
            name: name.to_string(),
            hidden_size: hidden,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            head_dim,
            intermediate_size: inter,
            num_hidden_layers: layers,
            vocab_size: vocab,
        };
        Ok(match name {
            "llama-7b" => m(4096, 32, 32, 128, 11008, 32, 32000),
            "llama-13b" => m(5120, 40, 40, 128, 13824, 40, 32000),
            "llama-2-70b" => m(8192, 64, 8, 128, 28672, 80, 32000),
            "llama-3-8b" => m(4096, 32, 8, 128, 14336, 32, 128256),
            "mistral-7b" => m(4096, 32, 8, 128, 14336, 32, 32000),
            other => {
                return Err(Error::Invalid(format!(
                    "unknown model `{other}`; built in: {}; or give a config.json file",
                    PRESETS.join(", ")
                )))
            }
        })
    }

    /// A preset name, or else a path to a model file.
    pub fn load(name_or_path: &str) -> Result<Self> {
        let path = Path::new(name_or_path);
        if PRESETS.contains(&name_or_path) || !path.exists() && !name_or_path.contains(['/', '.']) {
            return Self::preset(name_or_path);
        }
        Self::from_file(path)
    }

    /// Read a Hugging Face `config.json` or this tool's own model file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|reason| Error::Io {
            action: "cannot read model file",
            path: path.to_path_buf(),
            reason,
        })?;
        let fallback = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Self::from_json(&text, &fallback)
            .map_err(|e| Error::Invalid(format!("model file {}: {e}", path.display())))
    }

    /// Parse a model description; other fields are ignored.
    pub fn from_json(text: &str, fallback_name: &str) -> std::result::Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON ({e})"))?;
        let obj = v.as_object().ok_or("expected a JSON object")?;
        let field = |key: &str| -> std::result::Result<Option<u64>, String> {
            match obj.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(x) => x.as_u64().map(Some).ok_or_else(|| {
                    format!("field `{key}` must be a non-negative integer, got {x}")
                }),
            }
        };
        let required = |key: &str| -> std::result::Result<u64, String> {
            field(key)?.ok_or_else(|| format!("missing field `{key}`"))
        };
        let hidden = required("hidden_size")?;
        let heads = required("num_attention_heads")?;
        let kv = field("num_key_value_heads")?.unwrap_or(heads);
        let name = obj
            .get("name")
            .or_else(|| obj.get("_name_or_path"))
            .and_then(|n| n.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(fallback_name)
            .to_string();
        let head_dim_given = field("head_dim")?;
        let head_dim = match head_dim_given {
            Some(d) => d,
            None if heads > 0 => hidden / heads,
            None => 0,
        };
        let m = Self {
            name,
            hidden_size: hidden,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            head_dim,
            intermediate_size: required("intermediate_size")?,
            num_hidden_layers: required("num_hidden_layers")?,
            vocab_size: required("vocab_size")?,
        };
        m.validate(head_dim_given.is_some())?;
        Ok(m)
    }

    /// Largest value any size field may take (2^24).
    pub const MAX_SIZE: u64 = 1 << 24;

    /// Check sizes: all positive and at most [`Self::MAX_SIZE`], heads
    /// divisible by KV heads, and, where the
    /// head width is derived, heads x head_dim = hidden_size.
    pub fn validate(&self, head_dim_given: bool) -> std::result::Result<(), String> {
        for (key, v) in [
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("vocab_size", self.vocab_size),
        ] {
            if v == 0 {
                return Err(format!("field `{key}` must be greater than zero"));
            }
            if v > Self::MAX_SIZE {
                return Err(format!(
                    "field `{key}` ({v}) is larger than {} (no transformer is this large; the op counts would overflow)",
                    Self::MAX_SIZE
                ));
            }
        }
        if !head_dim_given && self.num_attention_heads * self.head_dim != self.hidden_size {
            return Err(format!(
                "field `num_attention_heads` ({}) does not divide `hidden_size` ({}); give `head_dim`",
                self.num_attention_heads, self.hidden_size
            ));
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return Err(format!(
                "field `num_attention_heads` ({}) is not a multiple of `num_key_value_heads` ({})",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        Ok(())
    }

    /// Width of all query heads together.
    pub fn q_width(&self) -> u64 {
        self.num_attention_heads * self.head_dim
    }

    /// Width of all key (or value) heads together.
    pub fn kv_width(&self) -> u64 {
        self.num_key_value_heads * self.head_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets() {
        let m = ModelConfig::preset("llama-7b").unwrap();
        assert_eq!(
            (
                m.hidden_size,
                m.num_attention_heads,
                m.num_key_value_heads,
                m.head_dim
            ),
            (4096, 32, 32, 128)
        );
        assert_eq!(
            (m.intermediate_size, m.num_hidden_layers, m.vocab_size),
            (11008, 32, 32000)
        );
        let g = ModelConfig::preset("llama-3-8b").unwrap();
        assert_eq!(
            (g.num_key_value_heads, g.kv_width(), g.intermediate_size),
            (8, 1024, 14336)
        );
        for p in PRESETS {
            let m = ModelConfig::preset(p).unwrap();
            m.validate(false).unwrap();
        }
        assert!(ModelConfig::preset("gpt-5")
            .unwrap_err()
            .to_string()
            .contains("unknown model"));
    }

    #[test]
    fn hugging_face_config_as_is() {
        let text = r#"{
            "architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
            "intermediate_size": 14336, "num_attention_heads": 32,
            "num_hidden_layers": 32, "num_key_value_heads": 8,
            "rope_theta": 500000.0, "torch_dtype": "bfloat16", "vocab_size": 128256
        }"#;
        let m = ModelConfig::from_json(text, "config").unwrap();
        assert_eq!(m.head_dim, 128);
        assert_eq!(m.kv_width(), 1024);
        assert_eq!(m.name, "config");
    }

    #[test]
    fn own_format_with_explicit_head_dim() {
        let text = r#"{"name": "tiny", "hidden_size": 96, "num_attention_heads": 4,
            "num_key_value_heads": 2, "head_dim": 32, "intermediate_size": 256,
            "num_hidden_layers": 2, "vocab_size": 1000}"#;
        let m = ModelConfig::from_json(text, "x").unwrap();
        assert_eq!(
            (m.name.as_str(), m.q_width(), m.kv_width()),
            ("tiny", 128, 64)
        );
    }

    #[test]
    fn invalid_descriptions_name_the_field() {
        let base = r#""hidden_size": 4096, "num_attention_heads": 32, "intermediate_size": 11008, "num_hidden_layers": 32, "vocab_size": 32000"#;
        let obj = |s: &str| format!("{{{s}}}");
        let cases: Vec<(String, &str)> = vec![
            ("{".into(), "invalid JSON"),
            ("[]".into(), "expected a JSON object"),
            (
                r#"{"hidden_size": 4096}"#.into(),
                "missing field `num_attention_heads`",
            ),
            (
                obj(&format!("{base}, \"num_key_value_heads\": 5")),
                "not a multiple of `num_key_value_heads`",
            ),
            (
                obj(&format!("{base}, \"num_key_value_heads\": 0")),
                "`num_key_value_heads` must be greater than zero",
            ),
            (
                obj(&base.replace("4096", "4100")),
                "does not divide `hidden_size`",
            ),
            (
                obj(&base.replace("11008", "-1")),
                "`intermediate_size` must be a non-negative integer",
            ),
            (
                obj(&base.replace("32000", "0")),
                "`vocab_size` must be greater than zero",
            ),
        ];
        for (text, want) in cases {
            let e = ModelConfig::from_json(&text, "x").unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
