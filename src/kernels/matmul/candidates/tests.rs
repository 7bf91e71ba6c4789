//! The candidate lists' unit tests: what each device and shape gets.

use super::*;

#[test]
fn short_rows_get_groups_of_lanes_that_cover_them() {
    // A head of 128: 16 octets, in 16 lanes or 8 lanes of 2 steps;
    // 1000 elements (125 octets) in at most a subgroup of 32.
    assert_eq!(short_row_lanes(128, 1, 32), 16);
    assert_eq!(short_row_lanes(128, 2, 32), 8);
    assert_eq!(short_row_lanes(1000, 1, 32), 32);
    assert_eq!(short_row_lanes(120, 1, 8), 8);
    let caps = Capabilities::for_tests(false, (32, 32));
    let shape = ProductShape {
        batch: 32,
        m: 1,
        n: 2048,
        k: 128,
    };
    let grouped: Vec<_> = MatmulConfig::candidates(shape, DType::F16, &caps)
        .into_iter()
        .filter_map(|c| match c {
            MatmulConfig::Gemv {
                wg, groups, unroll, ..
            } if groups > 1 => Some((wg, groups, unroll)),
            _ => None,
        })
        .collect();
    assert_eq!(
        grouped,
        [(128, 8, 1), (256, 16, 1), (128, 16, 2), (256, 32, 2)]
    );
    // Long rows keep whole workgroups on a row.
    let long = ProductShape { k: 4096, ..shape };
    assert!(MatmulConfig::candidates(long, DType::F16, &caps)
        .iter()
        .all(|c| !matches!(c, MatmulConfig::Gemv { groups, .. } if *groups > 1)));
}

#[test]
fn the_resident_gemv_is_tried_for_long_rows_where_it_fits() {
    let resident = |caps: &Capabilities, m, n, k| -> Vec<(u32, u32, u32)> {
        let shape = ProductShape { batch: 1, m, n, k };
        MatmulConfig::candidates(shape, DType::F16, caps)
            .into_iter()
            .filter_map(|c| match c {
                MatmulConfig::Resident { rows, wg, per } => Some((rows, wg, per)),
                _ => None,
            })
            .collect()
    };
    let gpu = Capabilities::for_tests(false, (32, 32));
    // Decode `q` and `up`: every listed shape.
    assert_eq!(resident(&gpu, 1, 4096, 4096), RESIDENT_GPU);
    assert_eq!(resident(&gpu, 1, 11008, 4096), RESIDENT_GPU);
    // `down` (k = 11008, 1376 octets): 6 a lane in 256, 11 in 128.
    assert_eq!(
        resident(&gpu, 1, 4096, 11008),
        [(4, 256, 2), (4, 256, 4), (4, 256, 8)]
    );
    // Four rows hold 4 x 2 octets in 256 lanes only.
    assert!(resident(&gpu, 4, 4096, 4096).iter().all(|c| c.1 == 256));
    // Short rows, batches past 4 rows and adapters without subgroups
    // do not try it; CPU adapters try one, the first that fits.
    assert!(resident(&gpu, 1, 2048, 128).is_empty());
    assert!(resident(&gpu, 8, 4096, 4096).is_empty());
    let cpu = Capabilities::for_tests(true, (8, 8));
    assert_eq!(resident(&cpu, 1, 4096, 4096), [(4, 128, 4)]);
    assert_eq!(resident(&cpu, 1, 4096, 11008), [(4, 256, 4)]);
    assert!(resident(&cpu, 1, 2048, 128).is_empty());
    let mut plain = gpu.clone();
    plain.subgroups = false;
    assert!(resident(&plain, 1, 4096, 4096).is_empty());
}

#[test]
fn without_shader_f16_f16_products_keep_the_packed_half_kernels() {
    // llvmpipe's GL: a CPU adapter without subgroups or SHADER_F16,
    // with 32 KiB of workgroup memory.
    let mut gl = Capabilities::for_tests(true, (0, 0));
    gl.f16 = false;
    gl.limits.max_compute_workgroup_storage_size = 32768;
    for (m, k) in [(128, 4096), (1, 4096), (1, 128), (16, 4096)] {
        let shape = ProductShape {
            batch: 1,
            m,
            n: 4096,
            k,
        };
        let f16 = MatmulConfig::candidates(shape, DType::F16, &gl);
        assert!(!f16.is_empty(), "m = {m}, k = {k}");
        for c in &f16 {
            assert!(!c.family().computes_in(DType::F16), "{c}");
            assert_eq!(c.unsupported(&gl, DType::F16, (m, 4096, k)), None, "{c}");
        }
        // f32 keeps its list, the classic kernels included.
        let f32 = MatmulConfig::candidates(shape, DType::F32, &gl);
        assert!(f32
            .iter()
            .any(|c| c.family() == super::super::Family::Classic));
        // And a classic kernel asked for f16 there says why not.
        let classic = f32
            .iter()
            .find(|c| c.family() == super::super::Family::Classic)
            .unwrap();
        let why = classic.unsupported(&gl, DType::F16, (m, 4096, k)).unwrap();
        assert!(why.contains("SHADER_F16"), "{why}");
    }
}

