// col2im in gather form: one invocation per image element (n, c, iy, ix), row-major over
// [samples, C, H, W] (numel = all of them), sums the column entries that im2col took from it, in
// (ki, kj) order, and writes the total once. No atomics; the order is fixed, so the result is
// deterministic (and sums in the order of the CPU's col2im).
// Geometry words: as conv_unfold.wgsl (word 14 is the offset of the dense output image).
// Bindings: 0 params, 1 columns, 2 image (read_write).

//!include strided.wgsl
//!include geometry.wgsl

@group(0) @binding(1) var<storage, read> cols: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read_write> image: array<{{DTYPE}}>;

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
    let sh = geom_i(7u);
    let sw = geom_i(8u);
    let dh = geom_i(11u);
    let dw = geom_i(12u);
    let cg = geom(13u);
    var r = i;
    let ix = r % w;
    r = r / w;
    let iy = r % h;
    r = r / h;
    let c = r % c_all;
    let n = r / c_all;
    let base = i32(n) * geom_i(15u) + i32(c / cg) * geom_i(16u);
    let ck = geom_i(17u);
    let cl = geom_i(18u);
    let row0 = (c % cg) * kh;
    var acc: {{DTYPE}} = {{DTYPE}}(0);
    for (var ki = 0u; ki < kh; ki = ki + 1u) {
        let ty = i32(iy) + geom_i(9u) - i32(ki) * dh;
        if (ty < 0 || ty % sh != 0 || ty / sh >= i32(oh)) {
            continue;
        }
        let oy = ty / sh;
        for (var kj = 0u; kj < kw; kj = kj + 1u) {
            let tx = i32(ix) + geom_i(10u) - i32(kj) * dw;
            if (tx < 0 || tx % sw != 0 || tx / sw >= i32(ow)) {
                continue;
            }
            let k = (row0 + ki) * kw + kj;
            acc = acc + cols[base + i32(k) * ck + (oy * i32(ow) + tx / sw) * cl];
        }
    }
    image[geom_i(14u) + i32(i)] = acc;
}
