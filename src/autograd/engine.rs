//! The backward walk: find the nodes reachable from the roots, keep only those that lead to a
//! gradient someone asked for, then run them in topological order, summing gradients that meet.

use super::grad_mode::GradModeGuard;
use super::node::{Edge, Node, NodeKind};
use super::{edge_of, Hook};
use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::sync::Arc;

type NodeKey = *const Node;

fn key(n: &Arc<Node>) -> NodeKey {
    Arc::as_ptr(n)
}

/// `tensor.backward(gradient, retain_graph, create_graph)` for one or more roots
/// (`torch.autograd.backward`).
pub fn backward(
    roots: &[Tensor],
    grads: Vec<Option<Tensor>>,
    retain_graph: bool,
    create_graph: bool,
) -> Result<()> {
    let seeds = seed_roots(roots, grads)?;
    run(seeds, None, retain_graph, create_graph)?;
    Ok(())
}

/// `torch.autograd.grad`: gradients of `outputs` with respect to `inputs`, without touching `.grad`.
pub fn grad(
    outputs: &[Tensor],
    grad_outputs: Vec<Option<Tensor>>,
    inputs: &[Tensor],
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    let seeds = seed_roots(outputs, grad_outputs)?;
    let mut targets = Vec::with_capacity(inputs.len());
    for t in inputs {
        match edge_of(t) {
            Some(e) => targets.push(e),
            None => {
                return Err(Error::runtime(
                    "One of the differentiated Tensors does not require grad",
                ))
            }
        }
    }
    let got = run(seeds, Some(&targets), retain_graph, create_graph)?;
    if !allow_unused && got.iter().any(|g| g.is_none()) {
        return Err(Error::runtime(
            "One of the differentiated Tensors appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior.",
        ));
    }
    Ok(got)
}

fn seed_roots(roots: &[Tensor], grads: Vec<Option<Tensor>>) -> Result<Vec<(Edge, Tensor)>> {
    let mut seeds = Vec::with_capacity(roots.len());
    for (i, root) in roots.iter().enumerate() {
        let edge = edge_of(root).ok_or_else(|| {
            Error::runtime(format!(
                "element {} of tensors does not require grad and does not have a grad_fn",
                i
            ))
        })?;
        let g = match grads.get(i).cloned().flatten() {
            Some(g) => {
                if g.shape() != root.shape() {
                    return Err(Error::runtime(format!(
                        "Mismatch in shape: grad_output[{}] has a shape of {} and output[{}] has a shape of {}.",
                        i,
                        crate::shape::fmt_shape(&g.shape()),
                        i,
                        crate::shape::fmt_shape(&root.shape())
                    )));
                }
                g
            }
            None => {
                if root.numel() != 1 {
                    return Err(Error::runtime(
                        "grad can be implicitly created only for scalar outputs",
                    ));
                }
                ops::ones_like(root)?
            }
        };
        seeds.push((edge, g));
    }
    Ok(seeds)
}

/// Kahn's algorithm over the reachable graph: the order in which every node runs after all nodes
/// that feed it gradient.
fn topo_order(roots: &[Arc<Node>]) -> Vec<Arc<Node>> {
    let mut deps: HashMap<NodeKey, usize> = HashMap::new();
    let mut seen: HashMap<NodeKey, Arc<Node>> = HashMap::new();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    for r in roots {
        if seen.insert(key(r), r.clone()).is_none() {
            stack.push(r.clone());
        }
    }
    while let Some(n) = stack.pop() {
        for e in n.next.iter().flatten() {
            *deps.entry(key(&e.node)).or_insert(0) += 1;
            if seen.insert(key(&e.node), e.node.clone()).is_none() {
                stack.push(e.node.clone());
            }
        }
    }
    let mut ready: Vec<Arc<Node>> = seen
        .values()
        .filter(|n| !deps.contains_key(&key(n)))
        .cloned()
        .collect();
    let mut order = Vec::with_capacity(seen.len());
    // Pop the most recently created ready node first, like PyTorch's engine.
    ready.sort_by_key(|n| n.seq);
    while let Some(n) = ready.pop() {
        for e in n.next.iter().flatten() {
            let d = deps.get_mut(&key(&e.node)).expect("counted above");
            *d -= 1;
            if *d == 0 {
                let pos = ready.partition_point(|r| r.seq < e.node.seq);
                ready.insert(pos, e.node.clone());
            }
        }
        order.push(n);
    }
    order
}

