// SGD over several parameters in one dispatch: optim_group.wgsl with the rule of optim_sgd_rule.wgsl.

//!include strided.wgsl
//!include optim_group.wgsl
//!include optim_sgd_rule.wgsl
