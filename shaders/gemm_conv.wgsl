// Implicit-GEMM convolution on the GEMM core (gemm_core.wgsl): the operands are the weight, the
// image and the output gradient read in place, the im2col / col2im addresses computed while a
// tile is loaded (no column buffer). One GEMM per group (batch entry = group, times the K
// split for the weight gradient). MODE selects the product (ConvGeom names):
//   0 forward:         Y[o, (n, l)]        = W[o, (c, ki, kj)] . X[(c, ki, kj), (n, l)]
//   1 input gradient:  dX[c, (n, iy, ix)]  = W^T[c, (o, ki, kj)] . dY[(o, ki, kj), (n, iy, ix)]
//   2 weight gradient: dW[o, (c, ki, kj)]  = dY[o, (n, l)] . X^T[(n, l), (c, ki, kj)]
// with o, c within the group. The input gradient gathers dY at oy = (iy + ph - ki * dh) / sh
// where that divides exactly (taps that miss are zeros of the product).
// params: numel = batch entries (groups * splits), scalars 0 M, 1 N, 2 K, 3 K per split (mode 2),
// 4 bias offset; geometry words (geometry.wgsl): 0 C, 1 H, 2 W, 3 KH, 4 KW, 5 OH, 6 OW, 7 SH,
// 8 SW, 9 PH, 10 PW, 11 DH, 12 DW, 13 CG, 14 OG, 15 batch N, 16 offset of X (or dY in mode 1 as
// the "B" image), 17 offset of W (mode 0/1) or dY (mode 2), 18 groups, 19..26 the f32 bits of
// 1 / (KH * KW), 1 / KW, 1 / OW, 1 / (OH * OW), 1 / W, 1 / (H * W), 1 / SH, 1 / SW.
// Bindings: 0 params, 1 A source (W, or dY in mode 2), 2 B source (X, or dY in mode 1), 3 dst,
// 4 bias (BIAS_DECL variants). FAST_DIV: every address index and divisor is below 2^22 (see
// fast_divmod.wgsl); false takes exact u32 division (also forced by
// rustgrad.wgpu.force_exact_conv_division for tests).

//!include strided.wgsl
//!include geometry.wgsl
//!include math.wgsl
//!include fast_divmod.wgsl

@group(0) @binding(1) var<storage, read> asrc: array<f32>;
@group(0) @binding(2) var<storage, read> bsrc: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
{{BIAS_DECL}}

const MODE: u32 = {{MODE}}u;
// Address arithmetic: every index and divisor below 2^22 (the host checks) lets divisions go
// through an f32 reciprocal with one correction step (fast_divmod.wgsl), exact, and cheap where u32
// division is not (lavapipe lowers it to one scalar divide per lane).
const FAST_DIV: bool = {{FAST_DIV}};

var<private> grp: u32;
var<private> split: u32;
// Reciprocals of the divisors (computed on the host, correctly rounded: fast_divmod.wgsl).
var<private> r_kk2: f32;
var<private> r_kw: f32;
var<private> r_ow: f32;
var<private> r_lall: f32;
var<private> r_w: f32;
var<private> r_hw: f32;
var<private> r_sh: f32;
var<private> r_sw: f32;

// The decomposition of the last B column this invocation loaded. The core keeps an invocation on
// the same column(s) for the whole K loop, so the per-column (n, oy, ox) / (c, ky, kx) work is
// done once, not once per tile element; another column simply recomputes.
var<private> col_key: u32 = 0xffffffffu;
var<private> col_base: u32;
var<private> col_y: i32;
var<private> col_x: i32;

fn divmod(a: u32, b: u32, rb: f32) -> vec2<u32> {
    if (!FAST_DIV) {
        return vec2<u32>(a / b, a % b);
    }
    return divmod_fast(a, b, rb);
}

fn gemm_begin(bt: u32) {
    grp = bt % geom(18u);
    split = bt / geom(18u);
    r_kk2 = bitcast<f32>(geom(19u));
    r_kw = bitcast<f32>(geom(20u));
    r_ow = bitcast<f32>(geom(21u));
    r_lall = bitcast<f32>(geom(22u));
    r_w = bitcast<f32>(geom(23u));
    r_hw = bitcast<f32>(geom(24u));
    r_sh = bitcast<f32>(geom(25u));
    r_sw = bitcast<f32>(geom(26u));
}

fn k_range(bt: u32) -> vec2<u32> {
    if (MODE == 2u) {
        let per = scalar(3u);
        let s = (bt / geom(18u)) * per;
        return vec2<u32>(s, min(s + per, scalar(2u)));
    }
    return vec2<u32>(0u, scalar(2u));
}

// X at channel offset `base` (element of channel 0 of this plane set) and row/column (iy, ix),
// or 0 in the padding.
fn image_at(base: u32, iy: i32, ix: i32) -> f32 {
    if (iy < 0 || iy >= geom_i(1u) || ix < 0 || ix >= geom_i(2u)) {
        return 0.0;
    }
    return bsrc[base + u32(iy) * geom(2u) + u32(ix)];
}

