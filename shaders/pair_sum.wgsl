// Workgroup tree sum of two running totals per invocation (a loss and a weight), in a fixed order
// so the result is the same on every run: after `pair_sum(lid, l, w)` returns, part_l[0] and
// part_w[0] hold the workgroup's sums. Call it in uniform control flow (it has barriers).
// Shared by the fused cross entropy forward and its second pass, cross_entropy_reduce.wgsl.

var<workgroup> part_l: array<f32, {{WG}}>;
var<workgroup> part_w: array<f32, {{WG}}>;

fn pair_sum(lid: u32, l: f32, w: f32) {
    part_l[lid] = l;
    part_w[lid] = w;
    workgroupBarrier();
    var s = {{WG}}u / 2u;
    while (s > 0u) {
        if (lid < s) {
            part_l[lid] = part_l[lid] + part_l[lid + s];
            part_w[lid] = part_w[lid] + part_w[lid + s];
        }
        workgroupBarrier();
        s = s / 2u;
    }
}
