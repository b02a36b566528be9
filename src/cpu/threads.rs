//! The CPU thread pool, sized by `set_num_threads` (default: available cores).

use parking_lot::RwLock;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use super::team::Team;

static TEAM: RwLock<Option<Arc<Team>>> = RwLock::new(None);

thread_local! {
    /// A team this thread uses instead of the global one (tests pin thread counts with it).
    static OVERRIDE: RefCell<Option<Arc<Team>>> = const { RefCell::new(None) };
}

fn default_threads() -> usize {
    std::env::var("RUSTGRAD_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

/// How long idle workers spin before parking: long enough to bridge the Python-side gap
/// between the ops of a training step (a few to a few hundred microseconds), short enough
/// that an idle process stops using the cores almost at once. `RUSTGRAD_SPIN_US` overrides.
fn spin() -> Duration {
    let us = std::env::var("RUSTGRAD_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300u64);
    Duration::from_micros(us)
}

fn build(n: usize) -> Arc<Team> {
    Arc::new(Team::new(n, spin()))
}

/// The team kernels run on (rebuilt in a child process after `fork`, whose workers are gone).
pub fn team() -> Arc<Team> {
    if let Some(t) = OVERRIDE.with(|o| o.borrow().clone()) {
        return t;
    }
    if let Some(t) = TEAM.read().as_ref() {
        if t.is_live() {
            return t.clone();
        }
    }
    let mut w = TEAM.write();
    match w.as_ref() {
        Some(t) if t.is_live() => t.clone(),
        old => {
            let n = old.map_or_else(default_threads, |t| t.size());
            let t = build(n);
            *w = Some(t.clone());
            t
        }
    }
}

pub fn num_threads() -> usize {
    team().size()
}

/// Resize the team (`torch.set_num_threads`).
pub fn set_num_threads(n: usize) {
    let old = TEAM.write().replace(build(n.max(1)));
    // Joining the old workers happens outside the lock.
    drop(old);
}

/// Run `f` with this thread using a team of `n` members instead of the global one.
#[cfg(test)]
pub fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let prev = OVERRIDE.with(|o| o.replace(Some(build(n))));
    struct Restore(Option<Arc<Team>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|o| *o.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(prev);
    f()
}

/// Elements below which an elementwise loop stays on the calling thread: waking workers costs
/// more than it saves on small tensors.
pub const GRAIN: usize = 1 << 15;

/// Whether this thread is running a task of a parallel job (nested parallel work should then
/// stay on this thread: every member is busy with the outer job).
pub fn in_parallel() -> bool {
    super::team::in_task()
}

/// Run `f(t)` for every `t` in `0..tasks` across the team (the calling thread takes part).
pub fn run_tasks(tasks: usize, f: impl Fn(usize) + Sync) {
    team().run(tasks, &f);
}

/// Run `f(start, end)` over `[0, n)` split into chunks of at least `grain`, in parallel when
/// there is more than one chunk.
pub fn parallel_for(n: usize, grain: usize, f: impl Fn(usize, usize) + Sync + Send) {
    if n == 0 {
        return;
    }
    let threads = if n >= 2 * grain && !in_parallel() {
        num_threads()
    } else {
        1
    };
    if threads <= 1 {
        return f(0, n);
    }
    // A few chunks per member: claimed dynamically, so a member that started late (or a core
    // shared with another process) takes fewer.
    let chunks = (n / grain).clamp(1, threads * 4);
    let per = n.div_ceil(chunks);
    run_tasks(chunks, |c| {
        let (a, b) = (c * per, ((c + 1) * per).min(n));
        if a < b {
            f(a, b);
        }
    });
}

/// Raw pointer that may cross threads; kernels guarantee disjoint writes.
#[derive(Clone, Copy)]
pub struct SendPtr<T>(pub *mut T);
// SAFETY: used only for disjoint chunk writes inside parallel_for.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
