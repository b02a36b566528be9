//! 2-D pooling (max, average, adaptive average) on NCHW planes; the 1-D forms are views from
//! Python. Planes (n, c) are independent, so forward and backward run plane-parallel.

use super::contiguous;
use super::matmul::GemmFloat;
use crate::autograd::record;
use crate::cpu::threads::{parallel_for, SendPtr};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Output length of a pooling window sweep, with PyTorch's ceil_mode rule (the last window must
/// start inside the input or the left padding).
fn out_len(len: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> isize {
    let num = len as isize + 2 * p as isize - (d * (k - 1)) as isize - 1;
    let s = s as isize;
    let mut o = if ceil {
        (num + s - 1).div_euclid(s)
    } else {
        num.div_euclid(s)
    } + 1;
    if ceil && (o - 1) * s >= len as isize + p as isize {
        o -= 1;
    }
    o
}

/// Window geometry of one 2-D pooling op.
#[derive(Clone, Copy)]
struct PoolGeom {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
}

fn planes_of(x: &Tensor, name: &str) -> Result<(usize, usize, usize)> {
    if x.ndim() != 4 {
        return Err(Error::runtime(format!(
            "{name}: Expected 3D or 4D (batch mode) tensor for input, but got: {}D",
            x.ndim()
        )));
    }
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(format!(
            "\"{name}\" not implemented for '{}'",
            crate::ops::torch_dtype_name(x.dtype())
        )));
    }
    let s = x.shape();
    Ok((s[0] * s[1], s[2], s[3]))
}

fn geom(
    x: &Tensor,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    ceil: bool,
    name: &str,
) -> Result<PoolGeom> {
    let (planes, h, w) = planes_of(x, name)?;
    if k.contains(&0) || s.contains(&0) || d.contains(&0) {
        return Err(Error::runtime(format!(
            "{name}: kernel_size, stride and dilation must be greater than zero"
        )));
    }
    for i in 0..2 {
        if p[i] * 2 > k[i] {
            return Err(Error::runtime(format!(
                "pad should be at most half of effective kernel size, but got pad={}, kernel_size={} and dilation={}",
                p[i], k[i], d[i]
            )));
        }
    }
    let oh = out_len(h, k[0], s[0], p[0], d[0], ceil);
    let ow = out_len(w, k[1], s[1], p[1], d[1], ceil);
    if oh <= 0 || ow <= 0 {
        let sh = x.shape();
        return Err(Error::runtime(format!(
            "Given input size: ({}x{}x{}). Calculated output size: ({}x{}x{}). Output size is too small",
            sh[1], h, w, sh[1], oh, ow
        )));
    }
    Ok(PoolGeom {
        planes,
        h,
        w,
        oh: oh as usize,
        ow: ow as usize,
        k,
        s,
        p,
        d,
    })
}

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

/// `F.max_pool2d` on a 4-D input: (values, flat indices into each H*W plane).
pub fn max_pool2d(
    x: &Tensor,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    ceil: bool,
) -> Result<(Tensor, Tensor)> {
    crate::kernels::require_cpu("max_pool2d_with_indices", &[x])?;
    let g = geom(x, k, s, p, d, ceil, "max_pool2d")?;
    let xc = contiguous(&x.detach())?;
    let sh = x.shape();
    let oshape = [sh[0], sh[1], g.oh, g.ow];
    let out = Tensor::empty(&oshape, x.dtype())?;
    let idx = Tensor::empty(&oshape, DType::I64)?;
    match x.dtype() {
        DType::F32 => max_fwd::<f32>(&xc, g, &out, &idx),
        _ => max_fwd::<f64>(&xc, g, &out, &idx),
    }
    let (ishape, dtype, si) = (sh.clone(), x.dtype(), idx.clone());
    record(
        "MaxPool2DWithIndicesBackward0",
        &[x],
        &[&out, &idx],
        true,
        move |gr, _| {
            let gy = contiguous(&gr[0].detach())?;
            let dx = Tensor::empty(&ishape, dtype)?;
            match dtype {
                DType::F32 => max_bwd::<f32>(&gy, &si, g, &dx),
                _ => max_bwd::<f64>(&gy, &si, g, &dx),
            }
            Ok(vec![Some(dx)])
        },
    );
    Ok((out, idx))
}

