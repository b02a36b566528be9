//! Engine tests on a real adapter: every kernel against a CPU reference on small shapes that cross
//! workgroup boundaries (contiguous and strided), plus pooling, batching, ordering and error
//! behaviour through the stats counters.
//!
//! Without an adapter each test prints why and returns. With `RUSTGRAD_REQUIRE_WGPU=1` (CI) a
//! missing adapter, or one that is not lavapipe ("llvmpipe"), fails instead. The tests share one
//! device and global counters, so they run one at a time under a lock.

use super::engine::engine;
use super::*;
use crate::dtype::DType;
use crate::shape::contiguous_strides;
use kernels::*;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::Ordering;

pub(crate) fn gpu() -> Option<MutexGuard<'static, ()>> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock();
    let require = std::env::var("RUSTGRAD_REQUIRE_WGPU").is_ok_and(|v| v == "1");
    match adapter_info() {
        Ok(info) => {
            if require && !info.name.to_lowercase().contains("llvmpipe") {
                panic!("RUSTGRAD_REQUIRE_WGPU=1 expects lavapipe (llvmpipe), got {info:?}");
            }
            Some(guard)
        }
        Err(e) if require => panic!("RUSTGRAD_REQUIRE_WGPU=1 but {}", e.msg),
        Err(e) => {
            eprintln!("skipping wgpu test: {}", e.msg);
            None
        }
    }
}

/// Deterministic values in [lo, hi).
fn data(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

fn up(v: &[f32], shape: &[usize]) -> GpuView {
    GpuView::contiguous(upload_f32(v).unwrap(), DType::F32, shape)
}

fn get(buf: &GpuBuffer, n: usize) -> Vec<f32> {
    read_f32(buf, 0, n).unwrap()
}

/// Host copy of what a strided view reads (row-major over its shape).
fn host_view(store: &[f32], shape: &[usize], strides: &[isize], offset: usize) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|i| {
            let (mut rem, mut off) = (i, offset as isize);
            for d in (0..shape.len()).rev() {
                off += (rem % shape[d]) as isize * strides[d];
                rem /= shape[d];
            }
            store[off as usize]
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f32], rtol: f32, atol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= atol + rtol * w.abs();
        assert!(ok, "{what}: element {i}: got {g}, want {w}");
    }
}

/// `None` for the ops whose reference needs erf (not in std) or scalar parameters: the Python
/// device tests and the wgpu-py shader tests cover those.
fn unary_ref(op: UnaryOp, x: f32) -> Option<f32> {
    Some(match op {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => 1.0 / x.sqrt(),
        UnaryOp::Relu => x.max(0.0),
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Square => x * x,
        UnaryOp::Reciprocal => 1.0 / x,
        UnaryOp::Floor => x.floor(),
        UnaryOp::Ceil => x.ceil(),
        UnaryOp::Round => x.round_ties_even(),
        UnaryOp::Trunc => x.trunc(),
        UnaryOp::Log2 => x.log2(),
        UnaryOp::Log10 => x.log10(),
        UnaryOp::Log1p => x.ln_1p(),
        UnaryOp::Expm1 => x.exp_m1(),
        UnaryOp::Tan => x.tan(),
        UnaryOp::Silu => x / (1.0 + (-x).exp()),
        UnaryOp::GeluTanh => 0.5 * x * (1.0 + (0.797_884_6 * (x + 0.044715 * x * x * x)).tanh()),
        // The inverse/hyperbolic ops (restricted domains) are checked against NumPy and the
        // CPU from Python (tests/test_wgpu_math_ops.py).
        UnaryOp::Acos
        | UnaryOp::Asin
        | UnaryOp::Atan
        | UnaryOp::Acosh
        | UnaryOp::Asinh
        | UnaryOp::Atanh
        | UnaryOp::Sinh
        | UnaryOp::Cosh
        | UnaryOp::Exp2
        | UnaryOp::Frac => return None,
        UnaryOp::Erf | UnaryOp::Gelu | UnaryOp::LeakyRelu | UnaryOp::Elu | UnaryOp::Softplus => {
            return None
        }
    })
}

fn binary_ref(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Maximum => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else {
                a.max(b)
            }
        }
        BinaryOp::Minimum => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else {
                a.min(b)
            }
        }
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Atan2 => a.atan2(b),
        BinaryOp::Hypot => a.hypot(b),
        BinaryOp::Copysign => a.copysign(b),
        BinaryOp::Logaddexp => ((a as f64).exp() + (b as f64).exp()).ln() as f32,
        BinaryOp::Logaddexp2 => ((a as f64).exp2() + (b as f64).exp2()).log2() as f32,
        BinaryOp::Xlogy => a * b.ln(),
        // Integer-only: covered by tests/test_wgpu_math_ops.py.
        BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor | BinaryOp::Shl | BinaryOp::Shr => {
            f32::NAN
        }
    }
}

fn is_bitwise(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor | BinaryOp::Shl | BinaryOp::Shr
    )
}

fn compare_ref(op: CompareOp, a: f32, b: f32) -> u32 {
    u32::from(match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
    })
}

#[test]
fn adapter_is_reported() {
    let Some(_g) = gpu() else { return };
    let info = adapter_info().unwrap();
    eprintln!("wgpu adapter: {info:?}");
    assert!(is_available());
    assert!(!info.name.is_empty());
    assert!(info.max_storage_buffer_binding_size >= 128 << 20);
}

