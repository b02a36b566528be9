//! Micro-kernel descriptors, cache-blocking sizes and the thread grid.

/// Computes one `mr × nr` tile of C from packed panels:
/// `C[0..mr, 0..nr] = A_panel · B_panel + beta * C` (C not read when
/// `beta == 0`).
///
/// * `a`: packed A micro-panel, `kc` steps of `MR` values (rows ≥ mr are zero);
/// * `b`: packed B micro-panel, `kc` steps of `NR` values (cols ≥ nr are zero),
///   64-byte aligned;
/// * `c`: element (0, 0) of the tile; element (i, j) is at `c[i*rsc + j*csc]`.
pub(super) type KernelFn<T> = unsafe fn(
    mr: usize,
    nr: usize,
    kc: usize,
    a: *const T,
    b: *const T,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
);

/// A micro-kernel plus the blocking sizes tuned for it.
pub(crate) struct Kernel<T> {
    pub name: &'static str,
    /// Rows of C per micro-tile (A values broadcast per k step).
    pub mr: usize,
    /// Columns of C per micro-tile (vector width × vectors per row).
    pub nr: usize,
    /// Rows of A per packed block; MC×KC of A should sit in L2.
    pub mc: usize,
    /// Depth per packed block; a KC×NR micro-panel of B should sit in L1.
    pub kc: usize,
    /// Columns of B per packed block; KC×NC of B should sit in L3.
    pub nc: usize,
    pub func: KernelFn<T>,
}

/// How `threads` workers split an `m × n` output: `tm` row ranges times
/// `tn` column ranges, with ranges aligned to whole micro-tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Grid {
    pub tm: usize,
    pub tn: usize,
}

impl Grid {
    /// Picks the factorisation of (at most) `threads` that minimises the
    /// largest task's cost: its multiply-adds plus the packing of its own A
    /// rows and B columns (every task packs privately, so splitting M packs
    /// B once per row range and splitting N packs A once per column range).
    /// `m`/`n` are (micro-panels, panel width).
    pub fn choose(threads: usize, m: (usize, usize), n: (usize, usize)) -> Grid {
        // One packed element costs about as much as this many multiply-adds
        // per element of depth (a scalar copy vs. a slice of a vector FMA).
        const PACK_COST: usize = 8;
        let mut best = Grid { tm: 1, tn: 1 };
        let mut best_cost = usize::MAX;
        for t in (1..=threads.max(1)).rev() {
            for tm in (1..=t).rev() {
                if t % tm != 0 {
                    continue;
                }
                let tn = t / tm;
                if tm > m.0 || tn > n.0 {
                    continue;
                }
                let rows = m.0.div_ceil(tm) * m.1;
                let cols = n.0.div_ceil(tn) * n.1;
                let cost = rows * cols + PACK_COST * (rows + cols);
                if cost < best_cost {
                    best = Grid { tm, tn };
                    best_cost = cost;
                }
            }
            // Using fewer threads only helps when `threads` cannot be
            // factored onto the panels at all.
            if best_cost != usize::MAX {
                break;
            }
        }
        best
    }

    pub fn threads(self) -> usize {
        self.tm * self.tn
    }
}

/// Splits `panels` micro-panels into `parts` near-equal ranges and returns
/// the `idx`-th one as a panel range.
pub(super) fn split(panels: usize, parts: usize, idx: usize) -> (usize, usize) {
    let base = panels / parts;
    let extra = panels % parts;
    let start = idx * base + idx.min(extra);
    let len = base + usize::from(idx < extra);
    (start, start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_balances_work_and_packing() {
        // 120 x 320: halving N leaves less to pack per task than halving M.
        assert_eq!(Grid::choose(2, (10, 12), (10, 32)), Grid { tm: 1, tn: 2 });
        // 264 x 256: halving M.
        assert_eq!(Grid::choose(2, (22, 12), (8, 32)), Grid { tm: 2, tn: 1 });
        assert_eq!(Grid::choose(2, (1, 12), (10, 32)), Grid { tm: 1, tn: 2 });
        // A conv-shaped product (64 x 784): split the long N side.
        assert_eq!(Grid::choose(2, (6, 12), (25, 32)), Grid { tm: 1, tn: 2 });
        // Tall and skinny: split M.
        assert_eq!(Grid::choose(2, (300, 12), (1, 32)), Grid { tm: 2, tn: 1 });
        assert_eq!(Grid::choose(4, (2, 12), (8, 32)), Grid { tm: 1, tn: 4 });
        assert_eq!(Grid::choose(4, (40, 12), (16, 32)), Grid { tm: 2, tn: 2 });
        assert_eq!(Grid::choose(3, (1, 12), (2, 32)), Grid { tm: 1, tn: 2 });
        assert_eq!(Grid::choose(8, (1, 12), (1, 32)).threads(), 1);
    }

    #[test]
    fn split_covers_everything() {
        for panels in 0..20 {
            for parts in 1..5 {
                let mut next = 0;
                for i in 0..parts {
                    let (s, e) = split(panels, parts, i);
                    assert_eq!(s, next);
                    next = e;
                }
                assert_eq!(next, panels);
            }
        }
    }
}