#[test]
fn decode_batches_and_short_prompts_get_cooperative_gemms_split_over_k() {
    let caps = Capabilities::for_tests(false, (32, 32));
    let coops = |m, dtype| -> Vec<(u32, u32, u32)> {
        let shape = ProductShape {
            batch: 1,
            m,
            n: 4096,
            k: 4096,
        };
        MatmulConfig::candidates(shape, dtype, &caps)
            .into_iter()
            .filter_map(|c| match c {
                MatmulConfig::Coop {
                    tile_m,
                    tile_n,
                    split,
                    ..
                } => Some((tile_m, tile_n, split)),
                _ => None,
            })
            .collect()
    };
    // B = 16: one block row of 32, 64 or 128 columns, split 4-16
    // ways; B = 9 rounds up to 16, B = 33 to 64.
    let sixteen = coops(16, DType::F16);
    assert_eq!(sixteen.len(), 9);
    assert!(sixteen.iter().all(|&(bm, _, split)| bm == 16 && split >= 4));
    assert!(sixteen.contains(&(16, 128, 16)) && sixteen.contains(&(16, 32, 4)));
    assert!(coops(9, DType::F16).iter().all(|&(bm, ..)| bm == 16));
    assert!(coops(33, DType::F16).iter().all(|&(bm, ..)| bm == 64));
    // S = 128: the unsplit blocks, then 128 x 128 and 128 x 64 split 2
    // and 4 and 128 x 128 split 8; S = 512 without the 8; S = 2048 and
    // one row (the GEMV's) none split; f32 never cooperative.
    let split_at = |m| -> Vec<_> {
        coops(m, DType::F16)
            .into_iter()
            .filter(|c| c.2 > 1)
            .collect()
    };
    assert_eq!(
        split_at(128),
        [
            (128, 128, 2),
            (128, 64, 2),
            (128, 128, 4),
            (128, 64, 4),
            (128, 128, 8)
        ]
    );
    assert_eq!(split_at(512).len(), 4);
    assert!(split_at(2048).is_empty());
    assert!(coops(1, DType::F16).is_empty() && coops(4, DType::F16).is_empty());
    assert!(coops(16, DType::F32).is_empty() && coops(128, DType::F32).is_empty());
}

#[test]
fn every_listed_configuration_runs_at_every_subgroup_size() {
    // Subgroups of 4 to 64 lanes, on CPU adapters (llvmpipe's vector
    // width sets them) and GPUs, with 48 KiB of workgroup memory:
    // nothing listed is declined for its subgroups (a shuffled
    // product's workgroup of 8 at 16 lanes was). The cooperative GEMMs
    // are listed without cooperative matrices, with the reason.
    for lanes in [4, 8, 16, 32, 64] {
        for cpu in [false, true] {
            let mut caps = Capabilities::for_tests(cpu, (lanes, lanes));
            caps.limits.max_compute_workgroup_storage_size = 49152;
            for (m, k) in [(1, 128), (1, 4096), (4, 4096), (16, 4096), (128, 4096)] {
                for dtype in [DType::F32, DType::F16] {
                    let shape = ProductShape {
                        batch: 1,
                        m,
                        n: 4096,
                        k,
                    };
                    for c in MatmulConfig::candidates(shape, dtype, &caps) {
                        if matches!(c, MatmulConfig::Coop { .. }) {
                            continue;
                        }
                        let why = c.unsupported(&caps, dtype, (m, shape.n, k));
                        assert_eq!(why, None, "{c}: {lanes} lanes, cpu {cpu}, m = {m}");
                    }
                }
            }
        }
    }
}

#[test]
fn no_list_tries_a_configuration_twice() {
    // 16, 32 and 48 KiB of workgroup memory: where steps of 16 do not
    // fit a 128 x 128 block, `block` falls back to the steps of 8
    // listed first, which must then not be listed again.
    for room in [16384, 32768, 49152] {
        for cpu in [false, true] {
            let mut caps = Capabilities::for_tests(cpu, (32, 32));
            caps.limits.max_compute_workgroup_storage_size = room;
            for (batch, m, k) in [
                (1, 1, 4096),
                (1, 16, 4096),
                (1, 128, 4096),
                (1, 2048, 4096),
                (32, 1, 128),
                (32, 128, 128),
            ] {
                for dtype in [DType::F32, DType::F16] {
                    let shape = ProductShape {
                        batch,
                        m,
                        n: 4096,
                        k,
                    };
                    let v = MatmulConfig::candidates(shape, dtype, &caps);
                    for (i, c) in v.iter().enumerate() {
                        assert!(
                            !v[..i].contains(c),
                            "{c} twice: {room} bytes, cpu {cpu}, {shape:?}"
                        );
                    }
                }
            }
        }
    }
}
