//! 2-D pooling (max, average, adaptive average and adaptive max) on NCHW planes: argument checks,
//! window geometry and the backward rules; the 1-D forms are views from Python. The kernels
//! (`kernels::*_pool2d*`) treat every (n, c) plane on its own.

use super::contiguous;
use crate::autograd::record;
use crate::error::{Error, Result};
use crate::kernels;
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

/// Window geometry of one 2-D pooling op over `planes` planes of `h x w`. Fixed windows are
/// `k` taps with stride `s`, padding `p` and dilation `d`; adaptive windows (`adaptive`) split
/// the plane into `oh x ow` near-equal, possibly overlapping ranges and ignore `k`/`s`/`p`/`d`.
#[derive(Clone, Copy, Debug)]
pub struct PoolGeom {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub k: [usize; 2],
    pub s: [usize; 2],
    pub p: [usize; 2],
    pub d: [usize; 2],
    pub adaptive: bool,
}

/// How average pooling divides a window's sum.
#[derive(Clone, Copy, Debug)]
pub struct AvgCfg {
    pub count_include_pad: bool,
    pub divisor: Option<f64>,
}

impl PoolGeom {
    /// Input rows (or columns, with `i = 1`) `[start, end)` of adaptive window `o` (PyTorch's
    /// `start = floor(o * len / out)`, `end = ceil((o + 1) * len / out)`).
    pub fn adaptive_range(&self, i: usize, o: usize) -> (usize, usize) {
        let (len, out) = if i == 0 {
            (self.h, self.oh)
        } else {
            (self.w, self.ow)
        };
        (o * len / out, ((o + 1) * len).div_ceil(out))
    }

    /// Clipped input window `(y0, y1, x0, x1)` of average pooling output (oy, ox) and the
    /// divisor of its sum.
    #[inline]
    pub fn avg_window(
        &self,
        c: &AvgCfg,
        oy: usize,
        ox: usize,
    ) -> (usize, usize, usize, usize, f64) {
        if self.adaptive {
            let (y0, y1) = self.adaptive_range(0, oy);
            let (x0, x1) = self.adaptive_range(1, ox);
            return (y0, y1, x0, x1, ((y1 - y0) * (x1 - x0)) as f64);
        }
        let ys = (oy * self.s[0]) as isize - self.p[0] as isize;
        let xs = (ox * self.s[1]) as isize - self.p[1] as isize;
        let ye = (ys + self.k[0] as isize).min((self.h + self.p[0]) as isize);
        let xe = (xs + self.k[1] as isize).min((self.w + self.p[1]) as isize);
        let padded = ((ye - ys) * (xe - xs)) as f64;
        let (y0, x0) = (ys.max(0) as usize, xs.max(0) as usize);
        let (y1, x1) = (
            ye.min(self.h as isize) as usize,
            xe.min(self.w as isize) as usize,
        );
        let div = c.divisor.unwrap_or(if c.count_include_pad {
            padded
        } else {
            ((y1.saturating_sub(y0)) * (x1.saturating_sub(x0))) as f64
        });
        (y0, y1.max(y0), x0, x1.max(x0), div)
    }
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
        adaptive: false,
    })
}

/// Geometry of an adaptive pooling op to `out` (PyTorch refuses empty planes).
fn adaptive_geom(x: &Tensor, out: [usize; 2], name: &str) -> Result<PoolGeom> {
    let (planes, h, w) = planes_of(x, name)?;
    if (h == 0 || w == 0) && planes > 0 {
        return Err(Error::runtime(format!(
            "{name}(): Expected input to have non-zero size for non-batch dimensions"
        )));
    }
    Ok(PoolGeom {
        planes,
        h,
        w,
        oh: out[0],
        ow: out[1],
        k: [1, 1],
        s: [1, 1],
        p: [0, 0],
        d: [1, 1],
        adaptive: true,
    })
}

/// Values and int64 indices (flat `h * W + w` within each plane) of a max pooling, with the
/// backward rule that routes each output gradient to its index.
fn max_common(x: &Tensor, g: PoolGeom, name: &'static str) -> Result<(Tensor, Tensor)> {
    let xc = contiguous(&x.detach())?;
    let (out, idx) = kernels::max_pool2d(&xc, &g)?;
    let (ishape, si) = (x.shape(), idx.clone());
    record(name, &[x], &[&out, &idx], true, move |gr, _| {
        let gy = contiguous(&gr[0].detach())?;
        Ok(vec![Some(kernels::max_pool2d_backward(
            &gy, &si, &g, &ishape,
        )?)])
    });
    Ok((out, idx))
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
    let g = geom(x, k, s, p, d, ceil, "max_pool2d")?;
    max_common(x, g, "MaxPool2DWithIndicesBackward0")
}

/// `F.adaptive_max_pool2d` on a 4-D input: (values, flat indices into each H*W plane).
pub fn adaptive_max_pool2d(x: &Tensor, out: [usize; 2]) -> Result<(Tensor, Tensor)> {
    let g = adaptive_geom(x, out, "adaptive_max_pool2d")?;
    max_common(x, g, "AdaptiveMaxPool2DBackward0")
}

fn avg_common(x: &Tensor, g: PoolGeom, c: AvgCfg, name: &'static str) -> Result<Tensor> {
    let xc = contiguous(&x.detach())?;
    let out = kernels::avg_pool2d(&xc, &g, &c)?;
    let ishape = x.shape();
    record(name, &[x], &[&out], false, move |gr, _| {
        let gy = contiguous(&gr[0].detach())?;
        Ok(vec![Some(kernels::avg_pool2d_backward(
            &gy, &g, &c, &ishape,
        )?)])
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
    if divisor_override == Some(0) {
        return Err(Error::runtime("divisor must be not zero"));
    }
    let g = geom(x, k, s, p, [1, 1], ceil, "avg_pool2d")?;
    let c = AvgCfg {
        count_include_pad,
        divisor: divisor_override.map(|v| v as f64),
    };
    avg_common(x, g, c, "AvgPool2DBackward0")
}

/// `F.adaptive_avg_pool2d` on a 4-D input.
pub fn adaptive_avg_pool2d(x: &Tensor, out: [usize; 2]) -> Result<Tensor> {
    let g = adaptive_geom(x, out, "adaptive_avg_pool2d")?;
    let c = AvgCfg {
        count_include_pad: true,
        divisor: None,
    };
    avg_common(x, g, c, "AdaptiveAvgPool2DBackward0")
}
