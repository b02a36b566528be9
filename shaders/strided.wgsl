// Shared by every shader: the parameters buffer and the strided-index helpers (layout in README.md).
// Shaders that include this must set {{WG}} (their 1-D workgroup size).

@group(0) @binding(0) var<storage, read> params: array<u32>;

const MAX_DIMS: u32 = 8u;
const SHAPE0: u32 = 2u;
const SCALAR0: u32 = 10u;
const VIEW0: u32 = 18u;
const VIEW1: u32 = 28u;
const VIEW2: u32 = 38u;

fn numel() -> u32 {
    return params[0];
}

fn scalar(k: u32) -> u32 {
    return params[SCALAR0 + k];
}

// Linear id of this workgroup in a grid spread over x/y/z.
fn workgroup_linear(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.z * nwg.y + wid.y) * nwg.x + wid.x;
}

// Linear id of this invocation (one logical element per invocation).
fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return workgroup_linear(wid, nwg) * {{WG}}u + lid;
}

// Storage element of logical element `i` in the view whose descriptor starts at word `v`.
fn view_offset(v: u32, i: u32) -> i32 {
    let base = bitcast<i32>(params[v]);
    if (params[v + 1u] != 0u) {
        return base + i32(i);
    }
    var rem = i;
    var off = base;
    var d = params[1];
    while (d > 0u) {
        d = d - 1u;
        let size = params[SHAPE0 + d];
        off = off + i32(rem % size) * bitcast<i32>(params[v + 2u + d]);
        rem = rem / size;
    }
    return off;
}
