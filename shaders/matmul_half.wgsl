// Batched matmul of packed half operands (float16 or bfloat16, KIND) with float32 accumulation:
// the tiling, parameters and grid of matmul.wgsl (64 x 64 blocks, 4 x 4 per invocation, 16-deep
// shared tiles), but every element is widened to f32 as it is loaded into the shared tiles, so no
// f32 copy of either operand is written. C is float32 [batch..., M, N]; the caller rounds it to
// the half dtype once (half_pack.wgsl). Kept a separate file so the f32 kernel can change freely.
// Bindings: 0 params, 1 a (packed halves), 2 b (packed halves), 3 dst (f32).

//!include strided.wgsl
//!include half_convert.wgsl

@group(0) @binding(1) var<storage, read> lhs: array<u32>;
@group(0) @binding(2) var<storage, read> rhs: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn load_lhs(e: u32) -> f32 {
    return bitcast<f32>({{KIND}}_to_f32_bits(half_at(lhs[e >> 1u], e)));
}

fn load_rhs(e: u32) -> f32 {
    return bitcast<f32>({{KIND}}_to_f32_bits(half_at(rhs[e >> 1u], e)));
}

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> tile_a: array<f32, 1024>; // [TK][TILE]: tile_a[k * TILE + row]
var<workgroup> tile_b: array<f32, 1024>; // [TK][TILE]: tile_b[k * TILE + col]

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

    var acc: array<f32, 16>;
    for (var q = 0u; q < 16u; q = q + 1u) {
        acc[q] = f32(0);
    }

    var k0 = 0u;
    while (k0 < k) {
        for (var q = 0u; q < 4u; q = q + 1u) {
            let l = lid + 256u * q;
            // A tile: 64 rows x 16 k, l -> (row l / 16, k l % 16).
            let ar = l / TK;
            let ak = l % TK;
            var av: f32 = f32(0);
            if (in_range && m0 + ar < m && k0 + ak < k) {
                av = load_lhs(u32(a_base + i32(m0 + ar) * a_rs + i32(k0 + ak) * a_cs));
            }
            tile_a[ak * TILE + ar] = av;
            // B tile: 16 k x 64 cols, l -> (k l / 64, col l % 64).
            let bk = l / TILE;
            let bc = l % TILE;
            var bv: f32 = f32(0);
            if (in_range && k0 + bk < k && n0 + bc < n) {
                bv = load_rhs(u32(b_base + i32(k0 + bk) * b_rs + i32(n0 + bc) * b_cs));
            }
            tile_b[bk * TILE + bc] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            var ra: array<f32, 4>;
            var rb: array<f32, 4>;
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
