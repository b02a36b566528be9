// Adadelta; see optim_common.wgsl. s0 square_avg, s1 acc_delta. Scalars: 0 lr, 1 rho,
// 2 1 - rho, 3 eps, 4 weight_decay; 7 flags: bit 1 maximize.

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
    let r = scalar_f32(1u);
    let orho = scalar_f32(2u);
    let eps = scalar_f32(3u);
    let wd = scalar_f32(4u);
    let sign = select(1.0, -1.0, flag(1u));
    let pi = offset_of(0u) + i;
    let si = offset_of(2u) + i;
    let ai = offset_of(3u) + i;
    let pv = p[pi];
    let gv = sign * g[offset_of(1u) + i] + wd * pv;
    let s = s0[si] * r + orho * gv * gv;
    s0[si] = s;
    let acc = s1[ai];
    let delta = sqrt(acc + eps) / sqrt(s + eps) * gv;
    s1[ai] = acc * r + orho * delta * delta;
    p[pi] = pv - lr * delta;
}
