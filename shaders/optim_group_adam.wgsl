// Adam / AdamW over several parameters in one dispatch: optim_group.wgsl with the rule of optim_adam_rule.wgsl.

//!include strided.wgsl
//!include optim_group.wgsl
//!include optim_adam_rule.wgsl
