// 64-bit two's-complement integers as vec2<u32>(low word, high word): WGSL has no 64-bit types,
// and int64 must keep int64 semantics on the device (labels, indices, sums of masks).
// Arithmetic wraps modulo 2^64, as int64 does on the CPU.

//!include math.wgsl

fn i64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn i64_neg(a: vec2<u32>) -> vec2<u32> {
    let lo = ~a.x + 1u;
    return vec2<u32>(lo, ~a.y + select(0u, 1u, lo == 0u));
}

fn i64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return i64_add(a, i64_neg(b));
}

// The full 64-bit product of two u32 values, from 16-bit halves (no carries are lost).
fn u32_mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    let lo = (p00 & 0xffffu) | (mid << 16u);
    let hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>(lo, hi);
}

fn i64_mul(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let p = u32_mul_wide(a.x, b.x);
    return vec2<u32>(p.x, p.y + a.x * b.y + a.y * b.x);
}

fn i64_is_neg(a: vec2<u32>) -> bool {
    return (a.y & 0x80000000u) != 0u;
}

fn i64_lt(a: vec2<u32>, b: vec2<u32>) -> bool {
    let ah = bitcast<i32>(a.y);
    let bh = bitcast<i32>(b.y);
    return ah < bh || (ah == bh && a.x < b.x);
}

fn i64_eq(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.x == b.x && a.y == b.y;
}

fn i64_max(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return select(a, b, i64_lt(a, b));
}

fn i64_min(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return select(b, a, i64_lt(a, b));
}

fn i64_abs(a: vec2<u32>) -> vec2<u32> {
    return select(a, i64_neg(a), i64_is_neg(a));
}

fn i64_from_i32(v: i32) -> vec2<u32> {
    return vec2<u32>(bitcast<u32>(v), select(0u, 0xffffffffu, v < 0));
}

fn i64_from_u32(v: u32) -> vec2<u32> {
    return vec2<u32>(v, 0u);
}

// The f32 nearest to an unsigned 64-bit value, rounded once (as the CPU's cast rounds): the top
// 32 bits, with every dropped bit folded into the lowest one as a sticky bit, convert with one
// rounding, and the scale by a power of two is exact.
fn u64_to_f32(m: vec2<u32>) -> f32 {
    if (m.y == 0u) {
        return f32(m.x);
    }
    let lz = countLeadingZeros(m.y);
    let shift = 32u - lz;
    var top: u32;
    var dropped: u32;
    if (lz == 0u) {
        top = m.y;
        dropped = m.x;
    } else {
        top = (m.y << lz) | (m.x >> shift);
        dropped = m.x & ((1u << shift) - 1u);
    }
    return f32(top | select(0u, 1u, dropped != 0u)) * exp2(f32(shift));
}

fn i64_to_f32(a: vec2<u32>) -> f32 {
    let neg = i64_is_neg(a);
    let f = u64_to_f32(select(a, i64_neg(a), neg));
    return select(f, -f, neg);
}

// Truncation toward zero, saturating at int64's range with NaN -> 0: the CPU backend's cast.
fn i64_from_f32(x: f32) -> vec2<u32> {
    if (is_nan_f32(x)) {
        return vec2<u32>(0u, 0u);
    }
    let a = abs(x);
    if (a >= 9223372036854775808.0) {
        return select(vec2<u32>(0xffffffffu, 0x7fffffffu), vec2<u32>(0u, 0x80000000u), x < 0.0);
    }
    let t = trunc(a);
    var m: vec2<u32>;
    if (t < 4294967296.0) {
        m = vec2<u32>(u32(t), 0u);
    } else {
        // t is a multiple of 2^(e-23) >= 2^9 here, so the split into words is exact.
        let hi = floor(t / 4294967296.0);
        m = vec2<u32>(u32(t - hi * 4294967296.0), u32(hi));
    }
    return select(m, i64_neg(m), x < 0.0);
}

// PyTorch's shift rules on int64 words: the amount `b` is negative or >= 64 (its high word is
// non-zero or its low word is >= 64) -> 0 for a left shift, a shift by 63 for a right shift.
fn i64_shl(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    if (b.y != 0u || b.x >= 64u) {
        return vec2<u32>(0u, 0u);
    }
    let s = b.x;
    if (s == 0u) {
        return a;
    }
    if (s >= 32u) {
        return vec2<u32>(0u, a.x << (s - 32u));
    }
    return vec2<u32>(a.x << s, (a.y << s) | (a.x >> (32u - s)));
}

fn i64_shr(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    var s = b.x;
    if (b.y != 0u || b.x >= 63u) {
        s = 63u;
    }
    if (s == 0u) {
        return a;
    }
    let hi = bitcast<i32>(a.y);
    if (s >= 32u) {
        return vec2<u32>(bitcast<u32>(hi >> (s - 32u)), bitcast<u32>(hi >> 31u));
    }
    return vec2<u32>((a.x >> s) | (a.y << (32u - s)), bitcast<u32>(hi >> s));
}
