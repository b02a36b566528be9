// Integer division through an f32 reciprocal (gemm_conv.wgsl's FAST_DIV variant): lavapipe and
// other drivers lower u32 `/` and `%` to one scalar divide per lane, while this costs a multiply,
// a convert and a compare. Its own file so that a unit test (src/wgpu/tests.rs) runs it
// exhaustively on the adapter.
//
// divmod_fast(a, b, rb) = (a / b, a % b) exactly when a < 2^22, 1 <= b < 2^22 and rb is the f32
// nearest to 1 / b. The host computes rb (IEEE division, correctly rounded), because WGSL lets a
// shader's x / y be 2.5 ULP off, which near b = 1 or 2 would eat the margin below. Why it is exact
// (the host checks the bounds, conv_gemm.rs):
//  - a and b are below 2^24, so f32(a) is exact, and below 2^31, so the i32 casts below neither
//    wrap nor lose bits (q * b <= a + b < 2^23).
//  - rb = (1 / b)(1 + d1) with |d1| <= 2^-24 (round to nearest), and WGSL requires x * y correctly
//    rounded, so f32(a) * rb = (a / b)(1 + d1)(1 + d2) with |d2| <= 2^-24: a relative error below
//    2^-23 (1 + 2^-25), an absolute one below 2^22 * 2^-23 (1 + 2^-25), just over 0.5.
//  - The quotient q = floor(a / b) has a / b in [q, q + 1), so the estimate lies in
//    (q - 1, q + 2), its truncation (u32 of a non-negative float rounds toward zero) is q - 1, q or
//    q + 1, and the one correction step on the exact integer remainder lands on q.
// One step would still do up to a < 2^23 (error below 1); 2^22 keeps a factor of two in hand.
// Above 2^24 f32(a) itself rounds and the estimate can be off by more than one.

fn divmod_fast(a: u32, b: u32, rb: f32) -> vec2<u32> {
    var q = u32(f32(a) * rb);
    var r = i32(a) - i32(q * b);
    if (r < 0) {
        q = q - 1u;
        r = r + i32(b);
    } else if (r >= i32(b)) {
        q = q + 1u;
        r = r - i32(b);
    }
    return vec2<u32>(q, u32(r));
}
