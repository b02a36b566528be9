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
