//! Convolutions (`conv2d`, `conv_transpose2d`; the 1-D forms are views over these from Python).
//! Each sample is unfolded with im2col and multiplied by the weight with one GEMM per group; the
//! batch is spread over threads. The three kernels (forward, input gradient, weight gradient)
//! also serve the transposed convolution, whose forward is the input gradient of a convolution.

use super::matmul::GemmFloat;
use super::{contiguous, sum};
use crate::autograd::{record, SavedTensor};
use crate::cpu::threads::{parallel_for, SendPtr};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::sync::Mutex;

/// Shape of a convolution seen as "input (c, h, w) -> output (o, oh, ow)".
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    dh: usize,
    dw: usize,
    groups: usize,
}

impl Geom {
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn og(&self) -> usize {
        self.o / self.groups
    }
    fn kk(&self) -> usize {
        self.kh * self.kw
    }
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    /// 1x1 kernel, unit stride, no padding: the input plane already is the column matrix.
    fn pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.sh == 1
            && self.sw == 1
            && self.ph == 0
            && self.pw == 0
            && self.oh == self.h
            && self.ow == self.w
    }
}

/// Unfold `cg` channels of one sample (`x` points at its first channel) into `col`
/// (`[cg*kh*kw, oh*ow]`, row-major), with zeros where the window hits the padding.
fn im2col<T: GemmFloat>(x: &[T], g: &Geom, col: &mut [T]) {
    let l = g.l();
    for c in 0..g.cg() {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = ((c * g.kh + ki) * g.kw + kj) * l;
                for oy in 0..g.oh {
                    let dst = &mut col[row + oy * g.ow..row + (oy + 1) * g.ow];
                    let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= g.h as isize {
                        dst.fill(T::ZERO);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let off = (kj * g.dw) as isize - g.pw as isize;
                    if g.sw == 1 && off >= 0 && off as usize + g.ow <= g.w {
                        dst.copy_from_slice(&src[off as usize..off as usize + g.ow]);
                        continue;
                    }
                    for (ox, d) in dst.iter_mut().enumerate() {
                        let ix = (ox * g.sw) as isize + off;
                        *d = if ix >= 0 && ix < g.w as isize {
                            src[ix as usize]
                        } else {
                            T::ZERO
                        };
                    }
                }
            }
        }
    }
}

/// Fold `col` back onto the (zeroed) planes `x`, adding overlapping windows.
fn col2im<T: GemmFloat>(col: &[T], g: &Geom, x: &mut [T]) {
    let l = g.l();
    for c in 0..g.cg() {
        let plane = &mut x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = ((c * g.kh + ki) * g.kw + kj) * l;
                for oy in 0..g.oh {
                    let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let src = &col[row + oy * g.ow..row + (oy + 1) * g.ow];
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let off = (kj * g.dw) as isize - g.pw as isize;
                    for (ox, &v) in src.iter().enumerate() {
                        let ix = (ox * g.sw) as isize + off;
                        if ix >= 0 && ix < g.w as isize {
                            dst[ix as usize] += v;
                        }
                    }
                }
            }
        }
    }
}