fn load_a(row: u32, kk: u32) -> f32 {
    let kk2 = geom(3u) * geom(4u);
    let og = geom(14u);
    let cg = geom(13u);
    if (MODE == 0u) {
        // W[grp * og + row, kk] with kk = (c, tap): W is [O, CG * KH * KW] row-major.
        return asrc[geom(17u) + (grp * og + row) * cg * kk2 + kk];
    }
    if (MODE == 1u) {
        // W[grp * og + o, row, tap] with kk = (o, tap).
        let ot = divmod(kk, kk2, r_kk2);
        return asrc[geom(17u) + ((grp * og + ot.x) * cg + row) * kk2 + ot.y];
    }
    // dY[n, grp * og + row, l] with kk = (n, l).
    let l_all = geom(5u) * geom(6u);
    let nl = divmod(kk, l_all, r_lall);
    return asrc[geom(17u) + (nl.x * geom(18u) * og + grp * og + row) * l_all + nl.y];
}

fn load_b(kk: u32, col: u32) -> f32 {
    let kk2 = geom(3u) * geom(4u);
    let l_all = geom(5u) * geom(6u);
    let hw = geom(1u) * geom(2u);
    if (MODE == 0u) {
        // Column (n, oy, ox): the image plane of n and the window's top-left corner.
        if (col != col_key) {
            col_key = col;
            let nl = divmod(col, l_all, r_lall);
            let yx = divmod(nl.y, geom(6u), r_ow);
            col_base = geom(16u) + (nl.x * geom(0u) + grp * geom(13u)) * hw;
            col_y = i32(yx.x * geom(7u)) - geom_i(9u);
            col_x = i32(yx.y * geom(8u)) - geom_i(10u);
        }
        // Row (c, ky, kx).
        let ct = divmod(kk, kk2, r_kk2);
        let kyx = divmod(ct.y, geom(4u), r_kw);
        return image_at(col_base + ct.x * hw, col_y + i32(kyx.x * geom(11u)), col_x + i32(kyx.y * geom(12u)));
    }
    if (MODE == 2u) {
        // Column (c, ky, kx): the channel plane and the tap's offsets.
        if (col != col_key) {
            col_key = col;
            let ct = divmod(col, kk2, r_kk2);
            let kyx = divmod(ct.y, geom(4u), r_kw);
            col_base = geom(16u) + (grp * geom(13u) + ct.x) * hw;
            col_y = i32(kyx.x * geom(11u)) - geom_i(9u);
            col_x = i32(kyx.y * geom(12u)) - geom_i(10u);
        }
        // Row (n, oy, ox).
        let nl = divmod(kk, l_all, r_lall);
        let yx = divmod(nl.y, geom(6u), r_ow);
        return image_at(col_base + nl.x * geom(0u) * hw, col_y + i32(yx.x * geom(7u)), col_x + i32(yx.y * geom(8u)));
    }
    // dY[n, grp * og + o, oy, ox] where (iy, ix) = col's position is tap (ki, kj) of (oy, ox).
    if (col != col_key) {
        // Column (n, iy, ix): dY's plane of n in this group and (iy + ph, ix + pw).
        col_key = col;
        let np = divmod(col, hw, r_hw);
        let yx = divmod(np.y, geom(2u), r_w);
        col_base = (np.x * geom(18u) + grp) * geom(14u);
        col_y = i32(yx.x) + geom_i(9u);
        col_x = i32(yx.y) + geom_i(10u);
    }
    // Row (o, ki, kj).
    let ot = divmod(kk, kk2, r_kk2);
    let kyx = divmod(ot.y, geom(4u), r_kw);
    let ty = col_y - i32(kyx.x * geom(11u));
    let tx = col_x - i32(kyx.y * geom(12u));
    if (ty < 0 || tx < 0) {
        return 0.0;
    }
    let qy = divmod(u32(ty), geom(7u), r_sh);
    let qx = divmod(u32(tx), geom(8u), r_sw);
    if (qy.y != 0u || qx.y != 0u || qy.x >= geom(5u) || qx.x >= geom(6u)) {
        return 0.0;
    }
    let ch = col_base + ot.x;
    return bsrc[geom(16u) + (ch * geom(5u) + qy.x) * geom(6u) + qx.x];
}

fn load_a4(row: u32, kk: u32) -> vec4<f32> {
    return vec4<f32>(load_a(row, kk), load_a(row, kk + 1u), load_a(row, kk + 2u), load_a(row, kk + 3u));
}

fn load_b4(kk: u32, col: u32) -> vec4<f32> {
    return vec4<f32>(load_b(kk, col), load_b(kk + 1u, col), load_b(kk + 2u, col), load_b(kk + 3u, col));
}

fn store(row: u32, col: u32, acc: f32) {
    var v = acc;
    if (MODE == 0u) {
        // Y[n, grp * og + row, l]
        let l_all = geom(5u) * geom(6u);
        let o = grp * geom(14u) + row;
        v = v + {{BIAS}};
        dst[((col / l_all) * geom(18u) * geom(14u) + o) * l_all + col % l_all] = {{ACT}};
    } else if (MODE == 1u) {
        // dX[n, grp * cg + row, p]
        let hw = geom(1u) * geom(2u);
        dst[((col / hw) * geom(0u) + grp * geom(13u) + row) * hw + col % hw] = v;
    } else {
        // Split `split` of dW[grp * og + row, col], the splits [S, O, CG * KH * KW] apart.
        let per_o = scalar(1u);
        let o_all = geom(18u) * geom(14u);
        dst[(split * o_all + grp * geom(14u) + row) * per_o + col] = v;
    }
}

//!include gemm_core.wgsl
