//! Blocked GEMM driver: cache blocking, packing and the work split over the CPU team.
//!
//! Work split: C is cut into one rectangle per thread (`Grid::choose`), and
//! each thread runs the whole loop nest on its rectangle with private packing
//! buffers: one fork-join per call, no barrier between packing and computing
//! (two joins per KC block cost more than they saved on 2-thread machines at
//! the 64..512 sizes that conv and MLP layers produce).
//!
//! Loop nest per rectangle (outer to inner): NC columns → KC depth → [pack B
//! block] → MC rows → [pack A block] → NR micro-panels → MR micro-panels →
//! micro-kernel. The B micro-panel stays in L1 across the MR loop, the A
//! block in the thread's L2, and the B block in L2/L3.

use super::blocking::{split, Grid, Kernel};
use super::buffer::{with_buf, Slot};
use super::pack::{pack_a, pack_b, Panels};
use super::Element;

/// Below this many multiply-adds handing work to another thread costs more than it saves.
const PAR_MIN_FLOPS: usize = 96 * 96 * 96;

/// Read-only strided matrix view.
pub(crate) struct MatRef<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// Writable strided matrix view.
pub(super) struct MatMut<T> {
    pub ptr: *mut T,
    pub rs: isize,
    pub cs: isize,
}

// SAFETY: the views are plain pointers. The driver only shares them across
// team tasks that read A/B and write disjoint parts of C (or of a packing
// buffer), and the public API requires the caller to keep the memory alive
// and unaliased for the whole call.
unsafe impl<T: Sync> Send for MatRef<T> {}
// SAFETY: see above.
unsafe impl<T: Sync> Sync for MatRef<T> {}
// SAFETY: see above; concurrent tasks touch disjoint elements.
unsafe impl<T: Send> Send for MatMut<T> {}
// SAFETY: see above.
unsafe impl<T: Send> Sync for MatMut<T> {}

// Manual impls: derive would demand `T: Copy`, but these are just pointers.
impl<T> Clone for MatRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for MatRef<T> {}
impl<T> Clone for MatMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for MatMut<T> {}

impl<T> MatRef<T> {
    pub fn new(ptr: *const T, rs: isize, cs: isize) -> Self {
        MatRef { ptr, rs, cs }
    }

    /// Pointer to element (i, j); wrapping arithmetic because a pointer past
    /// the matrix is only formed, never read, at block edges.
    pub fn offset(self, i: usize, j: usize) -> *const T {
        self.ptr
            .wrapping_offset(i as isize * self.rs)
            .wrapping_offset(j as isize * self.cs)
    }

    /// The same elements seen transposed (how the driver reads B: columns outer).
    pub fn t(self) -> Self {
        MatRef::new(self.ptr, self.cs, self.rs)
    }
}

impl<T> MatMut<T> {
    pub fn new(ptr: *mut T, rs: isize, cs: isize) -> Self {
        MatMut { ptr, rs, cs }
    }

    fn offset(self, i: usize, j: usize) -> *mut T {
        self.ptr
            .wrapping_offset(i as isize * self.rs)
            .wrapping_offset(j as isize * self.cs)
    }
}

/// `C = beta * C` (writing zeros, never reading, when beta == 0).
///
/// # Safety
/// C must be valid for reads and writes over m×n.
unsafe fn scale_c<T: Element>(m: usize, n: usize, beta: T, c: MatMut<T>) {
    for i in 0..m {
        for j in 0..n {
            let p = c.offset(i, j);
            // SAFETY: (i, j) is inside C.
            unsafe { *p = if beta == T::ZERO { T::ZERO } else { beta * *p } };
        }
    }
}

/// `C = alpha * A·B + beta * C` with micro-kernel `kern`; see the public
/// `sgemm` for the contract.
///
/// # Safety
/// A (m×k) and B (k×n) readable, C (m×n) readable and writable, C's
/// elements distinct and not overlapping A or B.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm<T: Element>(
    kern: &Kernel<T>,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &impl Panels<T>,
    bt: &impl Panels<T>,
    beta: T,
    c: MatMut<T>,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == T::ZERO {
        // BLAS semantics: A and B are not referenced, so NaNs there do not
        // leak into C.
        // SAFETY: forwarded caller contract.
        unsafe { scale_c(m, n, beta, c) };
        return;
    }
    // Inside another parallel job (a kernel's parallel loop) every thread is already busy.
    let threads = if m.saturating_mul(n).saturating_mul(k) < PAR_MIN_FLOPS
        || crate::cpu::threads::in_parallel()
    {
        1
    } else {
        crate::cpu::threads::num_threads()
    };
    let (m_panels, n_panels) = (m.div_ceil(kern.mr), n.div_ceil(kern.nr));
    let grid = Grid::choose(threads, (m_panels, kern.mr), (n_panels, kern.nr));
    // One parallel region per call: each task owns a rectangle of C and packs its own A and B
    // blocks (thread-local buffers), so there is no barrier between packing and multiplying.
    // The price is packing a shared operand once per task, which the grid's cost model weighs.
    let work = |t: usize| {
        let (ti, tj) = (t / grid.tn, t % grid.tn);
        let (m0, m1) = split(m_panels, grid.tm, ti);
        let (n0, n1) = split(n_panels, grid.tn, tj);
        let rows = (m0 * kern.mr, (m1 * kern.mr).min(m));
        let cols = (n0 * kern.nr, (n1 * kern.nr).min(n));
        // SAFETY: this task writes only rows × cols of C, disjoint from every other task's
        // rectangle; A and B are only read.
        unsafe { rectangle(kern, rows, cols, k, alpha, a, bt, beta, c) };
    };
    crate::cpu::threads::run_tasks(grid.threads(), work);
}

