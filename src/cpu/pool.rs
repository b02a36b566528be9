//! CPU pooling kernels on contiguous NCHW planes. Planes (n, c) are independent, so forward and
//! backward run plane-parallel; each kernel writes only its own planes.

use crate::cpu::threads::{parallel_for, SendPtr};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{AvgCfg, GemmFloat, PoolGeom};
use crate::tensor::Tensor;

fn ptr<T>(t: &Tensor) -> SendPtr<T> {
    let d = t.data();
    // SAFETY: offset within the storage.
    SendPtr(unsafe { (d.storage.cpu_ptr() as *mut T).add(d.layout.offset) })
}

fn max_fwd<T: GemmFloat>(x: &Tensor, g: PoolGeom, out: &Tensor, idx: &Tensor) {
    let (xp, op, ip) = (ptr::<T>(x), ptr::<T>(out), ptr::<i64>(idx));
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    parallel_for(g.planes, (1 << 14) / (hw + 1) + 1, |s, e| {
        let (xp, op, ip) = (&xp, &op, &ip);
        for pl in s..e {
            // SAFETY: plane pl of each contiguous tensor.
            let (xs, os, is) = unsafe {
                (
                    std::slice::from_raw_parts(xp.0.add(pl * hw), hw),
                    std::slice::from_raw_parts_mut(op.0.add(pl * ohw), ohw),
                    std::slice::from_raw_parts_mut(ip.0.add(pl * ohw), ohw),
                )
            };
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut best = T::NEG_INF;
                    let mut bi: i64 = -1;
                    for ki in 0..g.k[0] {
                        let iy = (oy * g.s[0] + ki * g.d[0]) as isize - g.p[0] as isize;
                        if iy < 0 || iy >= g.h as isize {
                            continue;
                        }
                        for kj in 0..g.k[1] {
                            let ix = (ox * g.s[1] + kj * g.d[1]) as isize - g.p[1] as isize;
                            if ix < 0 || ix >= g.w as isize {
                                continue;
                            }
                            let j = iy as usize * g.w + ix as usize;
                            let v = xs[j];
                            if bi < 0 || v > best || v.nan() {
                                best = v;
                                bi = j as i64;
                                if v.nan() {
                                    break;
                                }
                            }
                        }
                    }
                    os[oy * g.ow + ox] = best;
                    is[oy * g.ow + ox] = bi.max(0);
                }
            }
        }
    });
}

fn max_bwd<T: GemmFloat>(gy: &Tensor, idx: &Tensor, g: PoolGeom, dx: &Tensor) {
    let (gp, ip, dp) = (ptr::<T>(gy), ptr::<i64>(idx), ptr::<T>(dx));
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    parallel_for(g.planes, (1 << 14) / (hw + 1) + 1, |s, e| {
        let (gp, ip, dp) = (&gp, &ip, &dp);
        for pl in s..e {
            // SAFETY: plane pl of each contiguous tensor; dx is fresh.
            let (gs, is, ds) = unsafe {
                (
                    std::slice::from_raw_parts(gp.0.add(pl * ohw), ohw),
                    std::slice::from_raw_parts(ip.0.add(pl * ohw), ohw),
                    std::slice::from_raw_parts_mut(dp.0.add(pl * hw), hw),
                )
            };
            ds.fill(T::ZERO);
            for (&v, &i) in gs.iter().zip(is) {
                ds[i as usize] += v;
            }
        }
    });
}

/// Adaptive max pooling with PyTorch's rule: a window starts from its first element, a larger
/// value or any NaN replaces the running maximum (so the last NaN wins).
fn adaptive_max_fwd<T: GemmFloat>(x: &Tensor, g: PoolGeom, out: &Tensor, idx: &Tensor) {
    let (xp, op, ip) = (ptr::<T>(x), ptr::<T>(out), ptr::<i64>(idx));
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    parallel_for(g.planes, (1 << 14) / (hw + 1) + 1, |s, e| {
        let (xp, op, ip) = (&xp, &op, &ip);
        for pl in s..e {
            // SAFETY: plane pl of each contiguous tensor.
            let (xs, os, is) = unsafe {
                (
                    std::slice::from_raw_parts(xp.0.add(pl * hw), hw),
                    std::slice::from_raw_parts_mut(op.0.add(pl * ohw), ohw),
                    std::slice::from_raw_parts_mut(ip.0.add(pl * ohw), ohw),
                )
            };
            for oy in 0..g.oh {
                let (y0, y1) = g.adaptive_range(0, oy);
                for ox in 0..g.ow {
                    let (x0, x1) = g.adaptive_range(1, ox);
                    let mut best = T::NEG_INF;
                    let mut bi = y0 * g.w + x0;
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            let j = iy * g.w + ix;
                            let v = xs[j];
                            if v > best || v.nan() {
                                best = v;
                                bi = j;
                            }
                        }
                    }
                    os[oy * g.ow + ox] = best;
                    is[oy * g.ow + ox] = bi as i64;
                }
            }
        }
    });
}

