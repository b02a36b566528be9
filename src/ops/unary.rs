//! Unary elementwise ops. Float math runs through the SIMD kernels in `cpu::simd` over
//! contiguous chunks on the thread pool; integer inputs keep their dtype for ops that are closed
//! over integers (neg, abs, sign, square, clamp, rounding) and are promoted to float otherwise.

pub use super::kinds::UnaryOp;
use super::{compare_scalar, materialize, mul, scalar_tensor, where_, CmpOp, Scalar};
use crate::autograd::{is_grad_enabled, record, SavedTensor};
use crate::dtype::{default_float, DType};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The PyTorch grad_fn name for each op.
fn node_name(op: UnaryOp) -> &'static str {
    use UnaryOp::*;
    match op {
        Neg => "NegBackward0",
        Abs => "AbsBackward0",
        Exp => "ExpBackward0",
        Log => "LogBackward0",
        Log2 => "Log2Backward0",
        Log10 => "Log10Backward0",
        Log1p => "Log1PBackward0",
        Expm1 => "Expm1Backward0",
        Sqrt => "SqrtBackward0",
        Rsqrt => "RsqrtBackward0",
        Sin => "SinBackward0",
        Cos => "CosBackward0",
        Tan => "TanBackward0",
        Tanh => "TanhBackward0",
        Sigmoid => "SigmoidBackward0",
        Relu => "ReluBackward0",
        Gelu | GeluTanh => "GeluBackward0",
        Silu => "SiluBackward0",
        Erf => "ErfBackward0",
        Floor => "FloorBackward0",
        Ceil => "CeilBackward0",
        Round => "RoundBackward0",
        Trunc => "TruncBackward0",
        Reciprocal => "ReciprocalBackward0",
        Square => "PowBackward0",
        Sign => "SignBackward0",
        Acos => "AcosBackward0",
        Asin => "AsinBackward0",
        Atan => "AtanBackward0",
        Acosh => "AcoshBackward0",
        Asinh => "AsinhBackward0",
        Atanh => "AtanhBackward0",
        Sinh => "SinhBackward0",
        Cosh => "CoshBackward0",
        Exp2 => "Exp2Backward0",
        Frac => "FracBackward0",
        LeakyRelu(_) => "LeakyReluBackward0",
        Elu(_) => "EluBackward0",
        Softplus(..) => "SoftplusBackward0",
        Clamp(..) => "ClampBackward1",
        PowScalar(_) => "PowBackward0",
        AddScalar(_) => "AddBackward0",
        MulScalar(_) => "MulBackward0",
        RsubScalar(_) => "RsubBackward1",
        RdivScalar(_) => "DivBackward0",
    }
}

/// Ops that map integers to integers (and keep an integer tensor's dtype).
fn integer_closed(op: UnaryOp) -> bool {
    use UnaryOp::*;
    matches!(
        op,
        Neg | Abs | Sign | Square | Clamp(..) | Floor | Ceil | Round | Trunc | Relu
    )
}

/// Forward kernel only.
pub(crate) fn unary_kernel(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    unary_kernel_into(op, x, None)
}

/// The dtype `op(x)` has for an input of dtype `dt`: float ops, and integer ops closed over
/// integers, keep the input dtype; anything else (and every op on bool) gives the default float.
pub(crate) fn unary_result_dtype(op: UnaryOp, dt: DType) -> DType {
    if dt.is_float() || integer_closed(op) && dt != DType::Bool {
        dt
    } else {
        default_float()
    }
}

/// [`unary_kernel`] writing into `dest` when given: a contiguous CPU tensor of `x`'s shape and
/// the result dtype that is `x` itself or disjoint from it (`ops::out`).
pub(crate) fn unary_kernel_into(op: UnaryOp, x: &Tensor, dest: Option<&Tensor>) -> Result<Tensor> {
    if op == UnaryOp::Frac && !x.dtype().is_float() {
        // torch.frac has no integer kernel (it does not promote).
        return Err(Error::not_implemented(format!(
            "\"frac_cpu\" not implemented for '{}'",
            super::torch_dtype_name(x.dtype())
        )));
    }
    if dest.is_none() {
        if let Some(out) = crate::kernels::unary(op, x)? {
            return Ok(out);
        }
    }
    let dt = x.dtype();
    let keeps_dtype = unary_result_dtype(op, dt) == dt;
    if !keeps_dtype {
        if op == UnaryOp::Neg && dt == DType::Bool {
            return Err(Error::runtime(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.",
            ));
        }
        return unary_kernel_into(op, &materialize(x, default_float())?, dest);
    }
    crate::cpu::elementwise::unary_into(op, x, dest)
}

