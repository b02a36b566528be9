// Shared by the fused optimizer kernels (optim_*.wgsl): one invocation per parameter element,
// updating the parameter and its state buffers in place. The update rules are PyTorch's
// single-tensor ones, in the order the CPU kernels (`cpu::optim`) evaluate them.
// Parameters buffer: words 0..18 as usual (numel = parameter elements, 8 scalar words), no views;
// words 18..23 are the element offsets of p, g, s0, s1, s2 (every operand is contiguous).
// Bindings: 0 params, 1 p, 2 g (read), 3 s0, 4 s1, 5 s2 (state buffers; an absent one is bound to a
// small dummy buffer its flag keeps unread).

@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> s0: array<f32>;
@group(0) @binding(4) var<storage, read_write> s1: array<f32>;
@group(0) @binding(5) var<storage, read_write> s2: array<f32>;

const OFFSETS: u32 = 18u;

fn offset_of(k: u32) -> u32 {
    return params[OFFSETS + k];
}

fn scalar_f32(k: u32) -> f32 {
    return bitcast<f32>(scalar(k));
}

fn flag(bit: u32) -> bool {
    return (scalar(7u) & (1u << bit)) != 0u;
}

// The accessors the shared update rules (optim_*_rule.wgsl) are written against: operand k
// (0 p, 1 g, 2 s0, 3 s1, 4 s2) at element i, and the scalar words. A kernel whose rule uses them
// binds all five buffers (the switch references every one).
fn ld(k: u32, i: u32) -> f32 {
    let j = offset_of(k) + i;
    switch k {
        case 0u: { return p[j]; }
        case 1u: { return g[j]; }
        case 2u: { return s0[j]; }
        case 3u: { return s1[j]; }
        default: { return s2[j]; }
    }
}

fn st(k: u32, i: u32, v: f32) {
    let j = offset_of(k) + i;
    switch k {
        case 0u: { p[j] = v; }
        case 2u: { s0[j] = v; }
        case 3u: { s1[j] = v; }
        case 4u: { s2[j] = v; }
        default: {}
    }
}

fn sc(k: u32) -> f32 {
    return scalar_f32(k);
}

fn fl(bit: u32) -> bool {
    return flag(bit);
}
