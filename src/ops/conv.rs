//! Convolutions (`conv2d`, `conv_transpose2d`; the 1-D forms are views over these from Python):
//! argument checks, output shapes and the backward rules. Three kernels (forward, input gradient,
//! weight gradient; `kernels::conv2d_*`) serve both ops: the forward of a transposed convolution
//! is the input gradient of the convolution it transposes, and its input gradient that
//! convolution's forward.

use super::{contiguous, sum, UnaryOp};
use crate::autograd::{record, SavedTensor};
use crate::error::{Error, Result};
use crate::kernels::{conv2d_backward_input, conv2d_backward_weight, conv2d_forward};
use crate::tensor::Tensor;

/// Shape of a convolution seen as "input (c, h, w) -> output (o, oh, ow)", for `n` samples.
/// Padding is the top/left amount; a larger bottom/right padding only shows in `oh`/`ow`.
#[derive(Clone, Copy, Debug)]
pub struct ConvGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
    pub groups: usize,
}

impl ConvGeom {
    /// Input channels per group.
    pub fn cg(&self) -> usize {
        self.c / self.groups
    }
    /// Output channels per group.
    pub fn og(&self) -> usize {
        self.o / self.groups
    }
    /// Taps of one kernel plane.
    pub fn kk(&self) -> usize {
        self.kh * self.kw
    }
    /// Output positions per plane.
    pub fn l(&self) -> usize {
        self.oh * self.ow
    }
    /// 1x1 kernel, unit stride, no padding: the input plane already is the column matrix.
    pub fn pointwise(&self) -> bool {
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

fn fmt_list(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Input, weight and bias must share a device (PyTorch's RuntimeError otherwise).
fn same_device(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    let mut ts = vec![x, w];
    ts.extend(bias);
    crate::kernels::device_of(&ts).map(|_| ())
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
    conv2d_act(x, w, bias, stride, padding, dilation, groups, None)
}

/// `act(F.conv2d(...))`. On the wgpu device relu, sigmoid and tanh run in the convolution's
/// epilogue (their derivative comes from the saved output); any other activation, and the CPU,
/// apply `act` as its own op after the convolution.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_act(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: [usize; 2],
    padding: [usize; 4],
    dilation: [usize; 2],
    groups: usize,
    act: Option<UnaryOp>,
) -> Result<Tensor> {
    same_device(x, w, bias)?;
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
    let g = ConvGeom {
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
    let epilogue = act.filter(|op| matches!(op, UnaryOp::Relu | UnaryOp::Sigmoid | UnaryOp::Tanh));
    let fused = match epilogue {
        Some(op) => crate::kernels::conv2d_forward_act(&xc, &wc, bc.as_ref(), Some(op), &g)?,
        None => None,
    };
    let fused_act = fused.as_ref().and(epilogue);
    let y = match fused {
        Some(y) => y,
        None => conv2d_forward(&xc, &wc, bc.as_ref(), &g)?,
    };
    let (sx, sw) = (SavedTensor::new(&xc), SavedTensor::new(&wc));
    let so = fused_act.map(|_| SavedTensor::output(&y));
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
            let dy = match (fused_act, &so) {
                (Some(op), Some(so)) => {
                    let y = so.get()?.detach();
                    super::unary::unary_backward(op, &gr[0].detach(), &y, || Ok(y.clone()))?
                }
                _ => gr[0].clone(),
            };
            let dy = contiguous(&dy.detach())?;
            let gx = if needs[0] {
                Some(conv2d_backward_input(&dy, &sw.get()?, &g)?)
            } else {
                None
            };
            let gw = if needs[1] {
                Some(conv2d_backward_weight(&dy, &sx.get()?, &g)?)
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
    match act {
        Some(op) if fused_act.is_none() => super::unary(op, &y),
        _ => Ok(y),
    }
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
    same_device(x, w, bias)?;
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
    let g = ConvGeom {
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
    let mut y = conv2d_backward_input(&xc, &wc, &g)?;
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
                Some(conv2d_forward(&dy, &sw.get()?, None, &g)?)
            } else {
                None
            };
            let gw = if needs[1] {
                Some(conv2d_backward_weight(&sx.get()?, &dy, &g)?)
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
