//! Dynamic-tape autograd. Ops call [`record`] after computing their outputs; it creates a
//! [`Node`] only when grad mode is on and some input requires grad. `engine` walks the graph.

mod engine;
mod grad_mode;
mod node;
mod saved;

pub use engine::{backward, grad, graph_is_large};
pub use grad_mode::{is_grad_enabled, set_grad_enabled, GradModeGuard};
pub use node::{BackwardFn, Edge, Hook, Node, PostAccumulateHook};
pub use saved::SavedTensor;

use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::Arc;

/// An object owned on behalf of a foreign runtime (a Python hook or `autograd.Function`
/// callback), kept beside the closure that uses it so that runtime's garbage collector can find
/// and break reference cycles that pass through the graph. The core never looks inside.
pub type Foreign = Arc<dyn std::any::Any + Send + Sync>;

/// Per-tensor autograd state.
#[derive(Default)]
pub struct AutogradMeta {
    /// Set on leaves created with requires_grad=True.
    pub requires_grad: bool,
    /// Accumulated gradient (leaves, and non-leaves that retain_grad).
    pub grad: Option<Tensor>,
    /// The node that produced this tensor, and which of its outputs this is.
    pub grad_fn: Option<(Arc<Node>, usize)>,
    /// A leaf's gradient accumulator, created once so every use of the leaf shares it.
    pub accumulator: Option<Arc<Node>>,
    pub retains_grad: bool,
    pub hooks: Vec<Hook>,
    /// Called with the leaf once backward has accumulated into its `.grad`.
    pub post_accumulate_hooks: Vec<PostAccumulateHook>,
    /// Foreign objects the hooks use (see [`Foreign`]).
    pub foreign: Vec<Foreign>,
    /// For views: the tensor whose memory this one views (never itself a view), so an in-place
    /// write through the view can rebase the base's history (PyTorch's CopySlices).
    pub base: Option<Tensor>,
}

/// The edge through which gradient flows into `t`, if it needs one.
pub fn edge_of(t: &Tensor) -> Option<Edge> {
    let mut m = t.meta();
    if let Some((node, nr)) = &m.grad_fn {
        return Some(Edge {
            node: node.clone(),
            input_nr: *nr,
        });
    }
    if !m.requires_grad {
        return None;
    }
    let acc = m
        .accumulator
        .get_or_insert_with(|| Node::accumulator(t))
        .clone();
    Some(Edge {
        node: acc,
        input_nr: 0,
    })
}

/// Whether an op over `inputs` must be recorded.
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

/// Record an op: `outputs` were computed from `inputs`; `backward(grads, needs)` maps the
/// gradients of the outputs to gradients of the inputs (`needs[i]` says whether input i wants
/// one). `saves_tensors` marks closures that hold tensors, which are freed after backward unless
/// retain_graph is set (and then a second backward raises, as in PyTorch).
pub fn record(
    name: &'static str,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
    saves_tensors: bool,
    backward: impl Fn(&[Tensor], &[bool]) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
) {
    if !needs_grad(inputs) {
        return;
    }
    let next: Vec<Option<Edge>> = inputs.iter().map(|t| edge_of(t)).collect();
    let out_meta = outputs.iter().map(|t| (t.shape(), t.dtype())).collect();
    let node = Arc::new(Node::function(
        name,
        next,
        out_meta,
        saves_tensors,
        Box::new(backward),
    ));
    for (i, t) in outputs.iter().enumerate() {
        // Integer outputs (argmax indices and the like) never carry gradient.
        if t.dtype().is_float() {
            t.meta().grad_fn = Some((node.clone(), i));
        }
    }
}

/// Attach an existing node output to a tensor (used when rebasing history for in-place ops).
pub fn set_grad_fn(t: &Tensor, node: Arc<Node>, nr: usize) {
    t.meta().grad_fn = Some((node, nr));
}
