// Fused cross entropy backward: the gradient of cross_entropy.wgsl's loss with respect to the
// logits, one invocation per logit, from the saved per-row log-sum-exp (aux):
//   dx[c] = scale_r * ((1 - ls) * w[t] * (p_c - [c == t]) + (ls / C) * (W * p_c - w[c])),
// p_c = exp(x[c] - lse_r), W = sum_c w[c], scale_r = g[r] (none), g[0] (sum) or g[0] / D (mean);
// 0 for ignored (or out-of-range) rows. Scalars as cross_entropy.wgsl; numel = logits.
// Bindings: 0 params, 1 x, 2 idx, 3 w, 4 aux (read), 5 g (the loss gradient: rows values or
// one), 6 dx.

//!include strided.wgsl
//!include index.wgsl
//!include cross_entropy_common.wgsl

@group(0) @binding(4) var<storage, read> aux: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
// Declared for index.wgsl's `report`, which this kernel never calls (so it is not bound).
@group(0) @binding(7) var<storage, read_write> err: array<atomic<u32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid);
    if (e >= numel()) {
        return;
    }
    let classes = scalar(0u);
    let inner = scalar(1u);
    let rows = scalar(2u);
    let ls = smoothing();
    let flags = scalar(6u);
    let plane = classes * inner;
    let n = e / plane;
    let rem = e - n * plane;
    let c = rem / inner;
    let r = n * inner + (rem - c * inner);
    let tw = target_words(r);
    let t = resolve(tw, classes, false);
    if (is_ignored(tw) || t < 0) {
        dx[e] = 0.0;
        return;
    }
    var scale = g[params[21]];
    if ((flags & 2u) == 0u) {
        scale = g[params[21] + r];
    } else if ((flags & 4u) != 0u) {
        scale = scale / aux[rows];
    }
    let p = exp(x_at(e) - aux[r]);
    var d = (1.0 - ls) * class_weight(u32(t)) * (p - select(0.0, 1.0, u32(t) == c));
    if (ls > 0.0) {
        d = d + (ls / f32(classes)) * (aux[rows + 1u] * p - class_weight(c));
    }
    dx[e] = scale * d;
}
