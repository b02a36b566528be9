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
