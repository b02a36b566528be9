// The Adam / AdamW update of one element (amsgrad, maximize), shared by the per-tensor kernel
// (optim_adam.wgsl) and the group kernel (optim_group_adam.wgsl); see optim_sgd_rule.wgsl for
// `ld`/`st`/`sc`/`fl`. Operands: 0 p, 1 g, 2 exp_avg, 3 exp_avg_sq, 4 max_exp_avg_sq (amsgrad).
// Scalars: 0 weight decay term (AdamW: the factor 1 - lr * wd the parameter is scaled by first;
// Adam: wd, added to the gradient), 1 1 - beta1, 2 beta2, 3 1 - beta2, 4 lr / bias_correction1,
// 5 sqrt(bias_correction2), 6 eps; 7 flags: bit 0 amsgrad, bit 1 maximize, bit 2 decoupled weight
// decay (AdamW).

fn rule(i: u32) {
    let wd_term = sc(0u);
    let ob1 = sc(1u);
    let b2 = sc(2u);
    let ob2 = sc(3u);
    let step_size = sc(4u);
    let bc2s = sc(5u);
    let eps = sc(6u);
    let decoupled = fl(2u);
    let wd_c = select(wd_term, 0.0, decoupled);
    let wd_d = select(1.0, wd_term, decoupled);
    let sign = select(1.0, -1.0, fl(1u));
    let pv = ld(0u, i) * wd_d;
    let gv = sign * ld(1u, i) + wd_c * pv;
    let ea = ld(2u, i);
    let m = ea + ob1 * (gv - ea);
    let v = b2 * ld(3u, i) + ob2 * gv * gv;
    st(2u, i, m);
    st(3u, i, v);
    var vv = v;
    if (fl(0u)) {
        let mb = ld(4u, i);
        vv = select(v, mb, mb > v);
        st(4u, i, vv);
    }
    let denom = sqrt(vv) / bc2s + eps;
    st(0u, i, pv - step_size * (m / denom));
}
