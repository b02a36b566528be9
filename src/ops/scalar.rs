//! Python numbers as op arguments.

use crate::dtype::{DType, Element, Operand};

/// A Python bool, int or float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    /// The dtype this number has on its own (bool, int64, float64).
    pub fn natural_dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => DType::F64,
        }
    }

    pub fn operand(self) -> Operand {
        Operand::Scalar(self.natural_dtype())
    }

    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }

    pub fn to_i64(self) -> i64 {
        match self {
            Scalar::Bool(b) => b as i64,
            Scalar::Int(i) => i,
            Scalar::Float(f) => f as i64,
        }
    }

    /// The value converted to element type T (ints exactly, floats by rounding toward zero).
    pub fn cast<T: Element>(self) -> T {
        match self {
            Scalar::Int(i) => T::from_i64(i),
            Scalar::Bool(b) => T::from_i64(b as i64),
            Scalar::Float(f) => T::from_f64(f),
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Scalar::Float(_))
    }
}

impl Scalar {
    /// PyTorch's `checked_convert` for filling a tensor of `dtype` with this value: a value the
    /// dtype cannot hold raises instead of wrapping or saturating silently. As in PyTorch, uint8
    /// takes -255..=255 (negatives wrap), floats may be inf/NaN but not finite values beyond
    /// their range, and bool takes anything.
    pub fn check_fits(self, dtype: crate::dtype::DType) -> crate::error::Result<()> {
        use crate::dtype::DType::*;
        let (lo, hi, name) = match dtype {
            I64 => (-(2f64.powi(63)), 2f64.powi(63), "int64_t"),
            I32 => (-(2f64.powi(31)), 2f64.powi(31), "int"),
            I16 => (-32768.0, 32768.0, "int16_t"),
            I8 => (-128.0, 128.0, "int8_t"),
            U8 => (-255.0, 256.0, "uint8_t"),
            F32 => (-(f32::MAX as f64), f32::MAX as f64, "float"),
            F16 => (-65504.0, 65504.0, "c10::Half"),
            BF16 => {
                let m = half::bf16::MAX.to_f64();
                (-m, m, "c10::BFloat16")
            }
            F64 | Bool => return Ok(()),
        };
        let ok = match self {
            Scalar::Bool(_) => true,
            Scalar::Int(i) => {
                let v = i as f64;
                v >= lo && (v < hi || dtype.is_float() && v <= hi)
            }
            Scalar::Float(v) if dtype.is_float() => !v.is_finite() || (lo..=hi).contains(&v),
            Scalar::Float(v) => v.is_finite() && v >= lo && v < hi,
        };
        if ok {
            Ok(())
        } else {
            Err(crate::error::Error::runtime(format!(
                "value cannot be converted to type {name} without overflow"
            )))
        }
    }
}
