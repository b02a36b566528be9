//! Element types, their PyTorch names and PyTorch's type-promotion rules.

use std::fmt::Debug;

/// The element types rustgrad stores. Order matters: within a category a later variant is wider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    /// IEEE half precision, stored as `half::f16`; arithmetic runs in f32 (see `cpu::num`).
    F16,
    /// bfloat16 (f32's exponent, 8-bit mantissa), stored as `half::bf16`; computed like F16.
    BF16,
    F32,
    F64,
}

/// Promotion category: PyTorch promotes across categories before looking at widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Bool,
    Integer,
    Float,
}

impl DType {
    pub const ALL: [DType; 10] = [
        DType::Bool,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    pub fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => Category::Integer,
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => Category::Float,
        }
    }

    /// The 16-bit floats, stored narrow and computed in f32 (PyTorch's CPU kernels do the same:
    /// load, widen, compute, round once on store).
    pub fn is_half(self) -> bool {
        matches!(self, DType::F16 | DType::BF16)
    }

    pub fn is_float(self) -> bool {
        self.category() == Category::Float
    }

    /// The name PyTorch prints, e.g. `torch.float32` is "float32".
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// Legacy type name used in some PyTorch error messages, e.g. "torch.FloatTensor".
    pub fn legacy_name(self) -> &'static str {
        match self {
            DType::Bool => "torch.BoolTensor",
            DType::U8 => "torch.ByteTensor",
            DType::I8 => "torch.CharTensor",
            DType::I16 => "torch.ShortTensor",
            DType::I32 => "torch.IntTensor",
            DType::I64 => "torch.LongTensor",
            DType::F16 => "torch.HalfTensor",
            DType::BF16 => "torch.BFloat16Tensor",
            DType::F32 => "torch.FloatTensor",
            DType::F64 => "torch.DoubleTensor",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        Some(match name {
            "bool" => DType::Bool,
            "uint8" => DType::U8,
            "int8" => DType::I8,
            "int16" | "short" => DType::I16,
            "int32" | "int" => DType::I32,
            "int64" | "long" => DType::I64,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "float32" | "float" => DType::F32,
            "float64" | "double" => DType::F64,
            _ => return None,
        })
    }

    /// Promote two tensor dtypes (same priority), like `torch.promote_types`.
    pub fn promote(a: DType, b: DType) -> DType {
        if a == b {
            return a;
        }
        // uint8 with a signed type widens to the signed one (int32/int64); with bool stays uint8.
        let (ca, cb) = (a.category(), b.category());
        if ca != cb {
            return if ca > cb { a } else { b };
        }
        // The two pairs where neither holds the other: uint8 and int8 meet in int16, float16
        // and bfloat16 (different exponent ranges) meet in float32.
        match (a.min(b), a.max(b)) {
            (DType::U8, DType::I8) => DType::I16,
            (DType::F16, DType::BF16) => DType::F32,
            (_, wider) => wider,
        }
    }
}

/// One operand's contribution to PyTorch's `result_type`: tensors with dims outrank zero-dim
/// tensors, which outrank Python scalars; a lower-priority operand only matters when its category
/// is higher than everything above it.
#[derive(Clone, Copy, Debug)]
pub enum Operand {
    Tensor(DType),
    ZeroDim(DType),
    /// A Python bool/int/float: its natural dtype (Bool, I64 or F64).
    Scalar(DType),
}

/// The default float dtype (torch.get_default_dtype()).
pub fn default_float() -> DType {
    DType::F32
}

/// PyTorch's `torch.result_type` over a list of operands.
pub fn result_type(ops: &[Operand]) -> DType {
    let mut dim: Option<DType> = None;
    let mut zero: Option<DType> = None;
    let mut scalar: Option<DType> = None;
    fn merge(slot: &mut Option<DType>, d: DType) {
        *slot = Some(match *slot {
            None => d,
            Some(s) => DType::promote(s, d),
        });
    }
    for op in ops {
        match *op {
            Operand::Tensor(d) => merge(&mut dim, d),
            Operand::ZeroDim(d) => merge(&mut zero, d),
            Operand::Scalar(d) => merge(&mut scalar, d),
        }
    }
    let mut out = dim;
    for (lower, is_scalar) in [(zero, false), (scalar, true)] {
        if let Some(l) = lower {
            out = Some(match out {
                None => l,
                Some(o) if l.category() > o.category() => {
                    // A float Python scalar lifts an integer tensor to the default dtype, not f64.
                    if is_scalar && l.is_float() {
                        default_float()
                    } else if is_scalar && l.category() == Category::Integer {
                        DType::I64
                    } else {
                        l
                    }
                }
                Some(o) => o,
            });
        }
    }
    match out {
        Some(d) => d,
        None => default_float(),
    }
}

