// The register-blocked GEMM core shared by matmul and the implicit-GEMM convolutions. A file that
// includes it first defines the operands (its own bindings) through these hooks:
//   fn gemm_begin(bt: u32)                 per-workgroup set-up for batch entry `bt` (< numel())
//   fn k_range(bt: u32) -> vec2<u32>       the [start, end) of the reduction index for `bt`
//   fn load_a(row: u32, kk: u32) -> f32    A[row, kk]  (called only for row < M, kk in range)
//   fn load_b(kk: u32, col: u32) -> f32    B[kk, col]  (called only for col < N, kk in range)
//   fn load_a4(row, kk) -> vec4<f32>       A[row, kk..kk+4]    (VEC variants only)
//   fn load_b4(kk, col) -> vec4<f32>       B[kk..kk+4, col] if B_K_FAST, else B[kk, col..col+4]
//   fn store(row: u32, col: u32, v: f32)   write C[row, col] (the epilogue lives here)
// Scalars 0 M, 1 N, 2 K (an upper bound of k_range's end). Grid: numel() * tiles_m * tiles_n
// workgroups over x/y/z, each computing a TM x TN block of C with a WY x WX grid of invocations
// that own RM x RN outputs each (rows 4 * (ty + WY * i) + r, columns 4 * (tx + WX * j) + c).
// Accumulation is plain f32 multiply-add in k order.
// Shared tiles hold vec4s of 4 consecutive rows (A) / columns (B) for one k, with one vec4 of
// padding per k so that stores of consecutive k fall into different banks.

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const TK: u32 = {{TK}}u;
const RM: u32 = {{RM}}u;
const RN: u32 = {{RN}}u;
const WX: u32 = {{WX}}u;
const WY: u32 = {{WY}}u;
const NT: u32 = WX * WY;
const SA: u32 = TM / 4u + 1u;
const SB: u32 = TN / 4u + 1u;
// Global loads: VEC = 4-wide loads (A along k; B along k or n); else scalar loads in the order
// that keeps consecutive invocations on consecutive addresses of each operand.
const VEC: bool = {{VEC}};
const A_K_FAST: bool = {{A_K_FAST}};
const B_K_FAST: bool = {{B_K_FAST}};

var<workgroup> sa: array<vec4<f32>, {{SA_LEN}}>;
var<workgroup> sb: array<vec4<f32>, {{SB_LEN}}>;

fn put_a(kk: u32, row: u32, v: f32) {
    sa[kk * SA + row / 4u][row % 4u] = v;
}

fn put_b(kk: u32, col: u32, v: f32) {
    sb[kk * SB + col / 4u][col % 4u] = v;
}

