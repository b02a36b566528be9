//! The op lists of the wgpu kernels. Each op's WGSL body lives in `shaders/ops.txt` under
//! `name()`; these enums only name them. They are the device's kernel list: the shared,
//! device-neutral op enums (`ops::kinds`) are mapped onto them in `kernels::gpu`.

macro_rules! op_enum {
    ($(#[$m:meta])* $name:ident, $family:literal { $($(#[$vm:meta])* $var:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $var),*
        }

        impl $name {
            /// Every op of the family.
            pub const ALL: &'static [$name] = &[$($name::$var),*];

            /// The op's name in `shaders/ops.txt` (the PyTorch function name).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$var => $s),*
                }
            }

            /// The `ops.txt` family the op belongs to.
            pub fn family(self) -> &'static str {
                $family
            }
        }
    };
}

op_enum!(
    /// Elementwise `f(x)`.
    UnaryOp, "unary" {
        Neg => "neg",
        Abs => "abs",
        Exp => "exp",
        Log => "log",
        Sqrt => "sqrt",
        Rsqrt => "rsqrt",
        Relu => "relu",
        Sigmoid => "sigmoid",
        Tanh => "tanh",
        Sin => "sin",
        Cos => "cos",
        Square => "square",
        Reciprocal => "reciprocal",
        Floor => "floor",
        Ceil => "ceil",
        Round => "round",
        Trunc => "trunc",
        Log2 => "log2",
        Log10 => "log10",
        Log1p => "log1p",
        Expm1 => "expm1",
        Tan => "tan",
        Erf => "erf",
        Silu => "silu",
        Gelu => "gelu",
        GeluTanh => "gelu_tanh",
        Acos => "acos",
        Asin => "asin",
        Atan => "atan",
        Acosh => "acosh",
        Asinh => "asinh",
        Atanh => "atanh",
        Sinh => "sinh",
        Cosh => "cosh",
        Exp2 => "exp2",
        Frac => "frac",
        /// Slope in scalar 0.
        LeakyRelu => "leaky_relu",
        /// Alpha in scalar 0.
        Elu => "elu",
        /// Beta in scalar 0, threshold in scalar 1.
        Softplus => "softplus",
    }
);

op_enum!(
    /// Elementwise `f(a, b)` with the input dtype as output.
    BinaryOp, "binary" {
        Add => "add",
        Sub => "sub",
        Mul => "mul",
        Div => "div",
        /// NaN-propagating, like `torch.maximum`.
        Maximum => "maximum",
        /// NaN-propagating, like `torch.minimum`.
        Minimum => "minimum",
        /// `torch.pow`: negative bases with integral exponents keep their sign.
        Pow => "pow",
        Atan2 => "atan2",
        Hypot => "hypot",
        Copysign => "copysign",
        Logaddexp => "logaddexp",
        Logaddexp2 => "logaddexp2",
        Xlogy => "xlogy",
        /// Integer and bool dtypes only (like the shifts below).
        BitAnd => "bitwise_and",
        BitOr => "bitwise_or",
        BitXor => "bitwise_xor",
        /// Integer dtypes only.
        Shl => "bitwise_left_shift",
        Shr => "bitwise_right_shift",
    }
);

op_enum!(
    /// Elementwise comparisons; the result is bool, stored as u32 0/1 on the device.
    CompareOp, "compare" {
        Eq => "eq",
        Ne => "ne",
        Lt => "lt",
        Le => "le",
        Gt => "gt",
        Ge => "ge",
    }
);

op_enum!(
    /// Reductions (deterministic: fixed partition and fixed combining order).
    ReduceOp, "reduce" {
        Sum => "sum",
        /// NaN-propagating, like `torch.max`.
        Max => "max",
        /// NaN-propagating, like `torch.min`.
        Min => "min",
        /// `torch.prod` (float32 products in the workgroup's fixed order).
        Prod => "prod",
    }
);

#[cfg(test)]
mod tests {
    use super::super::template::op_body;
    use super::*;

    #[test]
    fn every_op_has_a_body_in_ops_txt() {
        for op in UnaryOp::ALL {
            op_body(op.family(), op.name())
                .or_else(|_| op_body("unary_param", op.name()))
                .unwrap();
        }
        for op in BinaryOp::ALL {
            op_body(op.family(), op.name()).unwrap();
        }
        for op in CompareOp::ALL {
            op_body(op.family(), op.name()).unwrap();
        }
        for op in ReduceOp::ALL {
            op_body(op.family(), op.name()).unwrap();
            op_body("reduce_init", op.name()).unwrap();
        }
    }
}
