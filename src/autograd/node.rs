//! Graph nodes: a backward function with edges to the nodes of its inputs, or a leaf's
//! gradient accumulator.

use crate::dtype::DType;
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorImpl};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Maps output gradients to input gradients; the bool slice says which inputs need one.
pub type BackwardFn = Box<dyn Fn(&[Tensor], &[bool]) -> Result<Vec<Option<Tensor>>> + Send + Sync>;
/// A tensor hook: sees a gradient and may replace it.
pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// Runs on a leaf after its `.grad` has been updated by backward
/// (`register_post_accumulate_grad_hook`): data-parallel training starts reducing a gradient here.
pub type PostAccumulateHook = Arc<dyn Fn(&Tensor) -> Result<()> + Send + Sync>;

/// Where a gradient goes: output slot `input_nr` of `node`.
#[derive(Clone)]
pub struct Edge {
    pub node: Arc<Node>,
    pub input_nr: usize,
}

pub(crate) enum NodeKind {
    Function {
        backward: Mutex<Option<BackwardFn>>,
        saves_tensors: bool,
    },
    Accumulate {
        leaf: Weak<TensorImpl>,
    },
}

pub struct Node {
    name: &'static str,
    pub next: Vec<Option<Edge>>,
    pub(crate) kind: NodeKind,
    /// Shape and dtype of each output, to make zero gradients for outputs that got none.
    pub(crate) outputs: Vec<(Shape, DType)>,
    /// Output tensors with hooks or retain_grad, looked at when their gradient arrives.
    pub(crate) watched: Mutex<Vec<(usize, Weak<TensorImpl>)>>,
    /// Creation order; later nodes run first, as in PyTorch.
    pub(crate) seq: u64,
    /// Foreign objects the backward closure uses (see [`super::Foreign`]).
    pub(crate) foreign: Mutex<Vec<super::Foreign>>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Node {
    pub(crate) fn function(
        name: &'static str,
        next: Vec<Option<Edge>>,
        outputs: Vec<(Shape, DType)>,
        saves_tensors: bool,
        backward: BackwardFn,
    ) -> Node {
        Node {
            name,
            next,
            kind: NodeKind::Function {
                backward: Mutex::new(Some(backward)),
                saves_tensors,
            },
            outputs,
            watched: Mutex::new(Vec::new()),
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            foreign: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn accumulator(leaf: &Tensor) -> Arc<Node> {
        Arc::new(Node {
            name: "AccumulateGrad",
            next: Vec::new(),
            kind: NodeKind::Accumulate {
                leaf: leaf.downgrade(),
            },
            outputs: vec![(leaf.shape(), leaf.dtype())],
            watched: Mutex::new(Vec::new()),
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            foreign: Mutex::new(Vec::new()),
        })
    }

    /// PyTorch's class name for this node, e.g. "MulBackward0".
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn is_accumulator(&self) -> bool {
        matches!(self.kind, NodeKind::Accumulate { .. })
    }

    /// The leaf tensor of an accumulator node.
    pub fn variable(&self) -> Option<Tensor> {
        match &self.kind {
            NodeKind::Accumulate { leaf } => Tensor::from_weak(leaf),
            _ => None,
        }
    }

    /// Keep `f` beside the backward closure, for a foreign garbage collector to find.
    pub fn attach_foreign(&self, f: super::Foreign) {
        self.foreign.lock().push(f);
    }

    pub(crate) fn watch_output(&self, nr: usize, t: &Tensor) {
        let mut w = self.watched.lock();
        if !w
            .iter()
            .any(|(n, p)| *n == nr && std::ptr::eq(p.as_ptr(), Arc::as_ptr(&t.0)))
        {
            w.push((nr, t.downgrade()));
        }
    }
}

/// What a dying node still owns: handles to its inputs' nodes and its backward closure (whose
/// saved tensors own further nodes).
enum Garbage {
    Node(#[allow(dead_code)] Arc<Node>),
    Backward(#[allow(dead_code)] BackwardFn),
}

thread_local! {
    /// Graph parts waiting to be freed by the outermost `Node::drop` on this thread.
    static GARBAGE: std::cell::RefCell<Vec<Garbage>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Whether a `Node::drop` further up this thread's stack is draining `GARBAGE`.
    static DRAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Freeing a graph would otherwise recurse once per node (node -> edge -> node, and node ->
/// closure -> saved tensor -> grad_fn -> node), overflowing the stack for the 100k-node chains
/// that `total = total + loss` loops build. Instead a dying node hands what it owns to a
/// thread-local list, and only the outermost drop on the stack frees that list, in a loop.
impl Drop for Node {
    fn drop(&mut self) {
        let next = std::mem::take(&mut self.next);
        let backward = match &mut self.kind {
            NodeKind::Function { backward, .. } => backward.get_mut().take(),
            NodeKind::Accumulate { .. } => None,
        };
        if next.is_empty() && backward.is_none() {
            return;
        }
        let deferred = GARBAGE.try_with(|g| {
            let mut g = g.borrow_mut();
            g.extend(next.iter().flatten().map(|e| Garbage::Node(e.node.clone())));
            g.extend(backward.map(Garbage::Backward));
        });
        // Our own `next` handles now live in the list (cloned above), so dropping these is a
        // plain decrement.
        drop(next);
        if deferred.is_err() || DRAINING.try_with(|d| d.replace(true)).unwrap_or(true) {
            // Thread-local storage is gone (thread exit: drop inline), or an outer drop drains.
            return;
        }
        while let Some(item) = GARBAGE.with(|g| g.borrow_mut().pop()) {
            drop(item);
        }
        DRAINING.with(|d| d.set(false));
    }
}