/// A unary op with autograd.
pub fn unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    let out = unary_kernel(op, x)?;
    if !out.dtype().is_float() || !crate::autograd::needs_grad(&[x]) {
        return Ok(out);
    }
    let sx = SavedTensor::new(x);
    let so = SavedTensor::output(&out);
    record(node_name(op), &[x], &[&out], true, move |g, _| {
        let x = sx.get()?;
        // First-order backward uses the saved output; a higher-order graph recomputes it from x
        // so gradients flow through it.
        let y = || -> Result<Tensor> {
            if is_grad_enabled() {
                unary(op, &x)
            } else {
                so.get()
            }
        };
        Ok(vec![Some(unary_backward(op, &g[0], &x, y)?)])
    });
    Ok(out)
}

fn sc(v: f64, like: &Tensor) -> Result<Tensor> {
    scalar_tensor(Scalar::Float(v), like.dtype())
}

/// d op(x) / dx times g.
pub(crate) fn unary_backward(
    op: UnaryOp,
    g: &Tensor,
    x: &Tensor,
    y: impl Fn() -> Result<Tensor>,
) -> Result<Tensor> {
    use UnaryOp::*;
    let s = |v: f64| sc(v, g);
    let u = |o: UnaryOp, t: &Tensor| unary(o, t);
    match op {
        Neg => u(Neg, g),
        Abs => mul(g, &u(Sign, x)?),
        Exp => mul(g, &y()?),
        Log => super::div(g, x),
        Log2 => super::div(g, &mul(x, &s(std::f64::consts::LN_2)?)?),
        Log10 => super::div(g, &mul(x, &s(std::f64::consts::LN_10)?)?),
        Log1p => super::div(g, &u(AddScalar(1.0), x)?),
        Expm1 => mul(g, &u(AddScalar(1.0), &y()?)?),
        Sqrt => super::div(g, &u(MulScalar(2.0), &y()?)?),
        Rsqrt => {
            let yv = y()?;
            mul(g, &u(MulScalar(-0.5), &mul(&yv, &u(Square, &yv)?)?)?)
        }
        Sin => mul(g, &u(Cos, x)?),
        Cos => mul(g, &u(Neg, &u(Sin, x)?)?),
        Tan => mul(g, &u(AddScalar(1.0), &u(Square, &y()?)?)?),
        Tanh => mul(g, &u(RsubScalar(1.0), &u(Square, &y()?)?)?),
        Sigmoid => {
            let yv = y()?;
            mul(g, &mul(&yv, &u(RsubScalar(1.0), &yv)?)?)
        }
        // Masks select (`where`) rather than multiply, as PyTorch's rules do, so an infinite
        // upstream gradient where the mask is off gives 0, not 0 * inf = NaN.
        Relu => where_(
            &compare_scalar(CmpOp::Gt, &y()?, Scalar::Int(0))?,
            g,
            &s(0.0)?,
        ),
        Gelu => {
            // Phi(x) + x * phi(x)
            let cdf = u(
                MulScalar(0.5),
                &u(
                    AddScalar(1.0),
                    &u(Erf, &u(MulScalar(std::f64::consts::FRAC_1_SQRT_2), x)?)?,
                )?,
            )?;
            let pdf = u(
                MulScalar(1.0 / (2.0 * std::f64::consts::PI).sqrt()),
                &u(Exp, &u(MulScalar(-0.5), &u(Square, x)?)?)?,
            )?;
            mul(g, &super::add(&cdf, &mul(x, &pdf)?)?)
        }
        GeluTanh => {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            let x2 = u(Square, x)?;
            let inner = u(
                MulScalar(k),
                &super::add(x, &u(MulScalar(0.044715), &mul(&x2, x)?)?)?,
            )?;
            let t = u(Tanh, &inner)?;
            let dinner = u(
                MulScalar(k),
                &u(AddScalar(1.0), &u(MulScalar(3.0 * 0.044715), &x2)?)?,
            )?;
            let left = u(MulScalar(0.5), &u(AddScalar(1.0), &t)?)?;
            let right = mul(
                &u(MulScalar(0.5), x)?,
                &mul(&u(RsubScalar(1.0), &u(Square, &t)?)?, &dinner)?,
            )?;
            mul(g, &super::add(&left, &right)?)
        }
        Silu => {
            let sg = u(Sigmoid, x)?;
            let d = mul(
                &sg,
                &u(AddScalar(1.0), &mul(x, &u(RsubScalar(1.0), &sg)?)?)?,
            )?;
            mul(g, &d)
        }
        Erf => mul(
            g,
            &u(
                MulScalar(2.0 / std::f64::consts::PI.sqrt()),
                &u(Exp, &u(Neg, &u(Square, x)?)?)?,
            )?,
        ),
        Floor | Ceil | Round | Trunc | Sign => super::zeros(&g.shape(), g.dtype()),
        // d/dx of the inverse trig/hyperbolic functions: 1/sqrt(1 - x^2), 1/(1 + x^2), ...
        Acos => super::div(&u(Neg, g)?, &u(Sqrt, &u(RsubScalar(1.0), &u(Square, x)?)?)?),
        Asin => super::div(g, &u(Sqrt, &u(RsubScalar(1.0), &u(Square, x)?)?)?),
        Atan => super::div(g, &u(AddScalar(1.0), &u(Square, x)?)?),
        Acosh => super::div(g, &u(Sqrt, &u(AddScalar(-1.0), &u(Square, x)?)?)?),
        Asinh => super::div(g, &u(Sqrt, &u(AddScalar(1.0), &u(Square, x)?)?)?),
        Atanh => super::div(g, &u(RsubScalar(1.0), &u(Square, x)?)?),
        Sinh => mul(g, &u(Cosh, x)?),
        Cosh => mul(g, &u(Sinh, x)?),
        Exp2 => mul(g, &u(MulScalar(std::f64::consts::LN_2), &y()?)?),
        Frac => Ok(g.clone()),
        Reciprocal => mul(g, &u(Neg, &u(Square, &y()?)?)?),
        Square => mul(g, &u(MulScalar(2.0), x)?),
        LeakyRelu(slope) => {
            let pos = compare_scalar(CmpOp::Gt, x, Scalar::Int(0))?;
            where_(&pos, g, &u(MulScalar(slope), g)?)
        }
        Elu(alpha) => {
            let pos = compare_scalar(CmpOp::Gt, x, Scalar::Int(0))?;
            where_(&pos, g, &mul(g, &u(AddScalar(alpha), &y()?)?)?)
        }
        Softplus(beta, threshold) => {
            let lin = compare_scalar(CmpOp::Gt, &u(MulScalar(beta), x)?, Scalar::Float(threshold))?;
            where_(&lin, g, &mul(g, &u(Sigmoid, &u(MulScalar(beta), x)?)?)?)
        }
        // PyTorch 2.x passes gradient only strictly inside scalar bounds: at a bound the
        // subgradient 0 is chosen, so `x.clamp(min=0).sqrt()` has a finite gradient at 0.
        Clamp(lo, hi) => {
            let inside = super::logical(
                super::LogicOp::And,
                &compare_scalar(CmpOp::Gt, x, Scalar::Float(lo))?,
                &compare_scalar(CmpOp::Lt, x, Scalar::Float(hi))?,
            )?;
            where_(&inside, g, &s(0.0)?)
        }
        PowScalar(p) => {
            if p == 0.0 {
                return super::zeros(&g.shape(), g.dtype());
            }
            mul(g, &u(MulScalar(p), &u(PowScalar(p - 1.0), x)?)?)
        }
        AddScalar(_) => Ok(g.clone()),
        MulScalar(s_) => u(MulScalar(s_), g),
        RsubScalar(_) => u(Neg, g),
        RdivScalar(s_) => mul(g, &u(MulScalar(-s_), &u(Reciprocal, &u(Square, x)?)?)?),
    }
}