#[test]
fn adapters_are_picked_by_name_and_backend() {
    let Some(_g) = gpu() else { return };
    let info = adapter_info().unwrap();
    // The first word of the adapter's name, upper-cased: matching is case-insensitive.
    let word = info.name.split_whitespace().next().unwrap().to_uppercase();
    let opts = context::Options {
        backends: parse_backends(&info.backend).unwrap(),
        adapter: Some(word.to_lowercase()),
    };
    let ctx = context::Context::create(&opts).unwrap();
    assert_eq!(
        (&ctx.info.name, &ctx.info.backend),
        (&info.name, &info.backend)
    );
}

#[test]
fn fill_contiguous_and_strided() {
    let Some(_g) = gpu() else { return };
    let buf = zeros(1000 * 4).unwrap();
    let all = GpuView::contiguous(buf.clone(), DType::F32, &[1000]);
    fill_f32(&all, 2.5).unwrap();
    assert_eq!(get(&buf, 1000), vec![2.5; 1000]);
    // Column 3 of a [40, 25] matrix, then every other row of the first 10 columns.
    let col = GpuView::new(buf.clone(), DType::F32, &[40], &[25], 3);
    fill_f32(&col, -1.0).unwrap();
    let blk = GpuView::new(buf.clone(), DType::F32, &[20, 10], &[50, 1], 0);
    fill(&blk, 7.0f32.to_bits()).unwrap();
    let got = get(&buf, 1000);
    for (i, &g) in got.iter().enumerate() {
        let (r, c) = (i / 25, i % 25);
        let want = if r % 2 == 0 && c < 10 {
            7.0
        } else if c == 3 {
            -1.0
        } else {
            2.5
        };
        assert_eq!(g, want, "element {i}");
    }
}

#[test]
fn copies() {
    let Some(_g) = gpu() else { return };
    let src: Vec<f32> = (0..600).map(|i| i as f32).collect();
    let a = upload_f32(&src).unwrap();
    let b = zeros(600 * 4).unwrap();
    copy(&a, 40, &b, 400, 800).unwrap();
    let got = get(&b, 600);
    assert_eq!(&got[100..300], &src[10..210]);
    assert!(got[..100].iter().chain(&got[300..]).all(|&x| x == 0.0));

    // Transposed 2-D, permuted 3-D with offset, negative stride: strided -> contiguous.
    let cases: [(&[usize], &[isize], usize); 4] = [
        (&[20, 30], &[1, 20], 0),
        (&[5, 6, 7], &[1, 35, 5], 10),
        (&[300], &[-2], 599),
        (&[4, 1, 9], &[0, 77, 3], 5),
    ];
    for (shape, strides, offset) in cases {
        let v = GpuView::new(a.clone(), DType::F32, shape, strides, offset);
        let out = contiguous(&v).unwrap();
        let n = v.numel();
        assert_eq!(
            get(&out, n),
            host_view(&src, shape, strides, offset),
            "{shape:?} {strides:?}"
        );
    }

    // Strided -> strided: write a transposed copy into the odd rows of a [40, 20] buffer.
    let dst = zeros(800 * 4).unwrap();
    let s = GpuView::new(a.clone(), DType::F32, &[20, 20], &[1, 20], 0);
    let d = GpuView::new(dst.clone(), DType::F32, &[20, 20], &[40, 1], 20);
    copy_strided(&s, &d).unwrap();
    let got = get(&dst, 800);
    for r in 0..40 {
        for c in 0..20 {
            let want = if r % 2 == 1 { src[c * 20 + r / 2] } else { 0.0 };
            assert_eq!(got[r * 20 + c], want, "({r}, {c})");
        }
    }
    // Within one buffer (goes through a temporary): reverse the first 100 elements in place.
    let t = upload_f32(&src).unwrap();
    let rev = GpuView::new(t.clone(), DType::F32, &[100], &[-1], 99);
    copy_strided(&rev, &GpuView::contiguous(t.clone(), DType::F32, &[100])).unwrap();
    let got = get(&t, 600);
    assert!((0..100).all(|i| got[i] == (99 - i) as f32));
    assert_eq!(&got[100..], &src[100..]);
}

#[test]
fn unary_ops() {
    let Some(_g) = gpu() else { return };
    let n = 1000;
    for &op in UnaryOp::ALL {
        let (lo, hi) = match op {
            UnaryOp::Log | UnaryOp::Log2 | UnaryOp::Log10 | UnaryOp::Sqrt | UnaryOp::Rsqrt => {
                (0.01, 20.0)
            }
            UnaryOp::Tan => (-1.2, 1.2),
            UnaryOp::Reciprocal => (0.5, 4.0),
            _ => (-6.0, 6.0),
        };
        let x = data(n, 1, lo, hi);
        if unary_ref(op, 0.5).is_none() {
            continue;
        }
        let want: Vec<f32> = x.iter().map(|&v| unary_ref(op, v).unwrap()).collect();
        let got = get(&unary(op, &up(&x, &[n])).unwrap(), n);
        assert_close(&got, &want, 1e-5, 1e-6, op.name());
        // Transposed [25, 40] view of the same data.
        let v = up(&x, &[40, 25]).transpose(0, 1);
        let want: Vec<f32> = host_view(&x, &[25, 40], &[1, 25], 0)
            .iter()
            .map(|&v| unary_ref(op, v).unwrap())
            .collect();
        let got = get(&unary(op, &v).unwrap(), n);
        assert_close(&got, &want, 1e-5, 1e-6, &format!("{} strided", op.name()));
    }
    // Edge values: tanh saturates instead of inf/inf, relu keeps NaN.
    let x = [-100.0f32, 100.0, f32::NAN, 0.0];
    let got = get(&unary(UnaryOp::Tanh, &up(&x, &[4])).unwrap(), 4);
    assert_eq!(&got[..2], &[-1.0, 1.0]);
    let got = get(&unary(UnaryOp::Relu, &up(&x, &[4])).unwrap(), 4);
    assert!(got[0] == 0.0 && got[1] == 100.0 && got[2].is_nan());
}

