// Writes at raw storage offsets (`x[idx] = v`): dst[resolve(idx[view1(i)])] = vals[view0(i)],
// where a later duplicate offset wins, as on the CPU, without relying on write order: pass 0
// claims every target with atomicMax(claim[offset], i + 1), pass 1 writes only where an
// invocation's claim won. Scalars: 0 pass (0/1), 1 size (dst elements), 2 error code.
// A bad offset is skipped and reported (pass 0). DTYPE is the storage word (u32 or vec2<u32>).
// Bindings: 0 params, 1 vals, 2 idx, 3 dst (the whole storage, 1-d), 4 claim (zeroed u32 per
// dst element), 5 err.

//!include strided.wgsl
//!include index.wgsl

@group(0) @binding(1) var<storage, read> vals: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read> idx: array<{{IDX_T}}>;
@group(0) @binding(3) var<storage, read_write> dst: array<{{DTYPE}}>;
@group(0) @binding(4) var<storage, read_write> claim: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> err: array<atomic<u32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let size = scalar(1u);
    let w = index_words(view_offset(VIEW1, i));
    let r = resolve(w, size, false);
    if (r < 0) {
        if (scalar(0u) == 0u) {
            report(scalar(2u), w, 0u, size);
        }
        return;
    }
    if (scalar(0u) == 0u) {
        atomicMax(&claim[r], i + 1u);
    } else if (atomicLoad(&claim[r]) == i + 1u) {
        dst[r] = vals[view_offset(VIEW0, i)];
    }
}
