//! A fork-join team of worker threads that spin for a while after each job before they sleep.
//!
//! Why not a work-stealing pool: the kernels here run one parallel loop at a time from the
//! caller's thread, back to back (a training step is hundreds of them, most 20-500 µs long).
//! A sleeping worker takes tens of microseconds to wake in a VM, so with a pool whose workers
//! park as soon as they are idle the second half of a 2-thread GEMM started that much later
//! than the first, every call. Team workers instead watch an epoch counter for `spin` after
//! their last job (OpenMP runtimes do the same), and only then park on a condition variable.
//!
//! A job is `tasks` indices run by `f(index)`. The caller publishes it, works on it itself,
//! and returns once every index has finished. Indices are claimed with one atomic increment,
//! so whoever is awake does the work: a job finishes even if no worker ever wakes (for example
//! in a child process after `fork`, where the workers do not exist).

use parking_lot::{Condvar, Mutex};
use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

thread_local! {
    /// Set while this thread runs a task of some team's job: parallel loops nested in a task
    /// run inline (every member is already busy with the outer job).
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a task of a team job.
pub fn in_task() -> bool {
    IN_TASK.with(|c| c.get())
}

fn as_task<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_TASK.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(IN_TASK.with(|c| c.replace(true)));
    f()
}

/// The caller's closure with its lifetime erased. Only dereferenced for a claimed index, and
/// the caller does not return (so the closure stays alive) until every claimed index is done.
type TaskFn = *const (dyn Fn(usize) + Sync + 'static);

struct Job {
    f: TaskFn,
    tasks: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `f` points at a `Sync` closure (shared calls from several threads are allowed), and
// it is only called for claimed indices while the publishing caller waits (see `TaskFn`).
unsafe impl Send for Job {}
// SAFETY: as above; the counters are atomics and the panic slot a mutex.
unsafe impl Sync for Job {}

impl Job {
    /// Claim and run indices until none are left.
    fn work(&self) {
        loop {
            let t = self.next.fetch_add(1, Ordering::Relaxed);
            if t >= self.tasks {
                return;
            }
            // SAFETY: `t` was claimed, so the caller is still waiting and `f` is alive.
            let f = unsafe { &*self.f };
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| as_task(|| f(t)))) {
                self.panic.lock().get_or_insert(p);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

struct Shared {
    /// Bumped once per published job; workers watch it.
    epoch: AtomicU64,
    job: Mutex<Option<Arc<Job>>>,
    /// Workers parked on `wake` (the publisher only takes `sleep` when this is non-zero).
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
    shutdown: AtomicBool,
    spin: Duration,
}

/// A caller plus `size - 1` worker threads.
pub struct Team {
    size: usize,
    shared: Arc<Shared>,
    /// One job at a time; a second thread publishing meanwhile runs its job inline.
    publish: Mutex<()>,
    workers: Vec<JoinHandle<()>>,
    /// Process that spawned the workers (after `fork` the child has none).
    pid: u32,
}

impl Team {
    /// A team of `size` members (the caller counts as one), whose idle workers spin for
    /// `spin` before parking.
    pub fn new(size: usize, spin: Duration) -> Team {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            epoch: AtomicU64::new(0),
            job: Mutex::new(None),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
            spin,
        });
        let mut workers = Vec::with_capacity(size - 1);
        for i in 1..size {
            let sh = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("rustgrad-cpu-{i}"))
                .spawn(move || worker(&sh));
            match spawned {
                Ok(h) => workers.push(h),
                // Out of threads: the team runs with the members it has (jobs still finish,
                // since the caller claims whatever nobody else does).
                Err(_) => break,
            }
        }
        Team {
            size: workers.len() + 1,
            shared,
            publish: Mutex::new(()),
            workers,
            pid: std::process::id(),
        }
    }

    /// Members, the caller included.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the workers belong to this process (false in a child after `fork`).
    pub fn is_live(&self) -> bool {
        self.pid == std::process::id()
    }

    /// Run `f(0) .. f(tasks - 1)` across the team and return when all are done. Inline when
    /// there is one task or one member, when called from inside a task, or when another thread
    /// is already running a job on this team. A panic in any task is re-raised here after the
    /// others finished.
    pub fn run(&self, tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        if tasks == 0 {
            return;
        }
        let guard = if tasks > 1 && self.size > 1 && !in_task() {
            self.publish.try_lock()
        } else {
            None
        };
        let Some(_guard) = guard else {
            return as_task(|| (0..tasks).for_each(f));
        };
        // SAFETY: only the lifetime is erased; see `TaskFn` for why that is sound.
        let fp: TaskFn = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), TaskFn>(f) };
        let job = Arc::new(Job {
            f: fp,
            tasks,
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            panic: Mutex::new(None),
        });
        let sh = &*self.shared;
        *sh.job.lock() = Some(job.clone());
        // SeqCst pairs with the worker's sleepers increment + epoch check (no lost wake-up).
        sh.epoch.fetch_add(1, Ordering::SeqCst);
        if sh.sleepers.load(Ordering::SeqCst) > 0 {
            let _l = sh.sleep.lock();
            sh.wake.notify_all();
        }
        job.work();
        let start = Instant::now();
        let mut spins = 0u32;
        while job.done.load(Ordering::Acquire) < tasks {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > sh.spin {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        *sh.job.lock() = None;
        let panicked = job.panic.lock().take();
        if let Some(p) = panicked {
            resume_unwind(p);
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        if !self.is_live() {
            // A child after `fork`: the workers (and any lock they held at the fork) belong to
            // the parent. Touch nothing; the handles are not ours to join or detach.
            std::mem::forget(std::mem::take(&mut self.workers));
            return;
        }
        let sh = &*self.shared;
        sh.shutdown.store(true, Ordering::SeqCst);
        {
            let _l = sh.sleep.lock();
            sh.wake.notify_all();
        }
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

fn worker(sh: &Shared) {
    let mut seen = sh.epoch.load(Ordering::SeqCst);
    loop {
        // Spin phase: catch the next job without a wake-up.
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if sh.shutdown.load(Ordering::Relaxed) {
                return;
            }
            if sh.epoch.load(Ordering::Acquire) != seen {
                break;
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(128) && start.elapsed() > sh.spin {
                // Park until the epoch moves.
                let mut l = sh.sleep.lock();
                sh.sleepers.fetch_add(1, Ordering::SeqCst);
                while sh.epoch.load(Ordering::SeqCst) == seen && !sh.shutdown.load(Ordering::SeqCst)
                {
                    sh.wake.wait(&mut l);
                }
                sh.sleepers.fetch_sub(1, Ordering::SeqCst);
                break;
            }
            std::hint::spin_loop();
        }
        if sh.shutdown.load(Ordering::Relaxed) {
            return;
        }
        seen = sh.epoch.load(Ordering::Acquire);
        let job = sh.job.lock().clone();
        if let Some(job) = job {
            job.work();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_index_runs_once() {
        for size in [1, 2, 3, 5] {
            let team = Team::new(size, Duration::from_micros(50));
            for tasks in [0, 1, 2, 7, 100] {
                let hits: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
                team.run(tasks, &|t| {
                    hits[t].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
            }
        }
    }

    #[test]
    fn jobs_after_workers_park_still_finish() {
        let team = Team::new(3, Duration::from_micros(1));
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(2));
            let sum = AtomicUsize::new(0);
            team.run(64, &|t| {
                sum.fetch_add(t, Ordering::Relaxed);
            });
            assert_eq!(sum.load(Ordering::Relaxed), 63 * 64 / 2);
        }
    }

    #[test]
    fn nested_and_concurrent_jobs_run_inline() {
        let team = Arc::new(Team::new(2, Duration::from_micros(100)));
        let total = AtomicUsize::new(0);
        team.run(4, &|_| {
            assert!(in_task());
            team.run(3, &|_| {
                total.fetch_add(1, Ordering::Relaxed);
            });
        });
        assert_eq!(total.load(Ordering::Relaxed), 12);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let team = team.clone();
                std::thread::spawn(move || {
                    let n = AtomicUsize::new(0);
                    for _ in 0..50 {
                        team.run(8, &|_| {
                            n.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                    n.load(Ordering::Relaxed)
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 400);
        }
    }

    #[test]
    fn a_panicking_task_reaches_the_caller_after_the_rest() {
        let team = Team::new(2, Duration::from_micros(100));
        let ran = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            team.run(16, &|t| {
                ran.fetch_add(1, Ordering::Relaxed);
                if t == 5 {
                    panic!("task 5");
                }
            })
        }));
        assert!(r.is_err());
        assert_eq!(ran.load(Ordering::Relaxed), 16);
        // The team still works afterwards.
        let n = AtomicUsize::new(0);
        team.run(10, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 10);
    }
}