/// Window bounds and divisor of average pooling output (oy, ox).
#[derive(Clone, Copy)]
struct AvgCfg {
    count_include_pad: bool,
    divisor: Option<f64>,
    adaptive: bool,
}

#[inline]
fn window(g: &PoolGeom, c: &AvgCfg, oy: usize, ox: usize) -> (usize, usize, usize, usize, f64) {
    if c.adaptive {
        let (y0, y1) = (oy * g.h / g.oh, ((oy + 1) * g.h).div_ceil(g.oh));
        let (x0, x1) = (ox * g.w / g.ow, ((ox + 1) * g.w).div_ceil(g.ow));
        return (y0, y1, x0, x1, ((y1 - y0) * (x1 - x0)) as f64);
    }
    let ys = (oy * g.s[0]) as isize - g.p[0] as isize;
    let xs = (ox * g.s[1]) as isize - g.p[1] as isize;
    let ye = (ys + g.k[0] as isize).min((g.h + g.p[0]) as isize);
    let xe = (xs + g.k[1] as isize).min((g.w + g.p[1]) as isize);
    let padded = ((ye - ys) * (xe - xs)) as f64;
    let (y0, x0) = (ys.max(0) as usize, xs.max(0) as usize);
    let (y1, x1) = (ye.min(g.h as isize) as usize, xe.min(g.w as isize) as usize);
    let div = c.divisor.unwrap_or(if c.count_include_pad {
        padded
    } else {
        ((y1.saturating_sub(y0)) * (x1.saturating_sub(x0))) as f64
    });
    (y0, y1.max(y0), x0, x1.max(x0), div)
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
                    let (y0, y1, x0, x1, div) = window(&g, &c, oy, ox);
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
                    let (y0, y1, x0, x1, div) = window(&g, &c, oy, ox);
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

fn avg_common(x: &Tensor, g: PoolGeom, c: AvgCfg, name: &'static str) -> Result<Tensor> {
    let xc = contiguous(&x.detach())?;
    let sh = x.shape();
    let out = Tensor::empty(&[sh[0], sh[1], g.oh, g.ow], x.dtype())?;
    match x.dtype() {
        DType::F32 => avg_fwd::<f32>(&xc, g, c, &out),
        _ => avg_fwd::<f64>(&xc, g, c, &out),
    }
    let dtype = x.dtype();
    record(name, &[x], &[&out], false, move |gr, _| {
        let gy = contiguous(&gr[0].detach())?;
        let dx = Tensor::empty(&sh, dtype)?;
        match dtype {
            DType::F32 => avg_bwd::<f32>(&gy, g, c, &dx),
            _ => avg_bwd::<f64>(&gy, g, c, &dx),
        }
        Ok(vec![Some(dx)])
    });
    Ok(out)
}

/// `F.avg_pool2d` on a 4-D input.
#[allow(clippy::too_many_arguments)]
pub fn avg_pool2d(
    x: &Tensor,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    ceil: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> Result<Tensor> {
    crate::kernels::require_cpu("avg_pool2d", &[x])?;
    if divisor_override == Some(0) {
        return Err(Error::runtime("divisor must be not zero"));
    }
    let g = geom(x, k, s, p, [1, 1], ceil, "avg_pool2d")?;
    let c = AvgCfg {
        count_include_pad,
        divisor: divisor_override.map(|v| v as f64),
        adaptive: false,
    };
    avg_common(x, g, c, "AvgPool2DBackward0")
}

/// `F.adaptive_avg_pool2d` on a 4-D input.
pub fn adaptive_avg_pool2d(x: &Tensor, out: [usize; 2]) -> Result<Tensor> {
    crate::kernels::require_cpu("_adaptive_avg_pool2d", &[x])?;
    let (planes, h, w) = planes_of(x, "adaptive_avg_pool2d")?;
    if (h == 0 || w == 0) && planes > 0 {
        return Err(Error::runtime(
            "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions",
        ));
    }
    let g = PoolGeom {
        planes,
        h,
        w,
        oh: out[0],
        ow: out[1],
        k: [1, 1],
        s: [1, 1],
        p: [0, 0],
        d: [1, 1],
    };
    let c = AvgCfg {
        count_include_pad: true,
        divisor: None,
        adaptive: true,
    };
    avg_common(x, g, c, "AdaptiveAvgPool2DBackward0")
}