#[test]
fn binary_ops_broadcast() {
    let Some(_g) = gpu() else { return };
    let (sa, sb, out) = ([5usize, 1, 70], [3usize, 1], [5usize, 3, 70]);
    let n: usize = out.iter().product();
    for &op in BinaryOp::ALL.iter().filter(|&&op| !is_bitwise(op)) {
        let (lo, hi) = if op == BinaryOp::Pow {
            (0.1, 3.0)
        } else {
            (-4.0, 4.0)
        };
        let a = data(350, 2, lo, hi);
        let mut b = data(3, 3, 0.5, 2.0);
        if op == BinaryOp::Pow {
            b[0] = 2.0;
        }
        let ea = host_view(&a, &out, &[70, 0, 1], 0);
        let eb = host_view(&b, &out, &[0, 1, 0], 0);
        let want: Vec<f32> = ea
            .iter()
            .zip(&eb)
            .map(|(&x, &y)| binary_ref(op, x, y))
            .collect();
        let got = binary(op, &up(&a, &sa), &up(&b, &sb), &out).unwrap();
        assert_close(&get(&got, n), &want, 1e-5, 1e-6, op.name());

        // Contiguous, 1025 elements, b transposed.
        let a = data(1025, 4, lo, hi);
        let b = data(1025, 5, 0.5, 2.0);
        let bv = up(&b, &[41, 25]).transpose(0, 1);
        let bt = host_view(&b, &[25, 41], &[1, 25], 0);
        let want: Vec<f32> = a
            .iter()
            .zip(&bt)
            .map(|(&x, &y)| binary_ref(op, x, y))
            .collect();
        let got = binary(op, &up(&a, &[25, 41]), &bv, &[25, 41]).unwrap();
        assert_close(
            &get(&got, 1025),
            &want,
            1e-5,
            1e-6,
            &format!("{} strided", op.name()),
        );
    }
    // NaN propagation and torch.pow's negative bases.
    let a = [1.0f32, f32::NAN, -2.0, -2.0, 0.0, 4.0];
    let b = [f32::NAN, 1.0, 3.0, 0.5, -1.0, 0.0];
    let mx = get(
        &binary(BinaryOp::Maximum, &up(&a, &[6]), &up(&b, &[6]), &[6]).unwrap(),
        6,
    );
    assert!(mx[0].is_nan() && mx[1].is_nan());
    let p = get(
        &binary(BinaryOp::Pow, &up(&a, &[6]), &up(&b, &[6]), &[6]).unwrap(),
        6,
    );
    assert!(p[0] == 1.0 && p[1].is_nan() && p[2] == -8.0, "{p:?}");
    assert!(p[3].is_nan());
    assert_eq!((p[4], p[5]), (f32::INFINITY, 1.0));
    // Shapes that do not broadcast are an error, not a bad dispatch.
    let e = binary(BinaryOp::Add, &up(&a, &[6]), &up(&a[..3], &[3]), &[6]).unwrap_err();
    assert!(e.msg.contains("cannot be broadcast"), "{}", e.msg);
}

#[test]
fn compare_and_where() {
    let Some(_g) = gpu() else { return };
    let a = data(600, 6, -3.0, 3.0)
        .iter()
        .map(|x| x.round())
        .collect::<Vec<_>>();
    let b = [0.0f32, 1.0, -1.0];
    let out = [200usize, 3];
    let ea = a.clone();
    let eb = host_view(&b, &out, &[0, 1], 0);
    for &op in CompareOp::ALL {
        let got = compare(op, &up(&a, &out), &up(&b, &[3]), &out).unwrap();
        let want: Vec<u32> = ea
            .iter()
            .zip(&eb)
            .map(|(&x, &y)| compare_ref(op, x, y))
            .collect();
        assert_eq!(read_u32(&got, 0, 600).unwrap(), want, "{}", op.name());
    }
    let cond = compare(CompareOp::Gt, &up(&a, &out), &up(&b, &[3]), &out).unwrap();
    let cond = GpuView::contiguous(cond, DType::Bool, &out);
    let x = data(600, 7, -1.0, 1.0);
    let y = [10.0f32];
    let got = where_(
        &cond,
        &up(&x, &out).transpose(0, 1).transpose(0, 1),
        &up(&y, &[1]),
        &out,
    )
    .unwrap();
    let want: Vec<f32> = (0..600)
        .map(|i| if ea[i] > eb[i] { x[i] } else { 10.0 })
        .collect();
    assert_eq!(get(&got, 600), want);
    // Transposed condition broadcast over a leading dim.
    let c2 = GpuView::new(
        cond.buffer.clone(),
        DType::Bool,
        &[2, 3, 200],
        &[0, 1, 3],
        0,
    );
    let got = where_(&c2, &up(&[1.0], &[1]), &up(&[0.0], &[1]), &[2, 3, 200]).unwrap();
    let got = get(&got, 1200);
    for (i, &g) in got.iter().enumerate() {
        let (r, c) = ((i / 200) % 3, i % 200);
        assert_eq!(
            g,
            if ea[c * 3 + r] > eb[c * 3 + r] {
                1.0
            } else {
                0.0
            }
        );
    }
}

