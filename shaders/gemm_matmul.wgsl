// Batched matmul C[b] = epilogue(A[b] @ B[b]) on the GEMM core (gemm_core.wgsl), A: M x K and
// B: K x N read through their strides (transposed and broadcast operands need no copy), C
// contiguous [batch..., M, N].
// params: shape = batch shape (numel = batch count), scalars: 0 M, 1 N, 2 K, 3 A row stride,
// 4 A col stride, 5 B row stride, 6 B col stride (i32 bits); view 0 = A's batch strides + offset,
// view 1 = B's; view slot 2 holds the bias as (offset, -, row stride, col stride).
// Variants: ELEM f32 or vec4<f32> (the VEC core loads; every offset and stride used is then a
// multiple of 4 and the unit stride is the one loaded along), BIAS_DECL/BIAS (a bias binding
// and its value at (row, col)), ACT (the activation of `v`), PRE_DECL/PRE_STORE (the
// pre-activation also written, for backward rules that need it).
// Bindings: 0 params, 1 a, 2 b, 3 dst, then 4 bias and 5 pre where the variant has them.

//!include strided.wgsl
//!include math.wgsl

@group(0) @binding(1) var<storage, read> lhs: array<{{ELEM}}>;
@group(0) @binding(2) var<storage, read> rhs: array<{{ELEM}}>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
{{BIAS_DECL}}
{{PRE_DECL}}

var<private> a_base: i32;
var<private> b_base: i32;
var<private> out_base: u32;

fn lhs_at(i: i32) -> f32 {
    {{AT}}
}

fn rhs_at(i: i32) -> f32 {
    {{BT}}
}

fn lhs_at4(i: i32) -> vec4<f32> {
    {{AT4}}
}

fn rhs_at4(i: i32) -> vec4<f32> {
    {{BT4}}
}

fn gemm_begin(bt: u32) {
    a_base = view_offset(VIEW0, bt);
    b_base = view_offset(VIEW1, bt);
    out_base = bt * scalar(0u) * scalar(1u);
}

fn k_range(bt: u32) -> vec2<u32> {
    return vec2<u32>(0u, scalar(2u));
}

fn load_a(row: u32, kk: u32) -> f32 {
    return lhs_at(a_base + i32(row) * bitcast<i32>(scalar(3u)) + i32(kk) * bitcast<i32>(scalar(4u)));
}

fn load_b(kk: u32, col: u32) -> f32 {
    return rhs_at(b_base + i32(kk) * bitcast<i32>(scalar(5u)) + i32(col) * bitcast<i32>(scalar(6u)));
}

fn load_a4(row: u32, kk: u32) -> vec4<f32> {
    return lhs_at4(a_base + i32(row) * bitcast<i32>(scalar(3u)) + i32(kk));
}

fn load_b4(kk: u32, col: u32) -> vec4<f32> {
    return rhs_at4(b_base + i32(kk) * bitcast<i32>(scalar(5u)) + i32(col) * bitcast<i32>(scalar(6u)));
}

fn bias_at(row: u32, col: u32) -> f32 {
    return {{BIAS}};
}

fn store(row: u32, col: u32, acc: f32) {
    let i = out_base + row * scalar(1u) + col;
    var v = acc + bias_at(row, col);
    {{PRE_STORE}}
    dst[i] = {{ACT}};
}

//!include gemm_core.wgsl
