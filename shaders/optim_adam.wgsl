// Adam / AdamW on one parameter (the update rule is optim_adam_rule.wgsl); see optim_common.wgsl.

//!include strided.wgsl
//!include optim_common.wgsl
//!include optim_adam_rule.wgsl

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i < numel()) {
        rule(i);
    }
}
