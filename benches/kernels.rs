//! Kernel benchmarks: elementwise, reductions, matmul and convolution through the public op API.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rustgrad::ops;
use rustgrad::{DType, Tensor};

fn filled(n: usize) -> Tensor {
    shaped(&[n])
}

fn shaped(shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32) * 0.001 - 0.5).collect();
    Tensor::from_vec(v, shape).unwrap()
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise");
    for &n in &[1usize << 20, 1 << 24] {
        let (a, b) = (filled(n), filled(n));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("add_f32", n), &n, |bch, _| {
            bch.iter(|| ops::add(&a, &b).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("mul_f32", n), &n, |bch, _| {
            bch.iter(|| ops::mul(&a, &b).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("exp_f32", n), &n, |bch, _| {
            bch.iter(|| ops::exp(&a).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("tanh_f32", n), &n, |bch, _| {
            bch.iter(|| ops::tanh(&a).unwrap())
        });
    }
    let (a, b) = (filled(1), filled(1));
    g.throughput(Throughput::Elements(1));
    g.bench_function("add_1elem", |bch| bch.iter(|| ops::add(&a, &b).unwrap()));
    g.finish();
}

fn reductions(c: &mut Criterion) {
    let mut g = c.benchmark_group("reduce");
    for &n in &[1usize << 20, 1 << 24] {
        let a = filled(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("sum_f32", n), &n, |bch, _| {
            bch.iter(|| ops::sum(&a, None, false).unwrap())
        });
    }
    let m = ops::reshape(&filled(1 << 20), &[1024, 1024]).unwrap();
    g.bench_function("sum_rows_1024x1024", |bch| {
        bch.iter(|| ops::sum(&m, Some(&[1]), false).unwrap())
    });
    g.bench_function("sum_cols_1024x1024", |bch| {
        bch.iter(|| ops::sum(&m, Some(&[0]), false).unwrap())
    });
    g.finish();
}

fn dtype_cast(c: &mut Criterion) {
    let a = filled(1 << 20);
    c.bench_function("cast_f32_f64_1M", |bch| {
        bch.iter(|| ops::to_dtype(&a, DType::F64).unwrap())
    });
}

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul");
    for &n in &[256usize, 1024] {
        let a = shaped(&[n, n]);
        let b = shaped(&[n, n]);
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_with_input(BenchmarkId::new("sgemm", n), &n, |bch, _| {
            bch.iter(|| ops::matmul(&a, &b).unwrap())
        });
    }
    g.finish();
}

/// The conv row (3x3, padding 1, 32 -> 64 channels, 28x28) at batch 16: forward, input
/// gradient and weight gradient, each on its own.
fn conv(c: &mut Criterion) {
    let (n, ci, hw, co) = (16, 32, 28, 64);
    let x = shaped(&[n, ci, hw, hw]);
    let w = shaped(&[co, ci, 3, 3]);
    let dy = shaped(&[n, co, hw, hw]);
    let geom = ops::ConvGeom {
        n,
        c: ci,
        h: hw,
        w: hw,
        o: co,
        kh: 3,
        kw: 3,
        oh: hw,
        ow: hw,
        sh: 1,
        sw: 1,
        ph: 1,
        pw: 1,
        dh: 1,
        dw: 1,
        groups: 1,
    };
    let mut g = c.benchmark_group("conv3x3_16x32x28x28_64");
    g.throughput(Throughput::Elements((2 * n * co * hw * hw * ci * 9) as u64));
    g.bench_function("forward", |bch| {
        bch.iter(|| ops::conv2d(&x, &w, None, [1, 1], [1, 1, 1, 1], [1, 1], 1).unwrap())
    });
    g.bench_function("input_grad", |bch| {
        bch.iter(|| rustgrad::kernels::conv2d_backward_input(&dy, &w, &geom).unwrap())
    });
    g.bench_function("weight_grad", |bch| {
        bch.iter(|| rustgrad::kernels::conv2d_backward_weight(&dy, &x, &geom).unwrap())
    });
    g.finish();
}

criterion_group!(benches, elementwise, reductions, dtype_cast, matmul, conv);
criterion_main!(benches);