#[test]
fn reductions() {
    let Some(_g) = gpu() else { return };
    let (rows, len) = (7usize, 1000usize);
    let x = data(rows * len, 8, -1.0, 1.0);
    let sum_ref = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() as f32;
    for &op in ReduceOp::ALL {
        let fold = |v: &[f32]| -> f32 {
            match op {
                ReduceOp::Sum => sum_ref(v),
                ReduceOp::Max => v.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                ReduceOp::Min => v.iter().copied().fold(f32::INFINITY, f32::min),
                ReduceOp::Prod => v.iter().map(|&x| x as f64).product::<f64>() as f32,
            }
        };
        let want: Vec<f32> = x.chunks(len).map(fold).collect();
        let got = reduce_last(op, &up(&x, &[rows, len])).unwrap();
        assert_close(&get(&got, rows), &want, 1e-5, 1e-4, op.name());
        // Last dim of a transposed view: reduce the columns of [1000, 7].
        let v = up(&x, &[len, rows]).transpose(0, 1);
        let cols = host_view(&x, &[rows, len], &[1, rows as isize], 0);
        let want: Vec<f32> = cols.chunks(len).map(fold).collect();
        assert_close(
            &get(&reduce_last(op, &v).unwrap(), rows),
            &want,
            1e-5,
            1e-4,
            "strided",
        );
        // Everything: 70_000 elements take two passes.
        let big = data(70_000, 9, -1.0, 1.0);
        let got = get(&reduce_all(op, &up(&big, &[70_000])).unwrap(), 1);
        assert_close(&got, &[fold(&big)], 1e-5, 1e-3, "all");
        let got = get(&reduce_all(op, &v).unwrap(), 1);
        assert_close(&got, &[fold(&x)], 1e-5, 1e-3, "all strided");
    }
    // Deterministic: the same input gives the same bits.
    let big = up(&data(50_000, 10, -1.0, 1.0), &[50_000]);
    let r1 = get(&reduce_all(ReduceOp::Sum, &big).unwrap(), 1);
    let r2 = get(&reduce_all(ReduceOp::Sum, &big).unwrap(), 1);
    assert_eq!(r1[0].to_bits(), r2[0].to_bits());
    // NaN propagates through max; empty rows.
    let mut y = data(300, 11, 0.0, 1.0);
    y[123] = f32::NAN;
    assert!(get(&reduce_all(ReduceOp::Max, &up(&y, &[300])).unwrap(), 1)[0].is_nan());
    let empty = up(&[0.0], &[3, 0]);
    assert_eq!(
        get(&reduce_last(ReduceOp::Sum, &empty).unwrap(), 3),
        vec![0.0; 3]
    );
    assert!(reduce_last(ReduceOp::Max, &empty).is_err());
    assert!(reduce_all(ReduceOp::Max, &up(&[0.0], &[0])).is_err());
}

fn matmul_ref(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                .sum::<f64>() as f32;
        }
    }
    c
}

#[test]
fn matmul_tiled() {
    let Some(_g) = gpu() else { return };
    for (m, k, n) in [
        (1, 1, 1),
        (65, 33, 70),
        (130, 17, 129),
        (3, 200, 5),
        (64, 0, 64),
    ] {
        let a = data(m * k, 12, -1.0, 1.0);
        let b = data(k * n, 13, -1.0, 1.0);
        let want = matmul_ref(&a, &b, m, k, n);
        let got = matmul(&up(&a, &[m, k]), &up(&b, &[k, n])).unwrap();
        assert_close(
            &get(&got, m * n),
            &want,
            1e-4,
            1e-4,
            &format!("{m}x{k}x{n}"),
        );
        // The same through transposed storage: A stored [k, m], B stored [n, k].
        let at = host_view(&a, &[k, m], &[1, k as isize], 0);
        let bt = host_view(&b, &[n, k], &[1, n as isize], 0);
        let av = up(&at, &[k, m]).transpose(0, 1);
        let bv = up(&bt, &[n, k]).transpose(0, 1);
        let got = matmul(&av, &bv).unwrap();
        assert_close(
            &get(&got, m * n),
            &want,
            1e-4,
            1e-4,
            &format!("{m}x{k}x{n} transposed"),
        );
    }
    // Batched with broadcasting: [2, 1, m, k] @ [3, k, n] -> [2, 3, m, n].
    let (m, k, n) = (20, 9, 17);
    let a = data(2 * m * k, 14, -1.0, 1.0);
    let b = data(3 * k * n, 15, -1.0, 1.0);
    let got = get(
        &matmul(&up(&a, &[2, 1, m, k]), &up(&b, &[3, k, n])).unwrap(),
        6 * m * n,
    );
    for i in 0..2 {
        for j in 0..3 {
            let want = matmul_ref(&a[i * m * k..][..m * k], &b[j * k * n..][..k * n], m, k, n);
            let blk = &got[(i * 3 + j) * m * n..][..m * n];
            assert_close(blk, &want, 1e-4, 1e-4, &format!("batch ({i}, {j})"));
        }
    }
    let e = matmul(&up(&a, &[m, 2 * k]), &up(&b, &[k, 3 * n])).unwrap_err();
    assert!(e.msg.contains("cannot be multiplied"), "{}", e.msg);
}

