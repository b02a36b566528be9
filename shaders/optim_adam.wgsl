// Adam / AdamW (amsgrad, maximize); see optim_common.wgsl. s0 exp_avg, s1 exp_avg_sq,
// s2 max_exp_avg_sq (amsgrad). Scalars: 0 weight decay term (AdamW: the factor 1 - lr * wd the
// parameter is scaled by first; Adam: wd, added to the gradient), 1 1 - beta1, 2 beta2,
// 3 1 - beta2, 4 lr / bias_correction1, 5 sqrt(bias_correction2), 6 eps; 7 flags: bit 0 amsgrad,
// bit 1 maximize, bit 2 decoupled weight decay (AdamW).

//!include strided.wgsl
//!include optim_common.wgsl

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let wd_term = scalar_f32(0u);
    let ob1 = scalar_f32(1u);
    let b2 = scalar_f32(2u);
    let ob2 = scalar_f32(3u);
    let step_size = scalar_f32(4u);
    let bc2s = scalar_f32(5u);
    let eps = scalar_f32(6u);
    let decoupled = flag(2u);
    let wd_c = select(wd_term, 0.0, decoupled);
    let wd_d = select(1.0, wd_term, decoupled);
    let sign = select(1.0, -1.0, flag(1u));
    let pi = offset_of(0u) + i;
    let ai = offset_of(2u) + i;
    let qi = offset_of(3u) + i;
    let pv = p[pi] * wd_d;
    let gv = sign * g[offset_of(1u) + i] + wd_c * pv;
    let ea = s0[ai];
    let m = ea + ob1 * (gv - ea);
    let v = b2 * s1[qi] + ob2 * gv * gv;
    s0[ai] = m;
    s1[qi] = v;
    var vv = v;
    if (flag(0u)) {
        let mi = offset_of(4u) + i;
        let mb = s2[mi];
        vv = select(v, mb, mb > v);
        s2[mi] = vv;
    }
    let denom = sqrt(vv) / bc2s + eps;
    p[pi] = pv - step_size * (m / denom);
}
