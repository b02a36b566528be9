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
// the "B" image), 17 offset of W (mode 0/1) or dY (mode 2), 18 groups.
// Bindings: 0 params, 1 A source (W, or dY in mode 2), 2 B source (X, or dY in mode 1), 3 dst,
// 4 bias (BIAS_DECL variants).

//!include strided.wgsl
//!include geometry.wgsl
//!include math.wgsl

@group(0) @binding(1) var<storage, read> asrc: array<f32>;
@group(0) @binding(2) var<storage, read> bsrc: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
{{BIAS_DECL}}

const MODE: u32 = {{MODE}}u;

var<private> grp: u32;
var<private> split: u32;

fn gemm_begin(bt: u32) {
    grp = bt % geom(18u);
    split = bt / geom(18u);
}

fn k_range(bt: u32) -> vec2<u32> {
    if (MODE == 2u) {
        let per = scalar(3u);
        let s = (bt / geom(18u)) * per;
        return vec2<u32>(s, min(s + per, scalar(2u)));
    }
    return vec2<u32>(0u, scalar(2u));
}

// Image value X[n, c, iy, ix] (c within the group) for output position l and tap t of the
// kernel plane, or 0 in the padding.
fn image_tap(n: u32, c: u32, l: u32, t: u32) -> f32 {
    let ow = geom(6u);
    let kw = geom(4u);
    let iy = i32((l / ow) * geom(7u) + (t / kw) * geom(11u)) - geom_i(9u);
    let ix = i32((l % ow) * geom(8u) + (t % kw) * geom(12u)) - geom_i(10u);
    let h = geom_i(1u);
    let w = geom_i(2u);
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
        return 0.0;
    }
    let ch = n * geom(0u) + grp * geom(13u) + c;
    return bsrc[geom(16u) + (ch * geom(1u) + u32(iy)) * geom(2u) + u32(ix)];
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
        let o = kk / kk2;
        return asrc[geom(17u) + ((grp * og + o) * cg + row) * kk2 + kk % kk2];
    }
    // dY[n, grp * og + row, l] with kk = (n, l).
    let l_all = geom(5u) * geom(6u);
    let n = kk / l_all;
    return asrc[geom(17u) + (n * geom(18u) * og + grp * og + row) * l_all + kk % l_all];
}

fn load_b(kk: u32, col: u32) -> f32 {
    let kk2 = geom(3u) * geom(4u);
    let l_all = geom(5u) * geom(6u);
    if (MODE == 0u) {
        return image_tap(col / l_all, kk / kk2, col % l_all, kk % kk2);
    }
    if (MODE == 2u) {
        return image_tap(kk / l_all, col / kk2, kk % l_all, col % kk2);
    }
    // dY[n, grp * og + o, oy, ox] where (iy, ix) = col's position is tap (ki, kj) of (oy, ox).
    let hw = geom(1u) * geom(2u);
    let n = col / hw;
    let p = col % hw;
    let o = kk / kk2;
    let t = kk % kk2;
    let kw = geom(4u);
    let ty = i32(p / geom(2u)) + geom_i(9u) - i32((t / kw) * geom(11u));
    let tx = i32(p % geom(2u)) + geom_i(10u) - i32((t % kw) * geom(12u));
    let sh = geom_i(7u);
    let sw = geom_i(8u);
    if (ty < 0 || tx < 0 || ty % sh != 0 || tx % sw != 0) {
        return 0.0;
    }
    let oy = ty / sh;
    let ox = tx / sw;
    if (oy >= geom_i(5u) || ox >= geom_i(6u)) {
        return 0.0;
    }
    let ch = n * geom(18u) * geom(14u) + grp * geom(14u) + o;
    return bsrc[geom(16u) + (ch * geom(5u) + u32(oy)) * geom(6u) + u32(ox)];
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
