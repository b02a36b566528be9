// im2col: the column matrix of a convolution, one invocation per column element. Logical element
// i is (n, c, ki, kj, oy, ox) row-major over [samples, C, KH, KW, OH, OW] (numel = all of them);
// it receives image[n, c, oy*SH + ki*DH - PH, ox*SW + kj*DW - PW], or 0 in the padding, at
// column (n, g, k, l) with g = c / CG, k = ((c % CG) * KH + ki) * KW + kj, l = oy * OW + ox.
// Geometry words: 0 C, 1 H, 2 W, 3 KH, 4 KW, 5 OH, 6 OW, 7 SH, 8 SW, 9 PH, 10 PW, 11 DH, 12 DW,
// 13 CG (channels per group), 14 image offset (the image is dense [samples, C, H, W] from there),
// 15..19 column strides for (n, g, k, l) (the column buffer starts at element 0).
// Bindings: 0 params, 1 image, 2 columns.

//!include strided.wgsl
//!include geometry.wgsl

@group(0) @binding(1) var<storage, read> image: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read_write> cols: array<{{DTYPE}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let c_all = geom(0u);
    let h = geom(1u);
    let w = geom(2u);
    let kh = geom(3u);
    let kw = geom(4u);
    let oh = geom(5u);
    let ow = geom(6u);
    var r = i;
    let ox = r % ow;
    r = r / ow;
    let oy = r % oh;
    r = r / oh;
    let kj = r % kw;
    r = r / kw;
    let ki = r % kh;
    r = r / kh;
    let c = r % c_all;
    let n = r / c_all;
    let iy = i32(oy * geom(7u) + ki * geom(11u)) - geom_i(9u);
    let ix = i32(ox * geom(8u) + kj * geom(12u)) - geom_i(10u);
    var v: {{DTYPE}} = {{DTYPE}}(0);
    if (iy >= 0 && iy < i32(h) && ix >= 0 && ix < i32(w)) {
        v = image[geom_i(14u) + i32((n * c_all + c) * h * w) + iy * i32(w) + ix];
    }
    let cg = geom(13u);
    let k = ((c % cg) * kh + ki) * kw + kj;
    let at = i32(n) * geom_i(15u) + i32(c / cg) * geom_i(16u) + i32(k) * geom_i(17u)
        + i32(oy * ow + ox) * geom_i(18u);
    cols[at] = v;
}
