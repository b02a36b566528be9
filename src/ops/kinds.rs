//! The op enums every backend shares: what an elementwise op *is*, independent of where it runs.
//! The CPU kernels (`cpu::simd`, `cpu::elementwise`) and the device seam (`kernels::gpu`, which
//! maps them onto the WGSL bodies of `shaders/ops.txt`) both take these.

/// Elementwise unary ops. Parameters are `f64` so one enum serves every dtype;
/// the f32 kernels round them to f32 first, like PyTorch does for scalar args.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Log2,
    Log10,
    Log1p,
    Expm1,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sigmoid,
    Relu,
    /// Exact: 0.5*x*(1+erf(x/sqrt(2))) (PyTorch default).
    Gelu,
    /// PyTorch `approximate='tanh'`.
    GeluTanh,
    Silu,
    Erf,
    Floor,
    Ceil,
    /// Half to even, like `torch.round`.
    Round,
    Trunc,
    Reciprocal,
    Square,
    /// -1/0/+1. `sign(NaN) = 0` like PyTorch (pytorch/pytorch#41245, unlike NumPy).
    Sign,
    Acos,
    Asin,
    Atan,
    Acosh,
    Asinh,
    Atanh,
    Sinh,
    Cosh,
    /// 2^x
    Exp2,
    /// x - trunc(x) (float dtypes only, like `torch.frac`).
    Frac,
    /// negative_slope
    LeakyRelu(f64),
    /// alpha
    Elu(f64),
    /// (beta, threshold): x when x*beta > threshold, else log1p(exp(beta*x))/beta.
    Softplus(f64, f64),
    /// (min, max); either may be infinite. NaN inputs propagate like `torch.clamp`.
    Clamp(f64, f64),
    /// x^p; fast paths for p = 2, 0.5, -0.5, -1 and integer p.
    PowScalar(f64),
    AddScalar(f64),
    MulScalar(f64),
    /// s - x
    RsubScalar(f64),
    /// s / x
    RdivScalar(f64),
}

/// Broadcasting arithmetic (the promoted compute dtype is decided by `ops::binary`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    Maximum,
    Minimum,
    /// atan2(a, b): the angle of the point (b, a).
    Atan2,
    /// sqrt(a^2 + b^2) without overflow.
    Hypot,
    /// |a| with the sign bit of b.
    Copysign,
    /// log(e^a + e^b), computed stably.
    Logaddexp,
    /// log2(2^a + 2^b), computed stably.
    Logaddexp2,
    /// a * log(b), with 0 where a == 0 (unless b is NaN), like `torch.xlogy`.
    Xlogy,
}

impl BinaryOp {
    /// Ops defined on floats only: integer inputs raise PyTorch's NotImplementedError
    /// (`"hypot_cpu" not implemented for 'Long'`) rather than promoting.
    pub fn float_only(self) -> bool {
        matches!(
            self,
            BinaryOp::Hypot | BinaryOp::Logaddexp | BinaryOp::Logaddexp2
        )
    }

    /// Ops whose integer inputs compute in the default float dtype (true division and the
    /// transcendental ones).
    pub fn promotes_int_to_float(self) -> bool {
        matches!(
            self,
            BinaryOp::Div | BinaryOp::Atan2 | BinaryOp::Copysign | BinaryOp::Xlogy
        )
    }
}

/// Bitwise ops on integer and bool tensors (`&`, `|`, `^`, `<<`, `>>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    /// Left shift; shifting by a negative amount or by the bit width or more gives 0.
    Shl,
    /// Arithmetic right shift; a negative or too-large amount shifts by the bit width
    /// (0, or -1 for a negative signed value).
    Shr,
}

impl BitOp {
    /// The name of PyTorch's CPU kernel, used in its "not implemented for" errors.
    pub fn kernel_name(self) -> &'static str {
        match self {
            BitOp::And => "bitwise_and_cpu",
            BitOp::Or => "bitwise_or_cpu",
            BitOp::Xor => "bitwise_xor_cpu",
            BitOp::Shl => "lshift_cpu",
            BitOp::Shr => "rshift_cpu",
        }
    }
}

/// Comparisons (bool results).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `logical_and/or/xor` (bool results).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Or,
    Xor,
}