/// `y[n] = W · im2col(x[n]) (+ bias)`; x `[n,c,h,w]`, w `[o,c/g,kh,kw]`, both contiguous.
fn fwd_kernel<T: GemmFloat>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Geom, y: &mut [T]) {
    let (cg, og, kk, l) = (g.cg(), g.og(), g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    let yp = SendPtr(y.as_mut_ptr());
    parallel_for(g.n, 1, |s, e| {
        let yp = &yp;
        let mut col = if g.pointwise() {
            Vec::new()
        } else {
            vec![T::ZERO; cg * kk * l]
        };
        for n in s..e {
            for gi in 0..g.groups {
                let xg = &x[n * xs + gi * cg * g.h * g.w..];
                let cp = group_columns(xg, g, &mut col);
                // SAFETY: w holds o*cg*kk elements, col cg*kk*l, y's sample slice og*l per group;
                // each sample's output region is written by one chunk only.
                unsafe {
                    T::gemm(
                        og,
                        l,
                        cg * kk,
                        T::ONE,
                        w.as_ptr().add(gi * og * cg * kk),
                        (cg * kk) as isize,
                        1,
                        cp,
                        l as isize,
                        1,
                        T::ZERO,
                        yp.0.add(n * ys + gi * og * l),
                        l as isize,
                        1,
                    );
                }
            }
            if let Some(b) = bias {
                for (oc, &bv) in b.iter().enumerate() {
                    // SAFETY: within sample n's output.
                    let row =
                        unsafe { std::slice::from_raw_parts_mut(yp.0.add(n * ys + oc * l), l) };
                    row.iter_mut().for_each(|v| *v += bv);
                }
            }
        }
    });
}

/// `dx[n] = col2im(W^T · dy[n])`; the input gradient of a convolution.
fn bwd_input_kernel<T: GemmFloat>(dy: &[T], w: &[T], g: &Geom, dx: &mut [T]) {
    let (cg, og, kk, l) = (g.cg(), g.og(), g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    let xp = SendPtr(dx.as_mut_ptr());
    parallel_for(g.n, 1, |s, e| {
        let xp = &xp;
        let mut col = vec![T::ZERO; if g.pointwise() { 0 } else { cg * kk * l }];
        for n in s..e {
            for gi in 0..g.groups {
                let dyp = dy[n * ys + gi * og * l..].as_ptr();
                let wp = w[gi * og * cg * kk..].as_ptr();
                // SAFETY: sample n's slice of dx belongs to this chunk only.
                let dxg = unsafe {
                    std::slice::from_raw_parts_mut(
                        xp.0.add(n * xs + gi * cg * g.h * g.w),
                        cg * g.h * g.w,
                    )
                };
                let (cp, rs) = if g.pointwise() {
                    (dxg.as_mut_ptr(), l as isize)
                } else {
                    (col.as_mut_ptr(), l as isize)
                };
                // SAFETY: sizes as in fwd_kernel, with W read transposed through its strides.
                unsafe {
                    T::gemm(
                        cg * kk,
                        l,
                        og,
                        T::ONE,
                        wp,
                        1,
                        (cg * kk) as isize,
                        dyp,
                        l as isize,
                        1,
                        T::ZERO,
                        cp,
                        rs,
                        1,
                    );
                }
                if !g.pointwise() {
                    dxg.fill(T::ZERO);
                    col2im(&col, g, dxg);
                }
            }
        }
    });
}

/// The column matrix of one group of one sample: the input itself for pointwise (1x1, unpadded,
/// stride-1) kernels, else its im2col expansion written into `col`.
fn group_columns<T: GemmFloat>(xg: &[T], g: &Geom, col: &mut [T]) -> *const T {
    if g.pointwise() {
        xg.as_ptr()
    } else {
        im2col(xg, g, col);
        col.as_ptr()
    }
}

/// `dW = sum_n dy[n] · im2col(x[n])^T`, accumulated per thread chunk then summed.
fn bwd_weight_kernel<T: GemmFloat>(dy: &[T], x: &[T], g: &Geom, dw: &mut [T]) {
    let (cg, og, kk, l) = (g.cg(), g.og(), g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    // Each chunk's partial sum is keyed by its first sample and the partials are added in that
    // order, so the result does not depend on which thread finished first.
    let parts: Mutex<Vec<(usize, Vec<T>)>> = Mutex::new(Vec::new());
    parallel_for(g.n, 1, |s, e| {
        let mut acc = vec![T::ZERO; dw.len()];
        let mut col = vec![T::ZERO; if g.pointwise() { 0 } else { cg * kk * l }];
        for n in s..e {
            for gi in 0..g.groups {
                let xg = &x[n * xs + gi * cg * g.h * g.w..];
                let cp = group_columns(xg, g, &mut col);
                // SAFETY: acc is this chunk's own og*cg*kk block per group.
                unsafe {
                    T::gemm(
                        og,
                        cg * kk,
                        l,
                        T::ONE,
                        dy[n * ys + gi * og * l..].as_ptr(),
                        l as isize,
                        1,
                        cp,
                        1,
                        l as isize,
                        T::ONE,
                        acc.as_mut_ptr().add(gi * og * cg * kk),
                        (cg * kk) as isize,
                        1,
                    );
                }
            }
        }
        if let Ok(mut p) = parts.lock() {
            p.push((s, acc));
        }
    });
    dw.fill(T::ZERO);
    let mut parts = parts.into_inner().unwrap_or_default();
    parts.sort_unstable_by_key(|(s, _)| *s);
    for (_, p) in parts {
        dw.iter_mut().zip(&p).for_each(|(d, &v)| *d += v);
    }
}

fn slice_of<T>(t: &Tensor) -> &[T] {
    let d = t.data();
    // SAFETY: t is contiguous and owns numel elements of T from its offset; the storage outlives
    // the borrow because the caller keeps `t` alive.
    unsafe {
        std::slice::from_raw_parts(
            (d.storage.cpu_ptr() as *const T).add(d.layout.offset),
            d.layout.numel(),
        )
    }
}

// Only ever called on a tensor created a line earlier and not yet shared, so the mutable slice
// is the sole access to that storage.
#[allow(clippy::mut_from_ref)]
fn slice_mut<T>(t: &Tensor) -> &mut [T] {
    let d = t.data();
    // SAFETY: t is a fresh contiguous tensor nobody else references yet.
    unsafe {
        std::slice::from_raw_parts_mut(
            (d.storage.cpu_ptr() as *mut T).add(d.layout.offset),
            d.layout.numel(),
        )
    }
}

/// Convolution forward on contiguous tensors: out `[n, o, oh, ow]`.
fn conv_fwd(x: &Tensor, w: &Tensor, b: Option<&Tensor>, g: &Geom) -> Result<Tensor> {
    let y = Tensor::empty(&[g.n, g.o, g.oh, g.ow], x.dtype())?;
    match x.dtype() {
        DType::F32 => {
            fwd_kernel::<f32>(slice_of(x), slice_of(w), b.map(slice_of), g, slice_mut(&y))
        }
        _ => fwd_kernel::<f64>(slice_of(x), slice_of(w), b.map(slice_of), g, slice_mut(&y)),
    }
    Ok(y)
}

fn conv_bwd_input(dy: &Tensor, w: &Tensor, g: &Geom) -> Result<Tensor> {
    let dx = Tensor::empty(&[g.n, g.c, g.h, g.w], dy.dtype())?;
    match dy.dtype() {
        DType::F32 => bwd_input_kernel::<f32>(slice_of(dy), slice_of(w), g, slice_mut(&dx)),
        _ => bwd_input_kernel::<f64>(slice_of(dy), slice_of(w), g, slice_mut(&dx)),
    }
    Ok(dx)
}

fn conv_bwd_weight(dy: &Tensor, x: &Tensor, g: &Geom) -> Result<Tensor> {
    let dw = Tensor::empty(&[g.o, g.cg(), g.kh, g.kw], dy.dtype())?;
    match dy.dtype() {
        DType::F32 => bwd_weight_kernel::<f32>(slice_of(dy), slice_of(x), g, slice_mut(&dw)),
        _ => bwd_weight_kernel::<f64>(slice_of(dy), slice_of(x), g, slice_mut(&dw)),
    }
    Ok(dw)
}

fn fmt_list(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn check_common(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, groups: usize) -> Result<()> {
    if x.ndim() != 4 {
        return Err(Error::runtime(format!(
            "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {}",
            fmt_list(&x.shape())
        )));
    }
    if w.ndim() != 4 {
        return Err(Error::runtime(format!(
            "weight should have at least three dimensions, got weight of size {}",
            fmt_list(&w.shape())
        )));
    }
    if !x.dtype().is_float()
        || x.dtype() != w.dtype()
        || bias.is_some_and(|b| b.dtype() != x.dtype())
    {
        return Err(Error::runtime(format!(
            "expected scalar type {} but found {}",
            crate::ops::torch_dtype_name(x.dtype()),
            crate::ops::torch_dtype_name(if x.dtype() != w.dtype() {
                w.dtype()
            } else {
                bias.map_or(w.dtype(), |b| b.dtype())
            })
        )));
    }
    if groups == 0 {
        return Err(Error::runtime("non-positive groups is not supported"));
    }
    Ok(())
}

/// `F.conv2d` on a 4-D input. `padding` is (top, bottom, left, right) so that 'same' padding
/// with an odd total can put the extra row/column at the end, as PyTorch does.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: [usize; 2],
    padding: [usize; 4],
    dilation: [usize; 2],
    groups: usize,
) -> Result<Tensor> {
    crate::kernels::require_cpu("convolution", &[x, w])?;
    if let Some(b) = bias {
        crate::kernels::require_cpu("convolution", &[b])?;
    }
    check_common(x, w, bias, groups)?;
    let (xs, ws) = (x.shape(), w.shape());
    if ws[1] * groups != xs[1] {
        return Err(Error::runtime(format!(
            "Given groups={groups}, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
            fmt_list(&ws),
            fmt_list(&xs),
            ws[1] * groups,
            xs[1]
        )));
    }
    if ws[0] % groups != 0 {
        return Err(Error::runtime(format!(
            "Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {} instead",
            fmt_list(&ws)
        )));
    }
    if let Some(b) = bias {
        if b.ndim() != 1 || b.shape()[0] != ws[0] {
            return Err(Error::runtime(format!(
                "Given weight of size {}, expected bias to be 1-dimensional with {} elements, but got bias of size {} instead",
                fmt_list(&ws),
                ws[0],
                fmt_list(&b.shape())
            )));
        }
    }
    if stride.contains(&0) {
        return Err(Error::runtime("non-positive stride is not supported"));
    }
    if dilation.contains(&0) {
        return Err(Error::runtime("dilation should be greater than zero"));
    }
    let ph = xs[2] + padding[0] + padding[1];
    let pw = xs[3] + padding[2] + padding[3];
    let ekh = dilation[0] * (ws[2] - 1) + 1;
    let ekw = dilation[1] * (ws[3] - 1) + 1;
    if ph < ekh || pw < ekw {
        return Err(Error::runtime(format!(
            "Calculated padded input size per channel: ({ph} x {pw}). Kernel size: ({ekh} x {ekw}). Kernel size can't be greater than actual input size"
        )));
    }
    let g = Geom {
        n: xs[0],
        c: xs[1],
        h: xs[2],
        w: xs[3],
        o: ws[0],
        kh: ws[2],
        kw: ws[3],
        oh: (ph - ekh) / stride[0] + 1,
        ow: (pw - ekw) / stride[1] + 1,
        sh: stride[0],
        sw: stride[1],
        ph: padding[0],
        pw: padding[2],
        dh: dilation[0],
        dw: dilation[1],
        groups,
    };
    let xc = contiguous(&x.detach())?;
    let wc = contiguous(&w.detach())?;
    let bc = match bias {
        Some(b) => Some(contiguous(&b.detach())?),
        None => None,
    };
    let y = conv_fwd(&xc, &wc, bc.as_ref(), &g)?;
    let (sx, sw) = (SavedTensor::new(&xc), SavedTensor::new(&wc));
    let mut inputs = vec![x, w];
    if let Some(b) = bias {
        inputs.push(b);
    }
    record(
        "ConvolutionBackward0",
        &inputs,
        &[&y],
        true,
        move |gr, needs| {
            let dy = contiguous(&gr[0].detach())?;
            let gx = if needs[0] {
                Some(conv_bwd_input(&dy, &sw.get()?, &g)?)
            } else {
                None
            };
            let gw = if needs[1] {
                Some(conv_bwd_weight(&dy, &sx.get()?, &g)?)
            } else {
                None
            };
            let mut out = vec![gx, gw];
            if needs.len() > 2 {
                out.push(bias_grad(&dy, needs[2])?);
            }
            Ok(out)
        },
    );
    Ok(y)
}

/// Gradient of a per-channel bias: `dy` summed over batch and space (None when not needed).
fn bias_grad(dy: &Tensor, needed: bool) -> Result<Option<Tensor>> {
    needed.then(|| sum(dy, Some(&[0, 2, 3]), false)).transpose()
}

/// `F.conv_transpose2d` on a 4-D input; weight is `[c_in, c_out/groups, kh, kw]`.
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    groups: usize,
    dilation: [usize; 2],
) -> Result<Tensor> {
    crate::kernels::require_cpu("convolution_transpose", &[x, w])?;
    if let Some(b) = bias {
        crate::kernels::require_cpu("convolution_transpose", &[b])?;
    }
    check_common(x, w, bias, groups)?;
    let (xs, ws) = (x.shape(), w.shape());
    if ws[0] != xs[1] || ws[0] % groups != 0 {
        return Err(Error::runtime(format!(
            "Given transposed=1, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
            fmt_list(&ws),
            fmt_list(&xs),
            ws[0],
            xs[1]
        )));
    }
    if stride.contains(&0) {
        return Err(Error::runtime("non-positive stride is not supported"));
    }
    if dilation.contains(&0) {
        return Err(Error::runtime("dilation should be greater than zero"));
    }
    for i in 0..2 {
        if output_padding[i] >= stride[i].max(dilation[i]) {
            return Err(Error::runtime(
                "output padding must be smaller than either stride or dilation",
            ));
        }
    }
    let cout = ws[1] * groups;
    if let Some(b) = bias {
        if b.ndim() != 1 || b.shape()[0] != cout {
            return Err(Error::runtime(format!(
                "Given transposed=1, weight of size {}, expected bias to be 1-dimensional with {} elements, but got bias of size {} instead",
                fmt_list(&ws),
                cout,
                fmt_list(&b.shape())
            )));
        }
    }
    let full = |i: usize, k: usize| -> Result<usize> {
        let v = (xs[2 + i] as isize - 1) * stride[i] as isize - 2 * padding[i] as isize
            + (dilation[i] * (k - 1)) as isize
            + output_padding[i] as isize
            + 1;
        if v <= 0 {
            return Err(Error::runtime(format!(
                "Given input size per channel: ({} x {}). Calculated output size per channel: non-positive. Output size is too small",
                xs[2], xs[3]
            )));
        }
        Ok(v as usize)
    };
    let (hout, wout) = (full(0, ws[2])?, full(1, ws[3])?);
    // The conv whose input gradient this is: input (cout, hout, wout) -> output (cin, h, w).
    let g = Geom {
        n: xs[0],
        c: cout,
        h: hout,
        w: wout,
        o: xs[1],
        kh: ws[2],
        kw: ws[3],
        oh: xs[2],
        ow: xs[3],
        sh: stride[0],
        sw: stride[1],
        ph: padding[0],
        pw: padding[1],
        dh: dilation[0],
        dw: dilation[1],
        groups,
    };
    let xc = contiguous(&x.detach())?;
    let wc = contiguous(&w.detach())?;
    let mut y = conv_bwd_input(&xc, &wc, &g)?;
    if let Some(b) = bias {
        let bc = crate::ops::reshape(&b.detach(), &[1, cout as i64, 1, 1])?;
        y = crate::ops::add(&y, &bc)?;
    }
    let (sx, sw) = (SavedTensor::new(&xc), SavedTensor::new(&wc));
    let mut inputs = vec![x, w];
    if let Some(b) = bias {
        inputs.push(b);
    }
    record(
        "ConvolutionBackward0",
        &inputs,
        &[&y],
        true,
        move |gr, needs| {
            let dy = contiguous(&gr[0].detach())?;
            let gx = if needs[0] {
                Some(conv_fwd(&dy, &sw.get()?, None, &g)?)
            } else {
                None
            };
            let gw = if needs[1] {
                Some(conv_bwd_weight(&sx.get()?, &dy, &g)?)
            } else {
                None
            };
            let mut out = vec![gx, gw];
            if needs.len() > 2 {
                out.push(bias_grad(&dy, needs[2])?);
            }
            Ok(out)
        },
    );
    Ok(y)
}
