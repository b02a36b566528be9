// Batched matmul C[b] = A[b] @ B[b], A: M x K, B: K x N, both read through strides (so transposed
// and broadcast operands need no copy), C contiguous [batch..., M, N].
// Tiling: a workgroup of 16 x 16 invocations computes a 64 x 64 block of C, each invocation a 4 x 4
// register block (rows ty + 16r, cols tx + 16c); K advances in steps of 16 through workgroup tiles.
// params: shape = batch shape (numel = batch count, ndim 0 means one matrix), scalars:
// 0 M, 1 N, 2 K, 3 A row stride, 4 A col stride, 5 B row stride, 6 B col stride (i32 bits);
// view 0 = A's batch strides + offset, view 1 = B's batch strides + offset.
// Bindings: 0 params, 1 a, 2 b, 3 dst. Grid: (batch * tiles_m * tiles_n) workgroups over x/y/z.

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> lhs: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read> rhs: array<{{DTYPE}}>;
@group(0) @binding(3) var<storage, read_write> dst: array<{{DTYPE}}>;

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> tile_a: array<{{DTYPE}}, 1024>; // [TK][TILE]: tile_a[k * TILE + row]
var<workgroup> tile_b: array<{{DTYPE}}, 1024>; // [TK][TILE]: tile_b[k * TILE + col]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = scalar(0u);
    let n = scalar(1u);
    let k = scalar(2u);
    let a_rs = bitcast<i32>(scalar(3u));
    let a_cs = bitcast<i32>(scalar(4u));
    let b_rs = bitcast<i32>(scalar(5u));
    let b_cs = bitcast<i32>(scalar(6u));
    let tiles_n = (n + TILE - 1u) / TILE;
    let tiles_m = (m + TILE - 1u) / TILE;
    let wl = workgroup_linear(wid, nwg);
    let batch = wl / (tiles_m * tiles_n);
    let rem = wl % (tiles_m * tiles_n);
    let m0 = (rem / tiles_n) * TILE;
    let n0 = (rem % tiles_n) * TILE;
    // Uniform per workgroup, so every invocation still reaches every barrier.
    let in_range = batch < numel();
    var a_base = 0;
    var b_base = 0;
    if (in_range) {
        a_base = view_offset(VIEW0, batch);
        b_base = view_offset(VIEW1, batch);
    }
    let tx = local.x;
    let ty = local.y;

    var acc: array<{{DTYPE}}, 16>;
    for (var q = 0u; q < 16u; q = q + 1u) {
        acc[q] = {{DTYPE}}(0);
    }

    var k0 = 0u;
    while (k0 < k) {
        for (var q = 0u; q < 4u; q = q + 1u) {
            let l = lid + 256u * q;
            // A tile: 64 rows x 16 k, l -> (row l / 16, k l % 16).
            let ar = l / TK;
            let ak = l % TK;
            var av: {{DTYPE}} = {{DTYPE}}(0);
            if (in_range && m0 + ar < m && k0 + ak < k) {
                av = lhs[a_base + i32(m0 + ar) * a_rs + i32(k0 + ak) * a_cs];
            }
            tile_a[ak * TILE + ar] = av;
            // B tile: 16 k x 64 cols, l -> (k l / 64, col l % 64).
            let bk = l / TILE;
            let bc = l % TILE;
            var bv: {{DTYPE}} = {{DTYPE}}(0);
            if (in_range && k0 + bk < k && n0 + bc < n) {
                bv = rhs[b_base + i32(k0 + bk) * b_rs + i32(n0 + bc) * b_cs];
            }
            tile_b[bk * TILE + bc] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            var ra: array<{{DTYPE}}, 4>;
            var rb: array<{{DTYPE}}, 4>;
            for (var r = 0u; r < 4u; r = r + 1u) {
                ra[r] = tile_a[kk * TILE + ty + 16u * r];
                rb[r] = tile_b[kk * TILE + tx + 16u * r];
            }
            for (var r = 0u; r < 4u; r = r + 1u) {
                for (var c = 0u; c < 4u; c = c + 1u) {
                    acc[r * 4u + c] = acc[r * 4u + c] + ra[r] * rb[c];
                }
            }
        }
        workgroupBarrier();
        k0 = k0 + TK;
    }

    if (in_range) {
        let out_base = batch * m * n;
        for (var r = 0u; r < 4u; r = r + 1u) {
            let row = m0 + ty + 16u * r;
            for (var c = 0u; c < 4u; c = c + 1u) {
                let col = n0 + tx + 16u * c;
                if (row < m && col < n) {
                    dst[out_base + row * n + col] = acc[r * 4u + c];
                }
            }
        }
    }
}
