//! Fitting work to the adapter's limits: grids over the per-dimension workgroup limit are spread
//! over x/y/z; bindings over the storage binding limit are refused with the limit named.

use super::pool::fmt_bytes;
use crate::error::{Error, Result};

/// A grid of at least `workgroups` workgroups with each dimension at most `max_per_dim`.
/// Kernels recover the linear id as `(z * ny + y) * nx + x` and skip ids past the end; the excess
/// is below one row of x (or one x*y plane).
pub fn spread_grid(op: &str, workgroups: u64, max_per_dim: u32) -> Result<[u32; 3]> {
    let max = max_per_dim.max(1) as u64;
    if workgroups <= max {
        return Ok([workgroups as u32, 1, 1]);
    }
    let y_needed = workgroups.div_ceil(max);
    if y_needed <= max {
        // Narrow x as far as possible to keep the overshoot small.
        let x = workgroups.div_ceil(y_needed);
        return Ok([x as u32, y_needed as u32, 1]);
    }
    let z = workgroups.div_ceil(max * max);
    if z > max {
        return Err(Error::runtime(format!(
            "wgpu: {op}: {workgroups} workgroups exceed {max}^3 (max_compute_workgroups_per_dimension cubed)"
        )));
    }
    let y = workgroups.div_ceil(max * z);
    Ok([max as u32, y as u32, z as u32])
}

/// Refuse a storage binding larger than `max_storage_buffer_binding_size` (chunking can lift this
/// later for kernels that can work on slices).
pub fn check_binding_size(op: &str, what: &str, bytes: u64, limit: u64) -> Result<()> {
    if bytes > limit {
        return Err(Error::runtime(format!(
            "wgpu: {op}: {what} needs a storage binding of {} ({bytes} bytes), larger than this \
             adapter's max_storage_buffer_binding_size of {} ({limit} bytes); this kernel does not \
             split tensors into chunks yet",
            fmt_bytes(bytes),
            fmt_bytes(limit),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(g: [u32; 3], w: u64, max: u32) {
        assert!(
            g.iter().all(|&d| d >= 1 && d <= max),
            "{g:?} for {w} (max {max})"
        );
        let n = g.iter().map(|&d| d as u64).product::<u64>();
        assert!(n >= w, "{g:?} covers {n} < {w}");
    }

    #[test]
    fn grids_spread_over_yz() {
        assert_eq!(spread_grid("t", 10, 65535).unwrap(), [10, 1, 1]);
        assert_eq!(spread_grid("t", 65535, 65535).unwrap(), [65535, 1, 1]);
        let g = spread_grid("t", 65536, 65535).unwrap();
        assert_eq!(g, [32768, 2, 1]);
        for w in [1u64, 7, 8, 9, 26, 27, 28, 63, 64] {
            covers(spread_grid("t", w, 4).unwrap(), w, 4);
        }
        for w in [1u64 << 20, 4_294_967_295, 70_000 * 65_535] {
            covers(spread_grid("t", w, 65535).unwrap(), w, 65535);
        }
        assert!(spread_grid("t", 65, 4)
            .unwrap_err()
            .msg
            .contains("exceed 4^3"));
    }

    #[test]
    fn oversized_bindings_name_the_limit() {
        assert!(check_binding_size("add", "binding 1", 1024, 1024).is_ok());
        let e = check_binding_size("add", "binding 1", 1028, 1024).unwrap_err();
        assert!(
            e.msg
                .contains("max_storage_buffer_binding_size of 1.00 KiB (1024 bytes)"),
            "{}",
            e.msg
        );
        assert!(e.msg.starts_with("wgpu: add:"), "{}", e.msg);
    }
}
