//! A size-bucketed cache of device buffers. Sizes round up to a bucket (powers of two up to 1 MiB,
//! then quarter steps between powers of two, so at most 25% is wasted); a buffer given back by a
//! dropped handle serves the next request of its bucket. Generic over the buffer type so the
//! policy (bucketing, reuse, empty-and-retry on allocation failure) is unit-tested without a GPU.

use crate::error::{Error, Result};
use std::collections::HashMap;

/// Smallest bucket: tiny tensors (scalars, parameters) share one size class.
pub const MIN_BUCKET: u64 = 256;
/// Up to this size buckets are powers of two; above it, quarter steps.
const POW2_UP_TO: u64 = 1 << 20;

/// The bucket (allocation size in bytes) serving a request of `bytes`, never above `max` (the
/// device's max buffer size) unless the request itself is: then the request, rounded to 4 bytes.
pub fn bucket_size(bytes: u64, max: u64) -> u64 {
    let b = if bytes <= MIN_BUCKET {
        MIN_BUCKET
    } else if bytes <= POW2_UP_TO {
        bytes.next_power_of_two()
    } else {
        let step = (1u64 << (63 - bytes.leading_zeros())) / 4;
        bytes.div_ceil(step) * step
    };
    if b > max && bytes <= max {
        bytes.div_ceil(4) * 4
    } else {
        b
    }
}

/// Why creating a buffer failed.
#[derive(Debug)]
pub enum CreateError {
    /// The device is out of memory: worth freeing the cache and trying again.
    OutOfMemory(String),
    /// Anything else (validation, device lost): retrying will not help.
    Other(Error),
}

/// Cached free buffers by bucket, with the byte totals the stats report.
pub struct BucketPool<B> {
    free: HashMap<u64, Vec<B>>,
    /// Bytes in `free`.
    pub cached_bytes: u64,
    /// Bytes handed out and not yet given back.
    pub live_bytes: u64,
}

impl<B> Default for BucketPool<B> {
    fn default() -> Self {
        BucketPool {
            free: HashMap::new(),
            cached_bytes: 0,
            live_bytes: 0,
        }
    }
}

/// What `acquire` did, for the counters.
#[derive(Debug, PartialEq, Eq)]
pub enum Acquired {
    Reused,
    /// Created; `freed` bytes of cache were released first to make room.
    Created {
        freed: u64,
    },
}

impl<B> BucketPool<B> {
    /// A buffer of `bucket` bytes: a cached one, else `create(bucket)`. When creation runs out of
    /// memory the whole cache is released and creation tried once more; a second failure is an
    /// OutOfMemory error naming the requested size and what the pool held.
    pub fn acquire(
        &mut self,
        requested: u64,
        bucket: u64,
        mut create: impl FnMut(u64) -> std::result::Result<B, CreateError>,
    ) -> Result<(B, Acquired)> {
        if let Some(b) = self.free.get_mut(&bucket).and_then(Vec::pop) {
            self.cached_bytes -= bucket;
            self.live_bytes += bucket;
            return Ok((b, Acquired::Reused));
        }
        let first = match create(bucket) {
            Ok(b) => {
                self.live_bytes += bucket;
                return Ok((b, Acquired::Created { freed: 0 }));
            }
            Err(CreateError::Other(e)) => return Err(e),
            Err(CreateError::OutOfMemory(msg)) => msg,
        };
        let freed = self.clear();
        match create(bucket) {
            Ok(b) => {
                self.live_bytes += bucket;
                Ok((b, Acquired::Created { freed }))
            }
            Err(CreateError::Other(e)) => Err(e),
            Err(CreateError::OutOfMemory(msg)) => Err(Error::oom(format!(
                "wgpu out of memory: tried to allocate {} (bucket {}); {} were in use and {} \
                 cached buffers were freed before retrying ({first}; retry: {msg})",
                fmt_bytes(requested),
                fmt_bytes(bucket),
                fmt_bytes(self.live_bytes),
                fmt_bytes(freed),
            ))),
        }
    }