@compute @workgroup_size({{WX}}, {{WY}}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = scalar(0u);
    let n = scalar(1u);
    let tiles_n = (n + TN - 1u) / TN;
    let tiles_m = (m + TM - 1u) / TM;
    let wl = workgroup_linear(wid, nwg);
    let bt = wl / (tiles_m * tiles_n);
    let rem = wl % (tiles_m * tiles_n);
    let m0 = (rem / tiles_n) * TM;
    let n0 = (rem % tiles_n) * TN;
    // Uniform per workgroup, so every invocation still reaches every barrier.
    let in_range = bt < numel();
    var kr = vec2<u32>(0u, 0u);
    if (in_range) {
        gemm_begin(bt);
        kr = k_range(bt);
    }
    let tx = local.x;
    let ty = local.y;

    var acc: array<vec4<f32>, {{ACC_LEN}}>;
    for (var q = 0u; q < RM * RN / 4u; q = q + 1u) {
        acc[q] = vec4<f32>(0.0);
    }

    var k0 = kr.x;
    while (k0 < kr.y) {
        if (VEC) {
            for (var q = 0u; q < TM * TK / 4u; q = q + NT) {
                let l = q + lid;
                let ar = l / (TK / 4u);
                let ak = (l % (TK / 4u)) * 4u;
                var v = vec4<f32>(0.0);
                if (m0 + ar < m && k0 + ak < kr.y) {
                    v = load_a4(m0 + ar, k0 + ak);
                }
                put_a(ak, ar, v.x);
                put_a(ak + 1u, ar, v.y);
                put_a(ak + 2u, ar, v.z);
                put_a(ak + 3u, ar, v.w);
            }
            for (var q = 0u; q < TN * TK / 4u; q = q + NT) {
                let l = q + lid;
                if (B_K_FAST) {
                    let bc = l / (TK / 4u);
                    let bk = (l % (TK / 4u)) * 4u;
                    var v = vec4<f32>(0.0);
                    if (n0 + bc < n && k0 + bk < kr.y) {
                        v = load_b4(k0 + bk, n0 + bc);
                    }
                    put_b(bk, bc, v.x);
                    put_b(bk + 1u, bc, v.y);
                    put_b(bk + 2u, bc, v.z);
                    put_b(bk + 3u, bc, v.w);
                } else {
                    let bk = l / (TN / 4u);
                    let bc = (l % (TN / 4u)) * 4u;
                    var v = vec4<f32>(0.0);
                    if (n0 + bc < n && k0 + bk < kr.y) {
                        v = load_b4(k0 + bk, n0 + bc);
                    }
                    sb[bk * SB + bc / 4u] = v;
                }
            }
        } else {
            for (var q = 0u; q < TM * TK; q = q + NT) {
                let l = q + lid;
                var ar = l % TM;
                var ak = l / TM;
                if (A_K_FAST) {
                    ar = l / TK;
                    ak = l % TK;
                }
                var v = 0.0;
                if (m0 + ar < m && k0 + ak < kr.y) {
                    v = load_a(m0 + ar, k0 + ak);
                }
                put_a(ak, ar, v);
            }
            for (var q = 0u; q < TN * TK; q = q + NT) {
                let l = q + lid;
                var bc = l % TN;
                var bk = l / TN;
                if (B_K_FAST) {
                    bc = l / TK;
                    bk = l % TK;
                }
                var v = 0.0;
                if (n0 + bc < n && k0 + bk < kr.y) {
                    v = load_b(k0 + bk, n0 + bc);
                }
                put_b(bk, bc, v);
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            var ra: array<vec4<f32>, {{RA_LEN}}>;
            var rb: array<vec4<f32>, {{RB_LEN}}>;
            for (var i = 0u; i < RM / 4u; i = i + 1u) {
                ra[i] = sa[kk * SA + ty + WY * i];
            }
            for (var j = 0u; j < RN / 4u; j = j + 1u) {
                rb[j] = sb[kk * SB + tx + WX * j];
            }
            for (var i = 0u; i < RM / 4u; i = i + 1u) {
                for (var r = 0u; r < 4u; r = r + 1u) {
                    let av = vec4<f32>(ra[i][r]);
                    for (var j = 0u; j < RN / 4u; j = j + 1u) {
                        let q = (i * 4u + r) * (RN / 4u) + j;
                        acc[q] = fma(av, rb[j], acc[q]);
                    }
                }
            }
        }
        workgroupBarrier();
        k0 = k0 + TK;
    }

    if (in_range) {
        for (var i = 0u; i < RM / 4u; i = i + 1u) {
            for (var r = 0u; r < 4u; r = r + 1u) {
                let row = m0 + (ty + WY * i) * 4u + r;
                if (row >= m) {
                    continue;
                }
                for (var j = 0u; j < RN / 4u; j = j + 1u) {
                    let v = acc[(i * 4u + r) * (RN / 4u) + j];
                    let col = n0 + (tx + WX * j) * 4u;
                    for (var c = 0u; c < 4u; c = c + 1u) {
                        if (col + c < n) {
                            store(row, col + c, v[c]);
                        }
                    }
                }
            }
        }
    }
}