/// One task's share of C: rows `rows.0..rows.1` by columns `cols.0..cols.1`, the whole depth.
///
/// # Safety
/// As for `gemm`; the rectangle lies inside C.
#[allow(clippy::too_many_arguments)]
unsafe fn rectangle<T: Element>(
    kern: &Kernel<T>,
    rows: (usize, usize),
    cols: (usize, usize),
    k: usize,
    alpha: T,
    a: &impl Panels<T>,
    bt: &impl Panels<T>,
    beta: T,
    c: MatMut<T>,
) {
    if rows.0 >= rows.1 || cols.0 >= cols.1 {
        return;
    }
    let width = cols.1 - cols.0;
    let b_len = kern.nc.min(width).div_ceil(kern.nr) * kern.nr * kern.kc.min(k);
    with_buf(Slot::B, b_len, |bbuf: *mut T| {
        for jc in (cols.0..cols.1).step_by(kern.nc) {
            let nc = kern.nc.min(cols.1 - jc);
            let n_panels = nc.div_ceil(kern.nr);
            for pc in (0..k).step_by(kern.kc) {
                let kc = kern.kc.min(k - pc);
                let beta = if pc == 0 { beta } else { T::ONE };
                // SAFETY: the block is inside B; `bbuf` holds `b_len >= n_panels*nr*kc` values.
                unsafe {
                    pack_b(bt, (jc, nc), (pc, kc), kern.nr, (0, n_panels), bbuf);
                    row_range(
                        kern,
                        rows,
                        (0, n_panels),
                        (pc, kc),
                        jc,
                        nc,
                        alpha,
                        a,
                        bbuf,
                        beta,
                        c,
                    )
                };
            }
        }
    });
}

/// One task: rows `rows.0..rows.1` of C against B micro-panels
/// `panels.0..panels.1` of the packed block for columns `jc..jc+nc`, depth
/// `kr.0..kr.0+kr.1`.
///
/// # Safety
/// As for `gemm`, plus `bpack` holds the packed KC×NC block of B.
#[allow(clippy::too_many_arguments)]
unsafe fn row_range<T: Element>(
    kern: &Kernel<T>,
    rows: (usize, usize),
    panels: (usize, usize),
    kr: (usize, usize),
    jc: usize,
    nc: usize,
    alpha: T,
    a: &impl Panels<T>,
    bpack: *const T,
    beta: T,
    c: MatMut<T>,
) {
    let (pc, kc) = kr;
    if rows.0 >= rows.1 || panels.0 >= panels.1 {
        return;
    }
    let a_len = kern.mc.min(rows.1 - rows.0).div_ceil(kern.mr) * kern.mr * kc;
    with_buf(Slot::A, a_len, |apack: *mut T| {
        for ic in (rows.0..rows.1).step_by(kern.mc) {
            let mc = kern.mc.min(rows.1 - ic);
            // SAFETY: the A block is inside A; `apack` holds `a_len` values.
            unsafe { pack_a(a, (ic, mc), (pc, kc), alpha, kern.mr, apack) };
            for jp in panels.0..panels.1 {
                let j0 = jp * kern.nr;
                let nr = kern.nr.min(nc - j0);
                // SAFETY: panel `jp` lies inside the packed B block.
                let bp = unsafe { bpack.add(jp * kern.nr * kc) };
                for (ip, i0) in (0..mc).step_by(kern.mr).enumerate() {
                    let mr = kern.mr.min(mc - i0);
                    // SAFETY: the tile (ic+i0.., jc+j0..) of size mr×nr is
                    // inside C and owned by this task; panels are in bounds.
                    unsafe {
                        (kern.func)(
                            mr,
                            nr,
                            kc,
                            apack.add(ip * kern.mr * kc),
                            bp,
                            beta,
                            c.offset(ic + i0, jc + j0),
                            c.rs,
                            c.cs,
                        )
                    };
                }
            }
        }
    });
}