#[test]
fn grids_spread_over_xyz() {
    let Some(_g) = gpu() else { return };
    let e = engine().unwrap();
    // With a fake per-dimension limit of 4, 40 workgroups need a 4 x 4 x 3 grid.
    e.max_workgroups_override.store(4, Ordering::Relaxed);
    let n = 40 * 256 - 17;
    let x = data(n, 16, -2.0, 2.0);
    let r = (|| -> crate::error::Result<_> {
        let u = get(&unary(UnaryOp::Neg, &up(&x, &[n]))?, n);
        let rows = get(
            &reduce_last(ReduceOp::Sum, &up(&x[..40 * 7], &[40, 7]))?,
            40,
        );
        let mm = get(
            &matmul(&up(&x[..130 * 5], &[130, 5]), &up(&x[..5 * 200], &[5, 200]))?,
            130 * 200,
        );
        Ok((u, rows, mm))
    })();
    e.max_workgroups_override.store(0, Ordering::Relaxed);
    let (u, rows, mm) = r.unwrap();
    assert_eq!(u, x.iter().map(|v| -v).collect::<Vec<_>>());
    let want: Vec<f32> = x[..280].chunks(7).map(|c| c.iter().sum()).collect();
    assert_close(&rows, &want, 1e-5, 1e-5, "rows");
    assert_close(
        &mm,
        &matmul_ref(&x[..650], &x[..1000], 130, 5, 200),
        1e-4,
        1e-4,
        "matmul",
    );
}

#[test]
fn real_grid_over_65535_workgroups() {
    let Some(_g) = gpu() else { return };
    // 65536 * 256 + 1 elements: more workgroups than one dimension allows.
    let n = 65536 * 256 + 1;
    let buf = alloc(n as u64 * 4).unwrap();
    fill_f32(&GpuView::contiguous(buf.clone(), DType::F32, &[n]), 3.0).unwrap();
    assert_eq!(read_f32(&buf, n - 300, 300).unwrap(), vec![3.0; 300]);
    assert_eq!(read_f32(&buf, 0, 4).unwrap(), vec![3.0; 4]);
}

#[test]
fn dropped_buffers_are_reused() {
    let Some(_g) = gpu() else { return };
    let a = alloc(1000).unwrap();
    drop(a);
    let before = stats();
    let b = alloc(900).unwrap();
    let d = stats().since(&before);
    assert_eq!((d.buffers_created, d.buffers_reused), (0, 1));
    assert_eq!(b.capacity(), 1024);
    assert!(stats().bytes_reserved >= stats().bytes_allocated);
    let live = stats().bytes_allocated;
    drop(b);
    assert_eq!(stats().bytes_allocated, live - 1024);
}

/// The cubecl bug: a host write must not overtake work recorded before it.
#[test]
fn host_writes_are_ordered_after_recorded_work() {
    let Some(_g) = gpu() else { return };
    let n = 512;
    let old = vec![1.0f32; n];
    let new = vec![100.0f32; n];
    // 1. Overwrite a buffer that a recorded (unsubmitted) kernel reads.
    let a = up(&old, &[n]);
    let before = stats();
    let r = unary(UnaryOp::Neg, &a).unwrap();
    write(&a.buffer, 0, bytemuck::cast_slice(&new)).unwrap();
    assert_eq!(stats().since(&before).submits, 0, "still one open batch");
    assert_eq!(get(&r, n), vec![-1.0; n]);
    assert_eq!(get(&a.buffer, n), new);
    // 2. Drop the input right after recording; the pool hands its buffer to the next upload
    // (unfused: the kernel was recorded). With fusion the pending chain still holds the buffer,
    // so the upload gets another one: the same hazard, avoided by keeping it out of the pool.
    for fused in [false, true] {
        synchronize().unwrap();
        // No free buffers in the pool: only `a`'s can be reused.
        engine().unwrap().empty_cache();
        let was = fusion_enabled();
        set_fusion_enabled(fused);
        let a = up(&old, &[n]);
        let r = unary(UnaryOp::Neg, &a).unwrap();
        drop(a);
        let before = stats();
        let c = upload_f32(&new).unwrap();
        let reused = stats().since(&before).buffers_reused;
        set_fusion_enabled(was);
        assert_eq!(reused, u64::from(!fused), "fused: {fused}");
        assert_eq!(get(&r, n), vec![-1.0; n]);
        assert_eq!(get(&c, n), new);
    }
}

/// Turns elementwise fusion off for a test that counts individual dispatches, and back on (to
/// what it was) when dropped.
struct FusionOff(bool);

