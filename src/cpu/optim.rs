//! CPU kernels of the fused optimizer updates. Each is a plain elementwise loop over contiguous
//! slices so LLVM vectorises it; big parameters are split across the thread pool with
//! `parallel_for`.

use super::rows::base_ptr;
use super::threads::{parallel_for, SendPtr};
use crate::dtype::DType;
use crate::ops::optim::Update;
use crate::tensor::Tensor;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Below this many elements a single thread does the whole update.
const GRAIN: usize = 1 << 15;

/// Float element the kernels are written over (f32 and f64).
trait Fl:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    fn c(x: f64) -> Self;
    fn sqrt(self) -> Self;
}

impl Fl for f32 {
    #[inline(always)]
    fn c(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
}

impl Fl for f64 {
    #[inline(always)]
    fn c(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
}

/// Apply `upd` in place to a contiguous float `param` (n > 0 elements), its contiguous gradient of
/// the same dtype and the state buffers (all checked by `ops::optim::fused_update`).
pub fn fused_update(param: &Tensor, grad: &Tensor, bufs: &[Option<Tensor>], upd: Update) {
    let n = param.numel();
    match param.dtype() {
        DType::F32 => run::<f32>(param, grad, bufs, upd, n),
        _ => run::<f64>(param, grad, bufs, upd, n),
    }
}

fn run<T: Fl>(param: &Tensor, grad: &Tensor, bufs: &[Option<Tensor>], upd: Update, n: usize) {
    let p = SendPtr(base_ptr::<T>(param));
    let g = SendPtr(base_ptr::<T>(grad));
    let b: Vec<Option<SendPtr<T>>> = bufs
        .iter()
        .map(|o| o.as_ref().map(|t| SendPtr(base_ptr::<T>(t))))
        .collect();
    let bref = &b;
    parallel_for(n, GRAIN, move |s, e| {
        // Bind the wrappers whole so the closure captures the Sync `SendPtr`s, not raw fields.
        let (p, g) = (&p, &g);
        let len = e - s;
        // SAFETY: chunks [s, e) are disjoint; each pointer covers n elements (checked above).
        unsafe {
            let p = std::slice::from_raw_parts_mut(p.0.add(s), len);
            let g = std::slice::from_raw_parts(g.0.add(s) as *const T, len);
            let slot = |i: usize| -> Option<&mut [T]> {
                bref.get(i)
                    .and_then(|o| o.as_ref())
                    .map(|q| std::slice::from_raw_parts_mut(q.0.add(s), len))
            };
            chunk_best(p, g, slot(0), slot(1), slot(2), upd);
        }
    });
}

/// [`chunk`] compiled for the widest vector ISA this CPU has (chosen at run time). The loops
/// are plain IEEE arithmetic (Rust never contracts `a * b + c` into an FMA), so every variant
/// gives the same bits as the portable one.
fn chunk_best<T: Fl>(
    p: &mut [T],
    g: &[T],
    s0: Option<&mut [T]>,
    s1: Option<&mut [T]>,
    s2: Option<&mut [T]>,
    upd: Update,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { chunk_avx512(p, g, s0, s1, s2, upd) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { chunk_avx2(p, g, s0, s1, s2, upd) };
        }
    }
    chunk(p, g, s0, s1, s2, upd)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn chunk_avx512<T: Fl>(
    p: &mut [T],
    g: &[T],
    s0: Option<&mut [T]>,
    s1: Option<&mut [T]>,
    s2: Option<&mut [T]>,
    upd: Update,
) {
    chunk(p, g, s0, s1, s2, upd)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chunk_avx2<T: Fl>(
    p: &mut [T],
    g: &[T],
    s0: Option<&mut [T]>,
    s1: Option<&mut [T]>,
    s2: Option<&mut [T]>,
    upd: Update,
) {
    chunk(p, g, s0, s1, s2, upd)
}

/// The update rules, per chunk. Buffer order per algorithm:
/// sgd: [momentum_buffer]; adam: [exp_avg, exp_avg_sq, max_exp_avg_sq]; adagrad: [sum];
/// adadelta: [square_avg, acc_delta]; rmsprop: [square_avg, momentum_buffer, grad_avg].
#[inline(always)]
fn chunk<T: Fl>(
    p: &mut [T],
    g: &[T],
    s0: Option<&mut [T]>,
    s1: Option<&mut [T]>,
    s2: Option<&mut [T]>,
    upd: Update,
) {
    let one = T::c(1.0);
    match upd {
        Update::Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
            first_step,
        } => {
            let (lr, mom, damp, wd) = (
                T::c(lr),
                T::c(momentum),
                T::c(1.0 - dampening),
                T::c(weight_decay),
            );
            let sign = T::c(if maximize { -1.0 } else { 1.0 });
            match s0 {
                None => {
                    for (p, &g) in p.iter_mut().zip(g) {
                        let d = sign * g + wd * *p;
                        *p = *p - lr * d;
                    }
                }
                Some(buf) => {
                    for ((p, &g), m) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                        let d = sign * g + wd * *p;
                        let nm = if first_step { d } else { mom * *m + damp * d };
                        *m = nm;
                        let d = if nesterov { d + mom * nm } else { nm };
                        *p = *p - lr * d;
                    }
                }
            }
        }
        Update::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled_wd,
            bias_correction1,
            bias_correction2,
        } => {
            let (Some(ea), Some(eas)) = (s0, s1) else {
                return;
            };
            let sign = T::c(if maximize { -1.0 } else { 1.0 });
            // Coupled decay adds wd*p to the gradient; decoupled (AdamW) shrinks p first.
            let (wd_c, wd_d) = if decoupled_wd {
                (T::c(0.0), T::c(1.0 - lr * weight_decay))
            } else {
                (T::c(weight_decay), one)
            };
            let (ob1, b2, ob2) = (T::c(1.0 - beta1), T::c(beta2), T::c(1.0 - beta2));
            let step_size = T::c(lr / bias_correction1);
            let bc2s = T::c(bias_correction2.sqrt());
            let eps = T::c(eps);
            // Two straight loops (with and without the AMSGrad maximum) over zipped slices: no
            // bounds checks or per-element branches, so the sqrt/div chain vectorises.
            match (amsgrad, s2) {
                (true, Some(mx)) => {
                    let it = p.iter_mut().zip(g).zip(ea.iter_mut()).zip(eas.iter_mut());
                    for ((((p, &g), m), v), mb) in it.zip(mx.iter_mut()) {
                        let pv = *p * wd_d;
                        let gv = sign * g + wd_c * pv;
                        let mn = *m + ob1 * (gv - *m);
                        let vn = b2 * *v + ob2 * gv * gv;
                        *m = mn;
                        *v = vn;
                        let vmax = if *mb > vn { *mb } else { vn };
                        *mb = vmax;
                        *p = pv - step_size * (mn / (vmax.sqrt() / bc2s + eps));
                    }
                }
                _ => {
                    let it = p.iter_mut().zip(g).zip(ea.iter_mut()).zip(eas.iter_mut());
                    for (((p, &g), m), v) in it {
                        let pv = *p * wd_d;
                        let gv = sign * g + wd_c * pv;
                        let mn = *m + ob1 * (gv - *m);
                        let vn = b2 * *v + ob2 * gv * gv;
                        *m = mn;
                        *v = vn;
                        *p = pv - step_size * (mn / (vn.sqrt() / bc2s + eps));
                    }
                }
            }
        }
        Update::Adagrad {
            clr,
            weight_decay,
            eps,
            maximize,
        } => {
            let Some(sum) = s0 else { return };
            let sign = T::c(if maximize { -1.0 } else { 1.0 });
            let (clr, wd, eps) = (T::c(clr), T::c(weight_decay), T::c(eps));
            for ((p, &g), s) in p.iter_mut().zip(g).zip(sum.iter_mut()) {
                let gv = sign * g + wd * *p;
                let ns = *s + gv * gv;
                *s = ns;
                *p = *p - clr * (gv / (ns.sqrt() + eps));
            }
        }
        Update::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        } => {
            let (Some(sq), Some(acc)) = (s0, s1) else {
                return;
            };
            let sign = T::c(if maximize { -1.0 } else { 1.0 });
            let (lr, r, or, eps, wd) = (
                T::c(lr),
                T::c(rho),
                T::c(1.0 - rho),
                T::c(eps),
                T::c(weight_decay),
            );
            for i in 0..p.len() {
                let gv = sign * g[i] + wd * p[i];
                let s = sq[i] * r + or * gv * gv;
                sq[i] = s;
                let delta = (acc[i] + eps).sqrt() / (s + eps).sqrt() * gv;
                acc[i] = acc[i] * r + or * delta * delta;
                p[i] = p[i] - lr * delta;
            }
        }
        Update::Rmsprop {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        } => {
            let Some(sq) = s0 else { return };
            let sign = T::c(if maximize { -1.0 } else { 1.0 });
            let (lr, a, oa, eps, wd, mom) = (
                T::c(lr),
                T::c(alpha),
                T::c(1.0 - alpha),
                T::c(eps),
                T::c(weight_decay),
                T::c(momentum),
            );
            let mut buf = s1;
            let mut gavg = if centered { s2 } else { None };
            for i in 0..p.len() {
                let gv = sign * g[i] + wd * p[i];
                let s = sq[i] * a + oa * gv * gv;
                sq[i] = s;
                let avg = match gavg.as_deref_mut() {
                    Some(ga) => {
                        let m = ga[i] + oa * (gv - ga[i]);
                        ga[i] = m;
                        (s - m * m).sqrt() + eps
                    }
                    None => s.sqrt() + eps,
                };
                match buf.as_deref_mut() {
                    Some(b) => {
                        let nb = b[i] * mom + gv / avg;
                        b[i] = nb;
                        p[i] = p[i] - lr * nb;
                    }
                    None => p[i] = p[i] - lr * (gv / avg),
                }
            }
        }
    }
}