/// A Rust type that can be an element of a tensor.
pub trait Element: Copy + Send + Sync + Debug + PartialOrd + Default + 'static {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
    fn zero() -> Self;
    fn one() -> Self;
}

macro_rules! impl_element_num {
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn zero() -> Self {
                0 as $t
            }
            #[inline(always)]
            fn one() -> Self {
                1 as $t
            }
        }
    };
}
impl_element_num!(u8, DType::U8);
impl_element_num!(i8, DType::I8);
impl_element_num!(i16, DType::I16);
impl_element_num!(i32, DType::I32);
impl_element_num!(i64, DType::I64);
impl_element_num!(f32, DType::F32);
impl_element_num!(f64, DType::F64);

/// The half types convert through f32, as PyTorch's `c10::Half(float)` does: a double is first
/// rounded to float, then to half (round-to-nearest-even both times).
macro_rules! impl_element_half {
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self.to_f32() as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f32(v as f32)
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self.to_f32() as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                <$t>::from_f32(v as f32)
            }
            #[inline(always)]
            fn zero() -> Self {
                <$t>::ZERO
            }
            #[inline(always)]
            fn one() -> Self {
                <$t>::ONE
            }
        }
    };
}
impl_element_half!(half::f16, DType::F16);
impl_element_half!(half::bf16, DType::BF16);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    fn zero() -> Self {
        false
    }
    fn one() -> Self {
        true
    }
}

/// Run `$body` with `$T` bound to the Rust type of `$dtype`.
#[macro_export]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident, $body:expr) => {
        match $dtype {
            $crate::dtype::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::dtype::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::dtype::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::dtype::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::dtype::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::dtype::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::dtype::DType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::dtype::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// Like `with_dtype!` but only for numeric (non-bool) dtypes; bool hits `$bool_case`.
#[macro_export]
macro_rules! with_num_dtype {
    ($dtype:expr, $T:ident, $body:expr, $bool_case:expr) => {
        match $dtype {
            $crate::dtype::DType::Bool => $bool_case,
            $crate::dtype::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::dtype::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::dtype::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::dtype::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::dtype::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::dtype::DType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::dtype::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_matches_pytorch() {
        use DType::*;
        assert_eq!(DType::promote(I64, F32), F32);
        assert_eq!(DType::promote(F32, F64), F64);
        assert_eq!(DType::promote(Bool, U8), U8);
        assert_eq!(DType::promote(U8, I32), I32);
        assert_eq!(DType::promote(U8, I8), I16);
        assert_eq!(DType::promote(I8, I16), I16);
        assert_eq!(DType::promote(F16, BF16), F32);
        assert_eq!(DType::promote(I64, F16), F16);
        assert_eq!(
            result_type(&[Operand::Tensor(F16), Operand::Scalar(F64)]),
            F16
        );
        assert_eq!(
            result_type(&[Operand::Tensor(I8), Operand::Scalar(I64)]),
            I8
        );
        assert_eq!(
            result_type(&[Operand::Tensor(I64), Operand::Scalar(F64)]),
            F32
        );
        assert_eq!(
            result_type(&[Operand::Tensor(F32), Operand::Scalar(F64)]),
            F32
        );
        assert_eq!(
            result_type(&[Operand::Tensor(F32), Operand::ZeroDim(F64)]),
            F32
        );
        assert_eq!(
            result_type(&[Operand::Tensor(I32), Operand::ZeroDim(F64)]),
            F64
        );
        assert_eq!(
            result_type(&[Operand::Tensor(Bool), Operand::Scalar(I64)]),
            I64
        );
        assert_eq!(
            result_type(&[Operand::Tensor(U8), Operand::Scalar(I64)]),
            U8
        );
        assert_eq!(
            result_type(&[Operand::ZeroDim(F64), Operand::Scalar(I64)]),
            F64
        );
    }
}
