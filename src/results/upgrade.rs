//! Reading files of earlier schema versions.

use super::SCHEMA_VERSION;

/// Schema 1 to 2 in place: compute roofs were keyed by dtype alone (every
/// kernel SIMT, accumulating in its own type) and points had no engine.
pub(super) fn upgrade_v1(v: &mut serde_json::Value) {
    use serde_json::{json, Value};
    if let Some(m) = v
        .pointer_mut("/ceilings/measured")
        .and_then(Value::as_object_mut)
    {
        let rates = m.remove("compute_flops_per_s").unwrap_or(Value::Null);
        let kernels = m.remove("compute_kernels").unwrap_or(Value::Null);
        let compute: Vec<Value> = rates
            .as_object()
            .into_iter()
            .flatten()
            .map(|(dtype, rate)| {
                json!({
                    "engine": "simt",
                    "input": dtype,
                    "accumulate": dtype,
                    "flops_per_s": rate,
                    "kernel": kernels.get(dtype).cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
        m.insert("compute".into(), Value::Array(compute));
    }
    if let Some(kernels) = v.get_mut("kernels").and_then(Value::as_array_mut) {
        for k in kernels.iter_mut().filter_map(Value::as_object_mut) {
            let dtype = k.get("dtype").cloned().unwrap_or(Value::Null);
            k.insert("engine".into(), json!("simt"));
            k.insert("accumulate".into(), dtype);
        }
    }
    if let Some(points) = v.get_mut("points").and_then(Value::as_array_mut) {
        for p in points.iter_mut().filter_map(Value::as_object_mut) {
            p.insert("engine".into(), json!("simt"));
        }
    }
    upgrade_v2(v);
}

/// Schema 2 to 3 in place: the layout is the same. Schema 2 times were
/// each run's time between timestamps of its own (`timer.own_times`),
/// schema 3 times are pipelined times net of the dispatch gaps; the old
/// times are kept as they were measured.
pub(super) fn upgrade_v2(v: &mut serde_json::Value) {
    v["schema_version"] = serde_json::json!(SCHEMA_VERSION);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::ResultsFile;
    use super::SCHEMA_VERSION;
    use crate::kernels::{DType, Engine};
    use crate::roofline::ComputeKey;

    #[test]
    fn schema_1_files_are_upgraded() {
        // The fixture was written by schema 1 (compute roofs keyed by dtype).
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(raw["schema_version"], 1);
        let f = ResultsFile::from_json(&path, &text).unwrap();
        assert_eq!(f.schema_version, SCHEMA_VERSION);
        let m = &f.ceilings.measured;
        let f32_rate = raw["ceilings"]["measured"]["compute_flops_per_s"]["f32"]
            .as_f64()
            .unwrap();
        assert_eq!(m.compute_roof(ComputeKey::simt(DType::F32)), Some(f32_rate));
        assert!(m.compute.iter().all(|r| r.key.engine == Engine::Simt
            && r.key.input == r.key.accumulate
            && r.kernel.starts_with("peak.")));
        assert!(f
            .kernels
            .iter()
            .all(|k| k.engine == Engine::Simt && k.accumulate == k.dtype));
        assert!(f.points.iter().all(|p| p.engine == Engine::Simt));
        // Points are judged as before: SIMT, in f32.
        let p = &f.points[0];
        assert_eq!(p.compute_key(), ComputeKey::simt(DType::F32));
        assert!(p.attainable(m).is_some());
    }

    #[test]
    fn schema_2_files_are_read_as_measured() {
        // A schema 2 file: v1's layout upgraded, with the bracketed-times flag.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        super::upgrade_v1(&mut v);
        v["schema_version"] = serde_json::json!(2);
        v["timer"]["own_times"] = serde_json::json!(true);
        let median = v["points"][0]["median_s"].as_f64().unwrap();
        let f = ResultsFile::from_json(&path, &v.to_string()).unwrap();
        assert_eq!(f.schema_version, SCHEMA_VERSION);
        assert_eq!(f.points[0].median_s, median);
        assert_eq!(f.timer.bracketed_dispatch_s, None);
        // A version from the future is refused, by name.
        v["schema_version"] = serde_json::json!(SCHEMA_VERSION + 1);
        let e = ResultsFile::from_json(&path, &v.to_string()).unwrap_err();
        assert!(e.to_string().contains("schema_version"), "{e}");
    }
}
