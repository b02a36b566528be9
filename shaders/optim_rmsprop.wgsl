// RMSprop (centered, momentum); see optim_common.wgsl. s0 square_avg, s1 momentum_buffer,
// s2 grad_avg (centered). Scalars: 0 lr, 1 alpha, 2 1 - alpha, 3 eps, 4 weight_decay,
// 5 momentum; 7 flags: bit 0 centered, bit 1 maximize, bit 3 momentum buffer present.

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
    let a = scalar_f32(1u);
    let oa = scalar_f32(2u);
    let eps = scalar_f32(3u);
    let wd = scalar_f32(4u);
    let mom = scalar_f32(5u);
    let sign = select(1.0, -1.0, flag(1u));
    let pi = offset_of(0u) + i;
    let si = offset_of(2u) + i;
    let pv = p[pi];
    let gv = sign * g[offset_of(1u) + i] + wd * pv;
    let s = s0[si] * a + oa * gv * gv;
    s0[si] = s;
    var avg: f32;
    if (flag(0u)) {
        let gi = offset_of(4u) + i;
        let m = s2[gi] + oa * (gv - s2[gi]);
        s2[gi] = m;
        avg = sqrt(s - m * m) + eps;
    } else {
        avg = sqrt(s) + eps;
    }
    if (flag(3u)) {
        let bi = offset_of(3u) + i;
        let nb = s1[bi] * mom + gv / avg;
        s1[bi] = nb;
        p[pi] = pv - lr * nb;
    } else {
        p[pi] = pv - lr * (gv / avg);
    }
}
