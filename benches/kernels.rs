//! Kernel benchmarks: elementwise, reductions and matmul through the public op API.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rustgrad::ops;
use rustgrad::{DType, Tensor};

fn filled(n: usize) -> Tensor {
    let v: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32) * 0.001 - 0.5).collect();
    Tensor::from_vec(v, &[n]).unwrap()
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

criterion_group!(benches, elementwise, reductions, dtype_cast);
criterion_main!(benches);