fn run_hooks(hooks: &[Hook], mut g: Tensor) -> Result<Tensor> {
    for h in hooks {
        if let Some(new) = h(&g)? {
            g = new;
        }
    }
    Ok(g)
}

/// Add `g` into `slot`, building graph only when create_graph is on (grad mode says which).
fn accumulate(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(old) => ops::add(&old, &g)?,
    });
    Ok(())
}

/// Store `g` into a tensor's `.grad`: in place when possible, never aliasing memory someone else
/// may write (the caller's gradient, a broadcast view).
fn accumulate_into_grad(t: &Tensor, g: Tensor, create_graph: bool) -> Result<()> {
    let old = t.meta().grad.take();
    let new = match old {
        None => {
            if create_graph {
                g
            } else {
                ops::owned_contiguous(g)?
            }
        }
        Some(old) => {
            if create_graph || old.requires_grad() {
                ops::add(&old, &g)?
            } else {
                ops::add_(&old, &g)?;
                old
            }
        }
    };
    t.meta().grad = Some(new);
    Ok(())
}

fn run(
    seeds: Vec<(Edge, Tensor)>,
    targets: Option<&[Edge]>,
    retain_graph: bool,
    create_graph: bool,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(create_graph);
    let roots: Vec<Arc<Node>> = seeds.iter().map(|(e, _)| e.node.clone()).collect();
    let order = topo_order(&roots);

    // A node is needed if it is a target, or (for .backward) a leaf accumulator, or feeds one.
    let is_target =
        |n: &Arc<Node>| targets.is_some_and(|ts| ts.iter().any(|t| Arc::ptr_eq(&t.node, n)));
    let mut needed: HashMap<NodeKey, bool> = HashMap::with_capacity(order.len());
    for n in order.iter().rev() {
        let own = is_target(n) || (targets.is_none() && n.is_accumulator());
        let via = n
            .next
            .iter()
            .flatten()
            .any(|e| needed.get(&key(&e.node)).copied().unwrap_or(false));
        needed.insert(key(n), own || via);
    }

    let mut buffers: HashMap<NodeKey, Vec<Option<Tensor>>> = HashMap::new();
    for (e, g) in seeds {
        let buf = buffers
            .entry(key(&e.node))
            .or_insert_with(|| vec![None; e.node.outputs.len()]);
        accumulate(&mut buf[e.input_nr], g)?;
    }
    let mut captured: Vec<Option<Tensor>> = vec![None; targets.map_or(0, |t| t.len())];

    for node in &order {
        let k = key(node);
        let Some(mut grads) = buffers.remove(&k) else {
            continue;
        };
        if !needed[&k] {
            continue;
        }
        // Hooks and retain_grad of the tensors this node produced.
        let watched = node.watched.lock().clone();
        for (nr, w) in watched {
            // Check the tensor first: taking the gradient of a dead tensor would drop it.
            let Some(t) = Tensor::from_weak(&w) else {
                continue;
            };
            let Some(g) = grads[nr].take() else {
                continue;
            };
            let hooks = t.meta().hooks.clone();
            let g = run_hooks(&hooks, g)?;
            if t.retains_grad() {
                let stored = if create_graph { g.clone() } else { g.detach() };
                accumulate_into_grad(&t, stored, create_graph)?;
            }
            grads[nr] = Some(g);
        }
        if let Some(ts) = targets {
            for (i, t) in ts.iter().enumerate() {
                if Arc::ptr_eq(&t.node, node) {
                    if let Some(g) = &grads[t.input_nr] {
                        let g = if node.is_accumulator() {
                            let hooks = node
                                .variable()
                                .map(|v| v.meta().hooks.clone())
                                .unwrap_or_default();
                            run_hooks(&hooks, g.clone())?
                        } else {
                            g.clone()
                        };
                        captured[i] = Some(g);
                    }
                }
            }
        }
        match &node.kind {
            NodeKind::Accumulate { .. } => {
                if targets.is_some() {
                    continue;
                }
                let (Some(leaf), Some(g)) = (node.variable(), grads[0].take()) else {
                    continue;
                };
                let hooks = leaf.meta().hooks.clone();
                let g = run_hooks(&hooks, g)?;
                let g = if create_graph { g } else { g.detach() };
                accumulate_into_grad(&leaf, g, create_graph)?;
                let post = leaf.meta().post_accumulate_hooks.clone();
                for h in &post {
                    h(&leaf)?;
                }
            }
            NodeKind::Function {
                backward,
                saves_tensors,
            } => {
                let needs: Vec<bool> = node
                    .next
                    .iter()
                    .map(|e| {
                        e.as_ref()
                            .is_some_and(|e| needed.get(&key(&e.node)).copied().unwrap_or(false))
                    })
                    .collect();
                if !needs.iter().any(|&b| b) || grads.iter().all(|g| g.is_none()) {
                    continue;
                }
                // A node's outputs share a device: missing gradients become zeros on the device
                // of the ones that arrived (a CPU zero would mix devices in the backward rule).
                let device = grads
                    .iter()
                    .flatten()
                    .next()
                    .map_or(crate::device::Device::Cpu, |g| g.device());
                let full: Vec<Tensor> = grads
                    .into_iter()
                    .zip(node.outputs.iter())
                    .map(|(g, (shape, dtype))| match g {
                        Some(g) => Ok(g),
                        None => match crate::kernels::zeros_on(shape, *dtype, device)? {
                            Some(z) => Ok(z),
                            None => Tensor::zeros(shape, *dtype),
                        },
                    })
                    .collect::<Result<_>>()?;
                let input_grads = {
                    let mut slot = backward.lock();
                    let f = slot.as_ref().ok_or_else(|| {
                        Error::runtime(
                            "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.",
                        )
                    })?;
                    let r = f(&full, &needs)?;
                    if !retain_graph && *saves_tensors {
                        *slot = None;
                    }
                    r
                };
                for (i, g) in input_grads.into_iter().enumerate() {
                    let (Some(g), true) = (g, needs.get(i).copied().unwrap_or(false)) else {
                        continue;
                    };
                    let e = node.next[i].as_ref().expect("needs implies an edge");
                    let buf = buffers
                        .entry(key(&e.node))
                        .or_insert_with(|| vec![None; e.node.outputs.len()]);
                    accumulate(&mut buf[e.input_nr], g)?;
                }
            }
        }
    }
    Ok(captured)
}

/// Whether the graph behind `roots` holds at least `limit` output elements in total: a cheap
/// walk that stops as soon as the answer is yes. Releasing the GIL for a backward pass costs a
/// hand-off that can wait a whole switch interval (5 ms) when another Python thread is busy, so
/// the bindings release it only for graphs with enough work to be worth running in parallel.
pub fn graph_is_large(roots: &[Tensor], limit: usize) -> bool {
    let mut stack: Vec<Arc<Node>> = roots
        .iter()
        .filter_map(|t| t.grad_fn())
        .map(|(n, _)| n)
        .collect();
    let mut seen: std::collections::HashSet<*const Node> = stack.iter().map(Arc::as_ptr).collect();
    let mut work = 0usize;
    while let Some(n) = stack.pop() {
        work += n
            .outputs
            .iter()
            .map(|(s, _)| crate::shape::numel(s))
            .sum::<usize>();
        if work >= limit {
            return true;
        }
        for e in n.next.iter().flatten() {
            if seen.insert(Arc::as_ptr(&e.node)) {
                stack.push(e.node.clone());
            }
        }
    }
    false
}
