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
