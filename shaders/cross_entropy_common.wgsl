// Shared by cross_entropy.wgsl and cross_entropy_backward.wgsl (scalar words as described in
// cross_entropy.wgsl). Include after strided.wgsl and index.wgsl; the including shader declares
// `err` (the device error flag).

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> w: array<f32>;

// Element offsets of x, the targets, w and g (words after the scalars; no views are bound).
fn x_at(i: u32) -> f32 {
    return x[params[18] + i];
}

fn smoothing() -> f32 {
    return bitcast<f32>(scalar(5u));
}

fn class_weight(c: u32) -> f32 {
    if ((scalar(6u) & 1u) != 0u) {
        return w[params[20] + c];
    }
    return 1.0;
}

// Row r's target as int64 words (lo, hi).
fn target_words(r: u32) -> vec2<u32> {
    return index_words(i32(params[19] + r));
}

fn is_ignored(t: vec2<u32>) -> bool {
    return t.x == scalar(3u) && t.y == scalar(4u);
}