fn avg_fwd<T: GemmFloat>(x: &Tensor, g: PoolGeom, c: AvgCfg, out: &Tensor) {
    let (xp, op) = (ptr::<T>(x), ptr::<T>(out));
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    parallel_for(g.planes, (1 << 14) / (hw + 1) + 1, |s, e| {
        let (xp, op) = (&xp, &op);
        for pl in s..e {
            // SAFETY: plane pl of each contiguous tensor.
            let (xs, os) = unsafe {
                (
                    std::slice::from_raw_parts(xp.0.add(pl * hw), hw),
                    std::slice::from_raw_parts_mut(op.0.add(pl * ohw), ohw),
                )
            };
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let (y0, y1, x0, x1, div) = g.avg_window(&c, oy, ox);
                    let mut acc = T::ZERO;
                    for iy in y0..y1 {
                        for &v in &xs[iy * g.w + x0..iy * g.w + x1] {
                            acc += v;
                        }
                    }
                    os[oy * g.ow + ox] = T::from_f64(acc.to_f64() / div);
                }
            }
        }
    });
}

fn avg_bwd<T: GemmFloat>(gy: &Tensor, g: PoolGeom, c: AvgCfg, dx: &Tensor) {
    let (gp, dp) = (ptr::<T>(gy), ptr::<T>(dx));
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    parallel_for(g.planes, (1 << 14) / (hw + 1) + 1, |s, e| {
        let (gp, dp) = (&gp, &dp);
        for pl in s..e {
            // SAFETY: plane pl of each contiguous tensor; dx is fresh.
            let (gs, ds) = unsafe {
                (
                    std::slice::from_raw_parts(gp.0.add(pl * ohw), ohw),
                    std::slice::from_raw_parts_mut(dp.0.add(pl * hw), hw),
                )
            };
            ds.fill(T::ZERO);
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let (y0, y1, x0, x1, div) = g.avg_window(&c, oy, ox);
                    let v = T::from_f64(gs[oy * g.ow + ox].to_f64() / div);
                    for iy in y0..y1 {
                        for d in &mut ds[iy * g.w + x0..iy * g.w + x1] {
                            *d += v;
                        }
                    }
                }
            }
        }
    });
}

/// Max pooling of contiguous `x`: values and int64 indices, `[n, c, oh, ow]` each.
pub fn max_pool2d(x: &Tensor, g: &PoolGeom) -> Result<(Tensor, Tensor)> {
    let sh = x.shape();
    let oshape = [sh[0], sh[1], g.oh, g.ow];
    let out = Tensor::empty(&oshape, x.dtype())?;
    let idx = Tensor::empty(&oshape, DType::I64)?;
    match (x.dtype(), g.adaptive) {
        (DType::F32, false) => max_fwd::<f32>(x, *g, &out, &idx),
        (_, false) => max_fwd::<f64>(x, *g, &out, &idx),
        (DType::F32, true) => adaptive_max_fwd::<f32>(x, *g, &out, &idx),
        (_, true) => adaptive_max_fwd::<f64>(x, *g, &out, &idx),
    }
    Ok((out, idx))
}

/// Input gradient of a max pooling: each output gradient added at its index.
pub fn max_pool2d_backward(
    gy: &Tensor,
    idx: &Tensor,
    g: &PoolGeom,
    ishape: &[usize],
) -> Result<Tensor> {
    let dx = Tensor::empty(ishape, gy.dtype())?;
    match gy.dtype() {
        DType::F32 => max_bwd::<f32>(gy, idx, *g, &dx),
        _ => max_bwd::<f64>(gy, idx, *g, &dx),
    }
    Ok(dx)
}

/// Average pooling of contiguous `x` (fixed or adaptive windows): `[n, c, oh, ow]`.
pub fn avg_pool2d(x: &Tensor, g: &PoolGeom, c: &AvgCfg) -> Result<Tensor> {
    let sh = x.shape();
    let out = Tensor::empty(&[sh[0], sh[1], g.oh, g.ow], x.dtype())?;
    match x.dtype() {
        DType::F32 => avg_fwd::<f32>(x, *g, *c, &out),
        _ => avg_fwd::<f64>(x, *g, *c, &out),
    }
    Ok(out)
}

/// Input gradient of an average pooling: each output gradient spread over its window.
pub fn avg_pool2d_backward(
    gy: &Tensor,
    g: &PoolGeom,
    c: &AvgCfg,
    ishape: &[usize],
) -> Result<Tensor> {
    let dx = Tensor::empty(ishape, gy.dtype())?;
    match gy.dtype() {
        DType::F32 => avg_bwd::<f32>(gy, *g, *c, &dx),
        _ => avg_bwd::<f64>(gy, *g, *c, &dx),
    }
    Ok(dx)
}
