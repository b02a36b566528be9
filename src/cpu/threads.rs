//! The CPU thread pool, sized by `set_num_threads` (default: available cores).

use parking_lot::RwLock;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::Arc;

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

fn build(n: usize) -> Arc<ThreadPool> {
    Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("thread pool creation failed"),
    )
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

/// The pool kernels run on.
pub fn pool() -> Arc<ThreadPool> {
    if let Some(p) = POOL.read().as_ref() {
        return p.clone();
    }
    let mut w = POOL.write();
    w.get_or_insert_with(|| build(default_threads())).clone()
}

pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// Resize the pool (`torch.set_num_threads`).
pub fn set_num_threads(n: usize) {
    *POOL.write() = Some(build(n.max(1)));
}

/// Elements below which an elementwise loop stays on the calling thread: waking workers costs
/// more than it saves on small tensors.
pub const GRAIN: usize = 1 << 15;

/// Run `f(start, end)` over `[0, n)` split into chunks of at least `grain`, in parallel when
/// there is more than one chunk.
pub fn parallel_for(n: usize, grain: usize, f: impl Fn(usize, usize) + Sync + Send) {
    let threads = if n >= 2 * grain { num_threads() } else { 1 };
    if threads <= 1 {
        if n > 0 {
            f(0, n);
        }
        return;
    }
    let chunks = (n / grain).clamp(1, threads * 4);
    let per = n.div_ceil(chunks);
    pool().install(|| {
        rayon::scope(|s| {
            for c in 0..chunks {
                let (a, b) = (c * per, ((c + 1) * per).min(n));
                if a < b {
                    let f = &f;
                    s.spawn(move |_| f(a, b));
                }
            }
        })
    });
}

/// Raw pointer that may cross threads; kernels guarantee disjoint writes.
#[derive(Clone, Copy)]
pub struct SendPtr<T>(pub *mut T);
// SAFETY: used only for disjoint chunk writes inside parallel_for.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
