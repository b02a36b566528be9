// SGD (momentum, dampening, Nesterov, weight decay, maximize); see optim_common.wgsl.
// Scalars: 0 lr, 1 momentum, 2 1 - dampening, 3 weight_decay; 7 flags: bit 0 nesterov,
// bit 1 maximize, bit 2 first step (the momentum buffer starts as the gradient), bit 3 momentum
// buffer present (s0).

//!include strided.wgsl
//!include optim_common.wgsl

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let lr = scalar_f32(0u);
    let mom = scalar_f32(1u);
    let damp = scalar_f32(2u);
    let wd = scalar_f32(3u);
    let sign = select(1.0, -1.0, flag(1u));
    let pi = offset_of(0u) + i;
    let pv = p[pi];
    var d = sign * g[offset_of(1u) + i] + wd * pv;
    if (flag(3u)) {
        let bi = offset_of(2u) + i;
        var nm = d;
        if (!flag(2u)) {
            nm = mom * s0[bi] + damp * d;
        }
        s0[bi] = nm;
        d = select(nm, d + mom * nm, flag(0u));
    }
    p[pi] = pv - lr * d;
}