macro_rules! unary_fns {
    ($($name:ident => $op:ident),* $(,)?) => {
        $(
            #[doc = concat!("`torch.", stringify!($name), "`")]
            pub fn $name(x: &Tensor) -> Result<Tensor> {
                unary(UnaryOp::$op, x)
            }
        )*
    };
}

unary_fns!(
    neg => Neg, abs => Abs, exp => Exp, log => Log, log2 => Log2, log10 => Log10, log1p => Log1p,
    expm1 => Expm1, sqrt => Sqrt, rsqrt => Rsqrt, sin => Sin, cos => Cos, tan => Tan, tanh => Tanh,
    sigmoid => Sigmoid, relu => Relu, gelu => Gelu, silu => Silu, erf => Erf, floor => Floor,
    ceil => Ceil, round => Round, trunc => Trunc, reciprocal => Reciprocal, square => Square,
    sign => Sign, acos => Acos, asin => Asin, atan => Atan, acosh => Acosh, asinh => Asinh,
    atanh => Atanh, sinh => Sinh, cosh => Cosh, exp2 => Exp2, frac => Frac,
);

/// `torch.clamp(x, min, max)` with optional bounds.
pub fn clamp(x: &Tensor, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
    if min.is_none() && max.is_none() {
        return Err(Error::runtime(
            "torch.clamp: At least one of 'min' or 'max' must not be None",
        ));
    }
    unary(
        UnaryOp::Clamp(
            min.unwrap_or(f64::NEG_INFINITY),
            max.unwrap_or(f64::INFINITY),
        ),
        x,
    )
}
