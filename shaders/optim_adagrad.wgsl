// Adagrad; see optim_common.wgsl. s0 is the squared-gradient sum. Scalars: 0 clr (lr decayed
// by step), 1 weight_decay, 2 eps; 7 flags: bit 1 maximize.

//!include strided.wgsl
//!include optim_common.wgsl

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let clr = scalar_f32(0u);
    let wd = scalar_f32(1u);
    let eps = scalar_f32(2u);
    let sign = select(1.0, -1.0, flag(1u));
    let pi = offset_of(0u) + i;
    let si = offset_of(2u) + i;
    let pv = p[pi];
    let gv = sign * g[offset_of(1u) + i] + wd * pv;
    let ns = s0[si] + gv * gv;
    s0[si] = ns;
    p[pi] = pv - clr * (gv / (sqrt(ns) + eps));
}
