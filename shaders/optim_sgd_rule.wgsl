// The SGD update of one element (momentum, dampening, Nesterov, weight decay, maximize), shared by
// the per-tensor kernel (optim_sgd.wgsl) and the group kernel (optim_group_sgd.wgsl), which
// differ only in how `ld`/`st` reach operand k (0 p, 1 g, 2 momentum buffer) and where `sc`/`fl`
// read the scalar words. Scalars: 0 lr, 1 momentum, 2 1 - dampening, 3 weight_decay; 7 flags:
// bit 0 nesterov, bit 1 maximize, bit 2 first step (the momentum buffer starts as the gradient),
// bit 3 momentum buffer present.

fn rule(i: u32) {
    let lr = sc(0u);
    let mom = sc(1u);
    let damp = sc(2u);
    let wd = sc(3u);
    let sign = select(1.0, -1.0, fl(1u));
    let pv = ld(0u, i);
    var d = sign * ld(1u, i) + wd * pv;
    if (fl(3u)) {
        var nm = d;
        if (!fl(2u)) {
            nm = mom * ld(2u, i) + damp * d;
        }
        st(2u, i, nm);
        d = select(nm, d + mom * nm, fl(0u));
    }
    st(0u, i, pv - lr * d);
}