impl FusionOff {
    fn new() -> FusionOff {
        synchronize().unwrap();
        let was = fusion_enabled();
        set_fusion_enabled(false);
        FusionOff(was)
    }
}

impl Drop for FusionOff {
    fn drop(&mut self) {
        let _ = synchronize();
        set_fusion_enabled(self.0);
    }
}

#[test]
fn warm_sequences_compile_nothing_allocate_nothing_and_submit_only_at_sync() {
    let Some(_g) = gpu() else { return };
    let _off = FusionOff::new();
    let x = data(64 * 48, 17, -1.0, 1.0);
    let step = || {
        let a = up(&x, &[64, 48]);
        let b = up(&x[..48 * 32], &[48, 32]);
        let c = matmul(&a, &b).unwrap();
        let cv = GpuView::contiguous(c, DType::F32, &[64, 32]);
        let d = unary(UnaryOp::Tanh, &cv).unwrap();
        let dv = GpuView::contiguous(d, DType::F32, &[64, 32]);
        let e = binary(
            BinaryOp::Mul,
            &dv,
            &cv.transpose(0, 1).transpose(0, 1),
            &[64, 32],
        )
        .unwrap();
        let ev = GpuView::contiguous(e, DType::F32, &[64, 32]);
        let f = reduce_last(ReduceOp::Max, &ev).unwrap();
        let s = reduce_all(ReduceOp::Sum, &GpuView::contiguous(f, DType::F32, &[64])).unwrap();
        get(&s, 1)[0]
    };
    let first = step();
    let _ = step();
    let before = stats();
    for _ in 0..3 {
        assert_eq!(step().to_bits(), first.to_bits());
    }
    let d = stats().since(&before);
    assert_eq!(d.pipelines_compiled, 0, "{d:?}");
    assert_eq!(d.buffers_created, 0, "{d:?}");
    assert_eq!(d.submits, 3, "one submit per readback: {d:?}");
    assert_eq!(d.dispatches, 3 * 5, "{d:?}");
    assert!(d.buffers_reused > 0 && d.bytes_uploaded > 0, "{d:?}");
    assert_eq!(d.bytes_downloaded, 12);
}

#[test]
fn long_op_chains_submit_every_n_dispatches() {
    let Some(_g) = gpu() else { return };
    let _off = FusionOff::new();
    synchronize().unwrap();
    let mut v = up(&[1.0, 2.0, 3.0], &[3]);
    let before = stats();
    for _ in 0..2 * MAX_DISPATCHES_PER_SUBMIT + 1 {
        v = GpuView::contiguous(unary(UnaryOp::Neg, &v).unwrap(), DType::F32, &[3]);
    }
    assert_eq!(stats().since(&before).submits, 2);
    assert_eq!(get(&v.buffer, 3), vec![-1.0, -2.0, -3.0]);
    assert_eq!(stats().since(&before).submits, 3);
    synchronize().unwrap();
}

#[test]
fn wgpu_errors_become_results_and_the_engine_recovers() {
    let Some(_g) = gpu() else { return };
    let e = engine().unwrap();
    // A shader that does not compile.
    let err = e
        .compile(
            "broken",
            "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }",
        )
        .err()
        .expect("compile error");
    assert_eq!(err.kind, crate::error::ErrorKind::Runtime);
    assert!(err.msg.contains("compiling shader broken"), "{}", err.msg);
    // An invalid dispatch recorded into the batch (over the workgroup limit, bypassing the
    // spreading) fails the batch at submit, naming the op, without a panic.
    let k = e
        .kernel(
            "fill.wgsl",
            &[("DTYPE", "u32"), ("VALUE", "scalar(0u)"), ("WG", "256")],
        )
        .unwrap();
    let buf = alloc(1024).unwrap();
    let over = e.ctx.limits.max_compute_workgroups_per_dimension as u64 + 1;
    e.max_workgroups_override.store(u32::MAX, Ordering::Relaxed);
    let p = view::params("bad_fill", &[1], &[(contiguous_strides(&[1]), 0)], &[0]).unwrap();
    let bind = [encoder::Binding {
        buffer: &buf,
        bytes: 1024,
    }];
    let r = e.dispatch("bad_fill", &k, &p, &bind, over);
    e.max_workgroups_override.store(0, Ordering::Relaxed);
    r.unwrap();
    let err = synchronize().unwrap_err();
    assert!(err.msg.contains("bad_fill"), "{}", err.msg);
    // Everything still works afterwards.
    let r = unary(UnaryOp::Abs, &up(&[-2.0], &[1])).unwrap();
    assert_eq!(get(&r, 1), vec![2.0]);
    // Oversized requests are refused up front.
    let err = alloc(e.ctx.limits.max_buffer_size + 4).unwrap_err();
    assert!(err.msg.contains("max_buffer_size"), "{}", err.msg);
}

