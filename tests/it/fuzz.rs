//! Property-based fuzzing of the two parsers that read files users hand the
//! tool: results files (plot, compare, report, run --resume) and model
//! configs (run --model). Whatever the bytes, they return a value or an
//! error, never panic; a model they accept can be planned without
//! overflow. Crashes found here are kept below as regression tests (and
//! proptest replays its saved seeds from `proptest-regressions/`).

use std::path::Path;

use proptest::prelude::*;
use wgpu_roofline::kernels::DType;
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::{self, Sweep};
use wgpu_roofline::results::ResultsFile;

fn fixture() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/run-small.json"
    ))
    .unwrap()
}

/// Parse a model and, when it parses, plan the full sweep with it.
fn model_round_trip(text: &str) {
    if let Ok(m) = ModelConfig::from_json(text, "fuzz") {
        let _ = plan::plan(&m, &Sweep::full(vec![DType::F32, DType::F16]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn results_parser_never_panics_on_any_text(s in "\\PC{0,400}") {
        let _ = ResultsFile::from_json(Path::new("fuzz.json"), &s);
    }

    #[test]
    fn results_parser_never_panics_on_a_damaged_file(
        cut in 0usize..60_000,
        at in 0usize..60_000,
        byte in any::<u8>(),
    ) {
        let mut bytes = fixture().into_bytes();
        let n = bytes.len();
        bytes[at % n] = byte;
        bytes.truncate(n - cut % n);
        let text = String::from_utf8_lossy(&bytes);
        let _ = ResultsFile::from_json(Path::new("fuzz.json"), &text);
    }

    #[test]
    fn results_parser_never_panics_on_swapped_values(
        field in prop::sample::select(vec![
            "schema_version", "m", "n", "k", "batch", "flops", "bytes", "median_s",
            "samples_s", "dtype", "series", "phase", "kernel", "timer", "points",
        ]),
        value in prop::sample::select(vec![
            "0", "-1", "1e308", "null", "\"x\"", "[]", "{}", "18446744073709551615", "true",
        ]),
    ) {
        let text = fixture();
        let key = format!("\"{field}\":");
        if let Some(i) = text.find(&key) {
            let start = i + key.len();
            let end = text[start..]
                .find([',', '\n'])
                .map_or(text.len(), |e| start + e);
            let damaged = format!("{} {value}{}", &text[..start], &text[end..]);
            let _ = ResultsFile::from_json(Path::new("fuzz.json"), &damaged);
        }
    }

    #[test]
    fn model_parser_never_panics_and_accepted_models_plan(
        hidden in prop::sample::select(vec![0u64, 1, 3, 64, 4096, 1 << 20, 1 << 40, u64::MAX]),
        heads in prop::sample::select(vec![0u64, 1, 3, 32, 1 << 20, u64::MAX]),
        kv in prop::option::of(prop::sample::select(vec![0u64, 1, 8, 33, u64::MAX])),
        inter in prop::sample::select(vec![0u64, 1, 11008, 1 << 40, u64::MAX]),
        head_dim in prop::option::of(prop::sample::select(vec![0u64, 4, 128, 130, 1 << 33])),
    ) {
        let mut obj = serde_json::json!({
            "hidden_size": hidden,
            "num_attention_heads": heads,
            "intermediate_size": inter,
            "num_hidden_layers": 32,
            "vocab_size": 32000,
        });
        if let Some(kv) = kv {
            obj["num_key_value_heads"] = kv.into();
        }
        if let Some(d) = head_dim {
            obj["head_dim"] = d.into();
        }
        model_round_trip(&obj.to_string());
    }

    #[test]
    fn model_parser_never_panics_on_any_text(s in "\\PC{0,200}") {
        model_round_trip(&s);
    }
}

/// Found by `model_parser_never_panics_and_accepted_models_plan`: sizes near
/// u64::MAX overflowed the op counts in `plan` (a panic in debug builds).
#[test]
fn regression_huge_model_sizes_are_refused() {
    let text = format!(
        r#"{{"hidden_size": {m}, "num_attention_heads": {m}, "intermediate_size": 1,
            "num_hidden_layers": 32, "vocab_size": 32000}}"#,
        m = u64::MAX
    );
    let e = ModelConfig::from_json(&text, "fuzz").unwrap_err();
    assert!(e.contains("is larger than"), "{e}");
    // A model that passes the parser's bounds still cannot make op counts
    // overflow: the largest sizes everywhere give an error, not a panic.
    let big = ModelConfig::from_json(
        &format!(
            r#"{{"hidden_size": {m}, "num_attention_heads": 1, "intermediate_size": {m},
                "num_hidden_layers": 1, "vocab_size": 1}}"#,
            m = ModelConfig::MAX_SIZE
        ),
        "big",
    )
    .unwrap();
    let sweep = Sweep {
        seq_lens: vec![Sweep::MAX_SIZE],
        prefill_batch: Sweep::MAX_SIZE,
        ..Sweep::full(vec![DType::F32])
    };
    let e = plan::plan(&big, &sweep).unwrap_err();
    assert!(e.to_string().contains("64 bits"), "{e}");
}

/// A results file whose model was edited to absurd sizes cannot crash a
/// resume's planning either.
#[test]
fn regression_results_file_model_is_validated_when_planned() {
    let mut m = ModelConfig::preset("llama-7b").unwrap();
    m.num_attention_heads = u64::MAX;
    let e = plan::plan(&m, &Sweep::quick(vec![DType::F32])).unwrap_err();
    assert!(e.to_string().contains("is larger than"), "{e}");
}
