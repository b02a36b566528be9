// float16 / bfloat16 <-> float32 by integer bit manipulation, bit-exact with the CPU's `half`
// crate conversions (round to nearest even, overflow to inf, subnormals kept, NaN quieted).
// Why not unpack2x16float/pack2x16float: WGSL leaves their rounding, overflow and subnormal
// handling to the implementation, and stored halves must read back bit for bit as on the CPU.
// A half is carried in the low 16 bits of a u32.

fn f16_to_f32_bits(h: u32) -> u32 {
    let sign = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if (e == 0x1fu) {
        if (m == 0u) {
            return sign | 0x7f800000u;
        }
        return sign | 0x7fc00000u | (m << 13u);
    }
    if (e == 0u) {
        if (m == 0u) {
            return sign;
        }
        // Subnormal: shift the leading one up to the implicit bit (bit 10).
        let shift = countLeadingZeros(m) - 21u;
        return sign | ((113u - shift) << 23u) | (((m << shift) & 0x3ffu) << 13u);
    }
    return sign | ((e + 112u) << 23u) | (m << 13u);
}

fn f32_to_f16_bits(x: u32) -> u32 {
    let sign = (x >> 16u) & 0x8000u;
    let e = (x >> 23u) & 0xffu;
    let m = x & 0x7fffffu;
    if (e == 0xffu) {
        return sign | 0x7c00u | select(0u, 0x200u | (m >> 13u), m != 0u);
    }
    let he = i32(e) - 112;
    if (he >= 31) {
        return sign | 0x7c00u;
    }
    if (he <= 0) {
        if (14 - he > 24) {
            return sign;
        }
        let mm = m | 0x800000u;
        let s = u32(14 - he);
        let round_bit = 1u << (s - 1u);
        var hm = mm >> s;
        if ((mm & round_bit) != 0u && (mm & (3u * round_bit - 1u)) != 0u) {
            hm = hm + 1u;
        }
        return sign | hm;
    }
    // Round to nearest even; a carry out of the mantissa bumps the exponent (up to inf).
    let base = sign | (u32(he) << 10u) | (m >> 13u);
    if ((m & 0x1000u) != 0u && (m & 0x2fffu) != 0u) {
        return base + 1u;
    }
    return base;
}

fn bf16_to_f32_bits(h: u32) -> u32 {
    return h << 16u;
}

fn f32_to_bf16_bits(x: u32) -> u32 {
    if ((x & 0x7fffffffu) > 0x7f800000u) {
        return (x >> 16u) | 0x40u;
    }
    let r = x >> 16u;
    if ((x & 0x8000u) != 0u && (x & 0x17fffu) != 0u) {
        return r + 1u;
    }
    return r;
}

// The half at element `e` of a buffer of packed half words.
fn half_at(words_e: u32, e: u32) -> u32 {
    return (words_e >> ((e & 1u) * 16u)) & 0xffffu;
}