/// Rough lavapipe timings for the numbers the issue quotes; `cargo test -- --ignored --nocapture`.
#[test]
#[ignore]
fn timings() {
    let Some(_g) = gpu() else { return };
    use std::time::Instant;
    let x = up(&[1.0; 64], &[64]);
    let _ = get(&unary(UnaryOp::Neg, &x).unwrap(), 1);
    let reps = 2000;
    let t = Instant::now();
    let mut keep = Vec::new();
    for _ in 0..reps {
        keep.push(unary(UnaryOp::Neg, &x).unwrap());
    }
    synchronize().unwrap();
    let batched = t.elapsed().as_secs_f64() / reps as f64;
    drop(keep);
    let t = Instant::now();
    for _ in 0..200 {
        let _r = unary(UnaryOp::Neg, &x).unwrap();
        synchronize().unwrap();
    }
    let submit_wait = t.elapsed().as_secs_f64() / 200.0;
    let t = Instant::now();
    for _ in 0..200 {
        let _ = read_f32(&x.buffer, 0, 1).unwrap();
    }
    let readback = t.elapsed().as_secs_f64() / 200.0;
    let n = 256;
    let a = up(&data(n * n, 1, -1.0, 1.0), &[n, n]);
    let _ = get(&matmul(&a, &a).unwrap(), 1);
    let t = Instant::now();
    for _ in 0..5 {
        let _c = matmul(&a, &a).unwrap();
    }
    synchronize().unwrap();
    let gflops = 5.0 * 2.0 * (n * n * n) as f64 / t.elapsed().as_secs_f64() / 1e9;
    eprintln!(
        "tiny dispatch batched {:.1} us, with submit+wait {:.1} us, 4-byte readback {:.1} us, \
         matmul {n}^3 {gflops:.2} GFLOP/s",
        batched * 1e6,
        submit_wait * 1e6,
        readback * 1e6
    );
}

/// A chain of elementwise ops (unary, broadcast binary, constant operands, comparison, where,
/// cast) run fused and unfused: one dispatch against one per op, bit-identical values, and the
/// dropped intermediates never stored.
#[test]
fn elementwise_chain_fuses_into_one_dispatch() {
    let Some(_g) = gpu() else { return };
    let run = |fused: bool| {
        synchronize().unwrap();
        let was = fusion_enabled();
        set_fusion_enabled(fused);
        let (m, n) = (37, 19);
        let x = up(&data(m * n, 5, -2.0, 2.0), &[m, n]);
        let b = up(&data(n, 6, -1.0, 1.0), &[n]);
        let c = |v: f32| Input::Const {
            words: [v.to_bits(), 0],
            dtype: DType::F32,
        };
        let v = |buf: GpuBuffer, dt: DType| Input::View(GpuView::contiguous(buf, dt, &[m, n]));
        let shape = [m, n];
        synchronize().unwrap();
        let before = stats();
        let a = binary_inputs(BinaryOp::Mul, &Input::View(x.clone()), &c(0.5), &shape).unwrap();
        let a = binary_inputs(
            BinaryOp::Add,
            &v(a, DType::F32),
            &Input::View(b.clone()),
            &shape,
        )
        .unwrap();
        let a = unary(UnaryOp::Tanh, &GpuView::contiguous(a, DType::F32, &shape)).unwrap();
        let mask =
            compare_inputs(CompareOp::Gt, &v(a.clone(), DType::F32), &c(0.0), &shape).unwrap();
        let a3 = binary_inputs(BinaryOp::Mul, &v(a.clone(), DType::F32), &c(3.0), &shape).unwrap();
        let w = where_inputs(
            &v(mask.clone(), DType::Bool),
            &v(a, DType::F32),
            &v(a3, DType::F32),
            &shape,
        )
        .unwrap();
        let f = cast(&GpuView::contiguous(mask, DType::Bool, &shape), DType::F32).unwrap();
        let out =
            binary_inputs(BinaryOp::Sub, &v(w, DType::F32), &v(f, DType::F32), &shape).unwrap();
        let got = get(&out, m * n);
        let d = stats().since(&before);
        set_fusion_enabled(was);
        (got, d)
    };
    let (fused, df) = run(true);
    let (plain, dp) = run(false);
    assert_eq!(dp.dispatches, 8, "{dp:?}");
    assert_eq!(dp.fused_kernels, 0, "{dp:?}");
    assert_eq!(df.dispatches, 1, "{df:?}");
    assert_eq!((df.fused_kernels, df.fused_stages), (1, 8), "{df:?}");
    assert_eq!(df.stores_elided, 7, "{df:?}");
    assert!(
        df.bytes_uploaded < dp.bytes_uploaded,
        "constants are not uploaded: {df:?} {dp:?}"
    );
    let fb: Vec<u32> = fused.iter().map(|x| x.to_bits()).collect();
    let pb: Vec<u32> = plain.iter().map(|x| x.to_bits()).collect();
    assert_eq!(fb, pb);
}