    /// Take back a buffer of `bucket` bytes for reuse.
    pub fn release(&mut self, bucket: u64, buffer: B) {
        self.live_bytes -= bucket;
        self.cached_bytes += bucket;
        self.free.entry(bucket).or_default().push(buffer);
    }

    /// Drop every cached buffer; returns the bytes freed.
    pub fn clear(&mut self) -> u64 {
        let freed = self.cached_bytes;
        self.free.clear();
        self.cached_bytes = 0;
        freed
    }
}

/// Bytes in the units PyTorch's OOM message uses.
pub fn fmt_bytes(b: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = b as f64;
    if f >= KIB * KIB * KIB {
        format!("{:.2} GiB", f / (KIB * KIB * KIB))
    } else if f >= KIB * KIB {
        format!("{:.2} MiB", f / (KIB * KIB))
    } else if f >= KIB {
        format!("{:.2} KiB", f / KIB)
    } else {
        format!("{b} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_up() {
        let max = u64::MAX;
        assert_eq!(bucket_size(0, max), MIN_BUCKET);
        assert_eq!(bucket_size(257, max), 512);
        assert_eq!(bucket_size(1 << 20, max), 1 << 20);
        // Quarter steps above 1 MiB: 1 MiB + 1 -> 1.25 MiB; 3 MiB -> 3 MiB; 3 MiB + 1 -> 3.5 MiB.
        assert_eq!(bucket_size((1 << 20) + 1, max), 5 << 18);
        assert_eq!(bucket_size(3 << 20, max), 3 << 20);
        assert_eq!(bucket_size((3 << 20) + 1, max), 7 << 19);
        for n in [1u64, 300, 5000, 1 << 21, 123_456_789] {
            let b = bucket_size(n, max);
            assert!(
                b >= n && b.is_multiple_of(4) && (n < MIN_BUCKET || b as f64 <= n as f64 * 2.0)
            );
        }
        // Never past the device maximum when the request fits.
        assert_eq!(bucket_size(1000, 1001), 1000);
        assert_eq!(bucket_size(999, 1001), 1000);
    }

    #[test]
    fn released_buffers_are_reused_by_their_bucket() {
        let mut pool = BucketPool::<u32>::default();
        let mut made = 0;
        let mut mk = |_| {
            made += 1;
            Ok(made)
        };
        let (a, how) = pool.acquire(300, 512, &mut mk).unwrap();
        assert_eq!(how, Acquired::Created { freed: 0 });
        pool.release(512, a);
        assert_eq!((pool.live_bytes, pool.cached_bytes), (0, 512));
        let (b, how) = pool.acquire(400, 512, &mut mk).unwrap();
        assert_eq!((b, how), (a, Acquired::Reused));
        let (c, _) = pool.acquire(400, 1024, &mut mk).unwrap();
        assert_ne!(c, a);
        assert_eq!(pool.live_bytes, 1536);
    }

    #[test]
    fn out_of_memory_empties_the_pool_and_retries_once() {
        // Two buffers handed out earlier and given back, one still in use.
        let mut pool = BucketPool::<u32> {
            live_bytes: 1024 + 2048 + 4096,
            ..Default::default()
        };
        pool.release(1024, 7);
        pool.release(2048, 8);
        let mut calls = 0;
        let (b, how) = pool
            .acquire(4000, 4096, |_| {
                calls += 1;
                if calls == 1 {
                    Err(CreateError::OutOfMemory("oom".into()))
                } else {
                    Ok(9)
                }
            })
            .unwrap();
        assert_eq!((b, how, calls), (9, Acquired::Created { freed: 3072 }, 2));
        assert_eq!(pool.cached_bytes, 0);

        let err = pool
            .acquire(5 << 20, 5 << 20, |_| {
                Err(CreateError::OutOfMemory("oom".into()))
            })
            .unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::OutOfMemory);
        assert!(
            err.msg.contains("tried to allocate 5.00 MiB"),
            "{}",
            err.msg
        );
        assert!(err.msg.contains("8.00 KiB were in use"), "{}", err.msg);
    }
}
