// Second pass of a fused cross entropy reduction over several workgroups (cross_entropy.wgsl,
// flag bit 3): one workgroup folds the G = ceil(rows / chunk) partial sums in a fixed order
// (invocation lid adds partials lid, lid + WG, ..., then a shared-memory tree), so the result is
// the same on every run. Writes the mean's denominator to aux[rows] and the loss (sum, or sum / D
// for mean; 0 / 0 = NaN as in PyTorch) to loss[0].
// Scalars as cross_entropy.wgsl: 2 rows, 6 flags (bit 2 mean), 7 chunk.
// Bindings: 0 params, 1 partials (G loss sums, then G weight sums), 2 loss, 3 aux.

//!include strided.wgsl
//!include pair_sum.wgsl

@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> aux: array<f32>;


@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) lid: u32) {
    let rows = scalar(2u);
    let chunk = scalar(7u);
    let groups = rows / chunk + select(0u, 1u, rows % chunk != 0u);
    var acc_l = 0.0;
    var acc_w = 0.0;
    for (var g = lid; g < groups; g = g + {{WG}}u) {
        acc_l = acc_l + partials[g];
        acc_w = acc_w + partials[groups + g];
    }
    pair_sum(lid, acc_l, acc_w);
    if (lid == 0u) {
        let d = part_w[0];
        aux[rows] = d;
        loss[0] = select(part_l[0], part_l[0] / d, (scalar(6u) & 4u) != 0u);
    }
}