/// Outputs still held are stored; a transposed read of a pending output ends the chain first;
/// a write into a buffer the chain reads waits for the chain.
#[test]
fn fused_chains_keep_live_outputs_and_order_hazards() {
    let Some(_g) = gpu() else { return };
    synchronize().unwrap();
    let was = fusion_enabled();
    set_fusion_enabled(true);
    let xs = data(12, 9, -1.0, 1.0);
    let x = up(&xs, &[3, 4]);
    let y = binary(BinaryOp::Add, &x, &x, &[3, 4]).unwrap();
    let yv = GpuView::contiguous(y.clone(), DType::F32, &[3, 4]);
    let z = unary(UnaryOp::Neg, &yv).unwrap();
    // Transposed read of y: the chain [add, neg] is dispatched before this stage joins a new one.
    let before = stats();
    let t = unary(UnaryOp::Abs, &yv.transpose(0, 1)).unwrap();
    assert_eq!(stats().since(&before).fused_kernels, 1);
    // Overwrite x while `t`'s chain is pending (it does not read x) and after y was computed.
    write(&x.buffer, 0, bytemuck::cast_slice(&[0.0f32; 12])).unwrap();
    let y2: Vec<f32> = xs.iter().map(|v| v + v).collect();
    assert_eq!(get(&y, 12), y2);
    assert_eq!(get(&z, 12), y2.iter().map(|v| -v).collect::<Vec<_>>());
    let tt = host_view(&y2, &[4, 3], &[1, 4], 0);
    assert_eq!(get(&t, 12), tt.iter().map(|v| v.abs()).collect::<Vec<_>>());
    assert_eq!(get(&x.buffer, 12), vec![0.0; 12]);
    // int64 words through a fused chain: (a * 3) + a with a beyond 32 bits.
    let big: Vec<i64> = vec![1 << 40, -5, 7, -(1 << 33)];
    let a = GpuView::contiguous(
        upload(bytemuck::cast_slice(&big)).unwrap(),
        DType::I64,
        &[4],
    );
    let three = Input::Const {
        words: [3, 0],
        dtype: DType::I64,
    };
    let p = binary_inputs(BinaryOp::Mul, &Input::View(a.clone()), &three, &[4]).unwrap();
    let q = binary(
        BinaryOp::Add,
        &GpuView::contiguous(p, DType::I64, &[4]),
        &a,
        &[4],
    )
    .unwrap();
    let got: Vec<i64> = bytemuck::pod_collect_to_vec(&read(&q, 0, 32).unwrap());
    assert_eq!(got, big.iter().map(|v| v * 4).collect::<Vec<_>>());
    set_fusion_enabled(was);
}

/// Runs `fast_divmod.wgsl` on the adapter for every `a` in `[0, count)` against each
/// `(b, rb bits)`; returns (mismatches, smallest failing a).
fn divmod_failures(count: u32, divisors: &[(u32, u32)]) -> (u32, u32) {
    let e = engine().unwrap();
    let main = "@group(0) @binding(0) var<storage, read> params: array<u32>;\n\
        @group(0) @binding(1) var<storage, read_write> out: array<atomic<u32>>;\n\
        //!include fast_divmod.wgsl\n\
        @compute @workgroup_size(256)\n\
        fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n\
                @builtin(local_invocation_index) lid: u32) {\n\
            let a = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 256u + lid;\n\
            if (a >= params[0]) { return; }\n\
            for (var i = 1u; i + 1u < arrayLength(&params); i = i + 2u) {\n\
                let b = params[i];\n\
                let got = divmod_fast(a, b, bitcast<f32>(params[i + 1u]));\n\
                if (got.x != a / b || got.y != a % b) {\n\
                    atomicAdd(&out[0], 1u);\n\
                    atomicMin(&out[1], a);\n\
                }\n\
            }\n\
        }\n";
    let src = template::render_with("divmod_check.wgsl", &[], &|n| {
        if n == "divmod_check.wgsl" {
            Ok(main.to_string())
        } else {
            template::shader_source(n).map(str::to_owned)
        }
    })
    .unwrap();
    let k = e.compile("divmod_check", &src).unwrap();
    let out = upload(bytemuck::cast_slice(&[0u32, u32::MAX])).unwrap();
    let mut p = vec![count];
    for &(b, rb) in divisors {
        p.extend([b, rb]);
    }
    let bind = [encoder::Binding {
        buffer: &out,
        bytes: 8,
    }];
    e.dispatch("divmod_check", &k, &p, &bind, (count as u64).div_ceil(256))
        .unwrap();
    let r = read_u32(&out, 0, 2).unwrap();
    (r[0], r[1])
}

/// The f32-reciprocal divmod of the implicit-GEMM conv (`shaders/fast_divmod.wgsl`) is exact for
/// every dividend below the host's limit (2^22), with the host-rounded reciprocal, for the
/// divisors where the estimate's error is largest (small ones, where a / b is large, and ones
/// just below or above powers of two, whose reciprocals sit at the ends of a binade), and the
/// check does catch a reciprocal that is a little off.
#[test]
fn fast_divmod_is_exact_below_its_limit() {
    let Some(_g) = gpu() else { return };
    let limit = kernels::conv_gemm::FAST_DIV_LIMIT as u32;
    let mut bs: Vec<u32> = (1..=13).collect();
    bs.extend([
        25, 49, 63, 100, 127, 255, 257, 1000, 4095, 65535, 65537, 99991,
    ]);
    bs.extend([(1 << 20) + 1, 3 << 19, 1_234_567, (1 << 21) - 1, limit - 1]);
    let with_recip: Vec<(u32, u32)> = bs
        .iter()
        .map(|&b| (b, (1.0f32 / b as f32).to_bits()))
        .collect();
    assert_eq!(divmod_failures(limit, &with_recip), (0, u32::MAX));
    // A reciprocal 2^-12 too big is caught (near a = 2^12 * 3 already).
    let off = (1.0f32 / 3.0 * (1.0 + 1.0 / 4096.0)).to_bits();
    let (bad, first) = divmod_failures(limit, &[(3, off)]);
    assert!(bad > 0 && first < limit, "{bad} {first}");
}
