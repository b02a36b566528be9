// Fused cross entropy forward (log_softmax + nll_loss in one kernel): per row the max, the
// log-sum-exp, the target's term, class weights, ignore_index and label smoothing, and the
// reduction. PyTorch's rule per row r with target t (not ignored):
//   loss_r = (1 - ls) * w[t] * (lse - x[t]) + (ls / C) * sum_c w[c] * (lse - x[c]);
// mean = sum_r loss_r / sum_r w[t_r] (over rows not ignored; 0/0 = NaN as in PyTorch), sum =
// sum_r loss_r, none = loss_r (0 where ignored). An out-of-range target is skipped and reported
// through the device error flag (like gather).
// Input x: contiguous [N, C, inner]; row r = n * inner + s, its class c at (n * C + c) * inner + s.
// Scalars: 0 C, 1 inner, 2 rows, 3/4 ignore_index words (lo, hi), 5 label smoothing (f32 bits),
// 6 flags: bit 0 class weights bound, bit 1 reduce, bit 2 mean, bit 3 partials (below),
// 7 chunk: rows per workgroup when reducing.
// Reducing (WGSL has no float atomics): workgroup g folds rows [g * chunk, (g + 1) * chunk) in a
// fixed order (invocation lid takes rows lid, lid + WG, ..., then a shared-memory tree). With one
// workgroup (rows <= chunk) it writes the loss itself; with G > 1 (bit 3) it writes its loss sum to
// partials[g] and its weight sum to partials[G + g], and cross_entropy_reduce.wgsl folds those in
// a second dispatch. Nothing depends on timing, so every run gives the same bits.
// Outputs: loss (rows values, or 1 when reducing); aux: lse of each row (0 where ignored), then
// the mean's denominator, then sum_c w[c] (what the backward kernel needs).
// Words 18..22: element offsets of x, the targets, w and g (backward).
// Bindings: 0 params, 1 x, 2 idx (int64 targets), 3 w (a dummy without weights), 4 loss, 5 aux,
// 6 err, 7 partials (a dummy unless bit 3).

//!include strided.wgsl
//!include math.wgsl
//!include index.wgsl
//!include cross_entropy_common.wgsl
//!include pair_sum.wgsl

@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> aux: array<f32>;
@group(0) @binding(6) var<storage, read_write> err: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;

// The class row r's target names; -1 when it is ignore_index or out of range (reported).
fn target_of(r: u32, classes: u32) -> i32 {
    let t = target_words(r);
    if (is_ignored(t)) {
        return -1;
    }
    let c = resolve(t, classes, false);
    if (c < 0) {
        report(2u, t, 1u, classes);
    }
    return c;
}


@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let classes = scalar(0u);
    let inner = scalar(1u);
    let rows = scalar(2u);
    let ls = smoothing();
    let reduce = (scalar(6u) & 2u) != 0u;
    let gid = linear_id(wid, nwg, lid);
    if (gid == 0u) {
        var wsum = 0.0;
        for (var c = 0u; c < classes; c = c + 1u) {
            wsum = wsum + class_weight(c);
        }
        aux[rows + 1u] = wsum;
    }
    // `none`: one row per invocation over the grid. Reducing: this workgroup's chunk of rows.
    let wg = workgroup_linear(wid, nwg);
    var first = gid;
    var end = rows;
    var stride = {{WG}}u * nwg.x * nwg.y * nwg.z;
    let chunk = scalar(7u);
    if (reduce) {
        // The grid may be spread into more workgroups than chunks; those get an empty range.
        let start = min(wg * chunk, rows);
        first = start + lid;
        end = start + min(chunk, rows - start);
        stride = {{WG}}u;
    }
    var acc_l = 0.0;
    var acc_w = 0.0;
    for (var r = first; r < end; r = r + stride) {
        let n = r / inner;
        let base = n * classes * inner + (r - n * inner);
        let t = target_of(r, classes);
        var row_loss = 0.0;
        var lse = 0.0;
        if (t >= 0) {
            let neg_inf = bitcast<f32>(0xff800000u);
            var m = neg_inf;
            for (var c = 0u; c < classes; c = c + 1u) {
                m = maximum_f32(m, x_at(base + c * inner));
            }
            // As the CPU kernel: a row of -inf shifts by 0 (its result is NaN).
            let shift = select(m, 0.0, m == neg_inf);
            var se = 0.0;
            for (var c = 0u; c < classes; c = c + 1u) {
                se = se + exp(x_at(base + c * inner) - shift);
            }
            lse = shift + log(se);
            let wt = class_weight(u32(t));
            row_loss = (1.0 - ls) * wt * (lse - x_at(base + u32(t) * inner));
            if (ls > 0.0) {
                var smooth_sum = 0.0;
                for (var c = 0u; c < classes; c = c + 1u) {
                    smooth_sum = smooth_sum + class_weight(c) * (lse - x_at(base + c * inner));
                }
                row_loss = row_loss + (ls / f32(classes)) * smooth_sum;
            }
            acc_w = acc_w + wt;
        }
        aux[r] = lse;
        if (!reduce) {
            loss[r] = row_loss;
        }
        acc_l = acc_l + row_loss;
    }
    pair_sum(lid, acc_l, acc_w);
    if (reduce && lid == 0u) {
        if ((scalar(6u) & 8u) != 0u) {
            let groups = rows / chunk + select(0u, 1u, rows % chunk != 0u);
            if (wg < groups) {
                partials[wg] = part_l[0];
                partials[groups + wg] = part_w[0];
            }
        } else {
            let d = part_w[0];
            aux[rows] = d;
            loss[0] = select(part_l[0], part_l[0] / d, (scalar(6u) & 4u) != 0u);
        }
    }
}
