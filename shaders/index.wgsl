// Shared by the index kernels: reading an index element as int64 words, resolving it against a
// dim size, and reporting a bad one through the device error flag (src/wgpu/errors.rs).
// Include after strided.wgsl. Placeholders: IDX_T, the index element type (vec2<u32> for int64,
// i32 for int32), and IDX_LOAD, the `index_load` body of ops.txt that turns one element `v` into
// its two's-complement words (lo, hi). The including shader declares `idx: array<{{IDX_T}}>` and
// `err: array<atomic<u32>>` (8 words: code, index lo, index hi, dim, size, unused).

fn index_words(p: i32) -> vec2<u32> {
    let v = idx[p];
    return {{IDX_LOAD}};
}

// The position `w` names within 0..size, or -1 when it is out of range. With `wrap`, the negative
// indices -size..-1 count from the end (PyTorch's advanced indexing); without, they are errors.
fn resolve(w: vec2<u32>, size: u32, wrap: bool) -> i32 {
    if (w.y == 0u && w.x < size) {
        return i32(w.x);
    }
    if (wrap && w.y == 0xffffffffu) {
        // Magnitude of a negative int64 whose high word is all ones: 2^32 - lo (0 means -2^32).
        let m = 0u - w.x;
        if (m != 0u && m <= size) {
            return i32(size - m);
        }
    }
    return -1;
}

// Record the first bad index of the batch: the code word is claimed with a compare-exchange, and
// only its winner writes the details, so they always describe one report.
fn report(code: u32, w: vec2<u32>, dim: u32, size: u32) {
    loop {
        let r = atomicCompareExchangeWeak(&err[0], 0u, code);
        if (r.exchanged) {
            atomicStore(&err[1], w.x);
            atomicStore(&err[2], w.y);
            atomicStore(&err[3], dim);
            atomicStore(&err[4], size);
            return;
        }
        if (r.old_value != 0u) {
            return;
        }
    }
}
