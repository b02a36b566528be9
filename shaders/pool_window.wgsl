// Window geometry shared by the pool_* shaders; include after strided.wgsl and geometry.wgsl.
// Geometry words: 0 H, 1 W, 2 OH, 3 OW, 4 KH, 5 KW, 6 SH, 7 SW, 8 PH, 9 PW, 10 DH, 11 DW,
// 12 flags (bit 0 adaptive windows, bit 1 count_include_pad, bit 2 divisor override), 13 the
// divisor override (f32 bits), 14 offset of the input (dense planes of H x W from there),
// 15 offset of the int64 indices (pool_max_backward.wgsl). Planes are independent; outputs are
// dense planes of OH x OW at element 0.

fn adaptive() -> bool {
    return (geom(12u) & 1u) != 0u;
}

// Adaptive window `o` of `out` over `len` (PyTorch): [floor(o * len / out), ceil((o + 1) * len / out)).
fn adaptive_start(o: u32, len: u32, out: u32) -> u32 {
    return o * len / out;
}

fn adaptive_end(o: u32, len: u32, out: u32) -> u32 {
    return ((o + 1u) * len + out - 1u) / out;
}

// The outputs whose adaptive windows hold input `i` of `len`: [first, last) in ascending order.
fn adaptive_first(i: u32, len: u32, out: u32) -> u32 {
    return i * out / len;
}

fn adaptive_last(i: u32, len: u32, out: u32) -> u32 {
    return min(((i + 1u) * out + len - 1u) / len, out);
}

// Clipped window [y0, y1) x [x0, x1) of average-pooling output (oy, ox) and the divisor of its
// sum, as in PoolGeom::avg_window: (y0, y1, x0, x1) in .xyzw, the divisor returned separately.
struct AvgWindow {
    bounds: vec4<i32>,
    divisor: f32,
}

fn avg_window(oy: u32, ox: u32) -> AvgWindow {
    let h = i32(geom(0u));
    let w = i32(geom(1u));
    var out: AvgWindow;
    if (adaptive()) {
        let y0 = adaptive_start(oy, geom(0u), geom(2u));
        let y1 = adaptive_end(oy, geom(0u), geom(2u));
        let x0 = adaptive_start(ox, geom(1u), geom(3u));
        let x1 = adaptive_end(ox, geom(1u), geom(3u));
        out.bounds = vec4<i32>(i32(y0), i32(y1), i32(x0), i32(x1));
        out.divisor = f32((y1 - y0) * (x1 - x0));
        return out;
    }
    let ph = geom_i(8u);
    let pw = geom_i(9u);
    let ys = i32(oy * geom(6u)) - ph;
    let xs = i32(ox * geom(7u)) - pw;
    let ye = min(ys + geom_i(4u), h + ph);
    let xe = min(xs + geom_i(5u), w + pw);
    let y0 = max(ys, 0);
    let x0 = max(xs, 0);
    let y1 = min(ye, h);
    let x1 = min(xe, w);
    let flags = geom(12u);
    if ((flags & 4u) != 0u) {
        out.divisor = bitcast<f32>(geom(13u));
    } else if ((flags & 2u) != 0u) {
        out.divisor = f32((ye - ys) * (xe - xs));
    } else {
        out.divisor = f32(max(y1 - y0, 0) * max(x1 - x0, 0));
    }
    out.bounds = vec4<i32>(y0, max(y1, y0), x0, max(x1, x0));
    return out;
}
