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

thread_local! {
    /// Set while the caller's thread runs its own share of a parallel loop (below): the workers
    /// are busy with the other shares, so loops nested in that share run inline.
    static CALLER_SHARE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is running its share of a parallel loop started here (nested parallel
/// work should then stay on this thread).
pub fn in_caller_share() -> bool {
    CALLER_SHARE.with(|c| c.get())
}

/// Run `f` as the caller's share of a parallel loop (see [`in_caller_share`]).
pub fn as_caller_share<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            CALLER_SHARE.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(CALLER_SHARE.with(|c| c.replace(true)));
    f()
}

/// Run `f(start, end)` over `[0, n)` split into chunks of at least `grain`, in parallel when
/// there is more than one chunk.
pub fn parallel_for(n: usize, grain: usize, f: impl Fn(usize, usize) + Sync + Send) {
    let threads = if n >= 2 * grain && !in_caller_share() {
        num_threads()
    } else {
        1
    };
    if threads <= 1 {
        if n > 0 {
            f(0, n);
        }
        return;
    }
    let chunks = (n / grain).clamp(1, threads * 4);
    let per = n.div_ceil(chunks);
    let pool = pool();
    if rayon::current_thread_index().is_some() {
        // Already on a worker (a nested loop): spread over the pool as usual.
        pool.install(|| {
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
        return;
    }
    // From the caller's thread (Python's): hand chunks 1.. to the pool and run chunk 0 here
    // while the workers wake up, instead of sleeping in `install` until they finish. Waking a
    // worker takes longer than many of these loops; this way the caller's share is done by then.
    pool.in_place_scope(|s| {
        for c in 1..chunks {
            let (a, b) = (c * per, ((c + 1) * per).min(n));
            if a < b {
                let f = &f;
                s.spawn(move |_| f(a, b));
            }
        }
        as_caller_share(|| f(0, per.min(n)));
    });
}

/// Raw pointer that may cross threads; kernels guarantee disjoint writes.
#[derive(Clone, Copy)]
pub struct SendPtr<T>(pub *mut T);
// SAFETY: used only for disjoint chunk writes inside parallel_for.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
