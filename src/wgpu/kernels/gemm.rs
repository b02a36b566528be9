//! The register-blocked GEMM (`gemm_core.wgsl`): tile shapes, the choice among them per problem
//! (a size heuristic, or a per-adapter table measured once by [`tune`] and cached on disk), and
//! the fused epilogue (bias add + activation before the store). Matmul (`gemm_matmul.wgsl`) and
//! the implicit-GEMM convolutions (`gemm_conv.wgsl`) share the core and this choice.

use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::sync::OnceLock;

/// One tile shape of the GEMM core: a `tm x tn` block of C per workgroup, `rm x rn` outputs per
/// invocation, `tk` deep shared-memory tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub name: &'static str,
    pub tm: u32,
    pub tn: u32,
    pub tk: u32,
    pub rm: u32,
    pub rn: u32,
}

/// The variants, smallest first. All have 4-multiples for `rm`/`rn` (vec4 accumulators) and
/// tiles whose loads divide evenly among the invocations.
pub const TILES: [Tile; 3] = [
    Tile {
        name: "small",
        tm: 32,
        tn: 32,
        tk: 16,
        rm: 4,
        rn: 4,
    },
    Tile {
        name: "mid",
        tm: 64,
        tn: 64,
        tk: 16,
        rm: 4,
        rn: 4,
    },
    Tile {
        name: "big",
        tm: 128,
        tn: 128,
        tk: 8,
        rm: 8,
        rn: 8,
    },
];

impl Tile {
    fn by_name(name: &str) -> Option<Tile> {
        TILES.iter().copied().find(|t| t.name == name)
    }

    /// Workgroups for `batches` products of `m x n`.
    pub fn workgroups(&self, m: usize, n: usize, batches: usize) -> u64 {
        (batches * m.div_ceil(self.tm as usize) * n.div_ceil(self.tn as usize)) as u64
    }

    /// The core's placeholder values for this tile (the caller adds its file's own).
    pub fn vars(&self, vec: bool, a_k_fast: bool, b_k_fast: bool) -> Vec<(&'static str, String)> {
        let (wx, wy) = (self.tn / self.rn, self.tm / self.rm);
        let b = |v: bool| if v { "true" } else { "false" }.to_string();
        vec![
            ("TM", self.tm.to_string()),
            ("TN", self.tn.to_string()),
            ("TK", self.tk.to_string()),
            ("RM", self.rm.to_string()),
            ("RN", self.rn.to_string()),
            // strided.wgsl's 1-D workgroup size (the core does not use linear_id).
            ("WG", (wx * wy).to_string()),
            ("WX", wx.to_string()),
            ("WY", wy.to_string()),
            ("VEC", b(vec)),
            ("A_K_FAST", b(a_k_fast)),
            ("B_K_FAST", b(b_k_fast)),
            ("SA_LEN", (self.tk * (self.tm / 4 + 1)).to_string()),
            ("SB_LEN", (self.tk * (self.tn / 4 + 1)).to_string()),
            ("ACC_LEN", (self.rm * self.rn / 4).to_string()),
            ("RA_LEN", (self.rm / 4).to_string()),
            ("RB_LEN", (self.rn / 4).to_string()),
        ]
    }
}

/// Borrow `(name, value)` pairs as the `&str` pairs `Engine::kernel` takes.
pub fn as_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

/// An activation applied in the epilogue (PyTorch's formulas, as `shaders/ops.txt` has them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    None,
    Relu,
    Sigmoid,
    Tanh,
    Gelu,
    GeluTanh,
    Silu,
}

impl Act {
    /// From the name used by the Python binding (`"relu"`, `"gelu"`, `"gelu_tanh"`, ...).
    pub fn parse(name: &str) -> Result<Act> {
        Ok(match name {
            "" | "none" | "identity" => Act::None,
            "relu" => Act::Relu,
            "sigmoid" => Act::Sigmoid,
            "tanh" => Act::Tanh,
            "gelu" => Act::Gelu,
            "gelu_tanh" => Act::GeluTanh,
            "silu" => Act::Silu,
            other => {
                return Err(Error::value(format!(
                    "unknown fused activation '{other}' (expected one of none, relu, sigmoid, \
                     tanh, gelu, gelu_tanh, silu)"
                )))
            }
        })
    }

    /// The WGSL expression of the activation of `v`.
    pub fn expr(self) -> &'static str {
        match self {
            Act::None => "v",
            Act::Relu => "max(v, 0.0)",
            Act::Sigmoid => "sigmoid_f32(v)",
            Act::Tanh => "tanh_f32(v)",
            Act::Gelu => "0.5 * v * (1.0 + erf_f32(v * 0.7071067811865476))",
            Act::GeluTanh => {
                "0.5 * v * (1.0 + tanh_f32(0.7978845608028654 * (v + 0.044715 * v * v * v)))"
            }
            Act::Silu => "v * sigmoid_f32(v)",
        }
    }

    /// Whether the backward rule needs the pre-activation (the others use the output).
    pub fn needs_pre(self) -> bool {
        matches!(self, Act::Gelu | Act::GeluTanh | Act::Silu)
    }

    pub fn name(self) -> &'static str {
        match self {
            Act::None => "none",
            Act::Relu => "relu",
            Act::Sigmoid => "sigmoid",
            Act::Tanh => "tanh",
            Act::Gelu => "gelu",
            Act::GeluTanh => "gelu_tanh",
            Act::Silu => "silu",
        }
    }
}

/// Problem classes of the tuning table: by output elements times batches.
const CLASSES: [&str; 3] = ["s", "m", "l"];

fn class_of(m: usize, n: usize, batches: usize) -> &'static str {
    let work = m * n * batches;
    if work <= 128 * 128 {
        "s"
    } else if work <= 768 * 768 {
        "m"
    } else {
        "l"
    }
}

/// A forced variant (tests and benchmarks): a [`TILES`] name or `"legacy"` (the previous 64x64
/// kernel, `matmul.wgsl`).
static FORCED: Mutex<Option<String>> = Mutex::new(None);

/// Force one variant for every product (`None`: choose per problem). Returns the previous one.
pub fn force_variant(name: Option<&str>) -> Result<Option<String>> {
    if let Some(n) = name {
        if n != "legacy" && Tile::by_name(n).is_none() {
            return Err(Error::value(format!(
                "unknown matmul variant '{n}' (expected legacy, small, mid or big)"
            )));
        }
    }
    Ok(std::mem::replace(
        &mut *FORCED.lock(),
        name.map(str::to_owned),
    ))
}

/// The forced variant, if any.
pub fn forced() -> Option<String> {
    FORCED.lock().clone()
}

/// What the heuristic picks without a table: the largest tile that the output fills at least
/// three quarters of in each dimension and that still gives the device enough workgroups.
fn heuristic(m: usize, n: usize, batches: usize) -> Tile {
    let [small, mid, big] = TILES;
    let filled = |t: &Tile| 4 * m >= 3 * t.tm as usize && 4 * n >= 3 * t.tn as usize;
    if filled(&big) && big.workgroups(m, n, batches) >= 64 {
        big
    } else if filled(&mid) && mid.workgroups(m, n, batches) >= 16 {
        mid
    } else {
        small
    }
}

/// The tile for a product of `batches` `m x n` outputs: forced, else tuned, else heuristic.
/// (`None` means the legacy kernel was forced.)
pub fn choose(m: usize, n: usize, batches: usize) -> Option<Tile> {
    if let Some(f) = forced() {
        return Tile::by_name(&f);
    }
    let tuned = table().lock().as_ref().and_then(|t| {
        t.iter()
            .find(|(c, _)| c == class_of(m, n, batches))
            .and_then(|(_, v)| Tile::by_name(v))
    });
    Some(tuned.unwrap_or_else(|| heuristic(m, n, batches)))
}

type Table = Vec<(String, String)>;

/// One class of a tuning run: (class, winning variant, [(variant, seconds)]).
pub type TuneRow = (String, String, Vec<(String, f64)>);

/// The tuning table of this adapter, loaded from the cache file once.
fn table() -> &'static Mutex<Option<Table>> {
    static TABLE: OnceLock<Mutex<Option<Table>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(cache_path().and_then(|p| load_table(&p))))
}

/// `~/.cache/rustgrad/wgpu-tune-<adapter>.json` (`$XDG_CACHE_HOME` first); `None` without a
/// home, an adapter, or when `RUSTGRAD_WGPU_TUNE=0` turns the table off.
pub fn cache_path() -> Option<std::path::PathBuf> {
    if std::env::var("RUSTGRAD_WGPU_TUNE").is_ok_and(|v| v == "0") {
        return None;
    }
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(d) if !d.is_empty() => std::path::PathBuf::from(d),
        _ => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    let info = crate::wgpu::adapter_info().ok()?;
    let tag: String = format!("{}-{}", info.name, info.driver)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(base.join("rustgrad").join(format!("wgpu-tune-{tag}.json")))
}

/// Parse the cache file: a flat JSON object of string values whose keys are the classes. Any
/// other content (a corrupt or foreign file) yields `None`, and the heuristic is used.
fn load_table(path: &std::path::Path) -> Option<Table> {
    let text = std::fs::read_to_string(path).ok()?;
    let t = parse_flat_json(&text)?;
    let ok = CLASSES
        .iter()
        .all(|c| t.iter().any(|(k, v)| k == c && Tile::by_name(v).is_some()));
    ok.then_some(t)
}

/// A flat `{"key": "value", ...}` object (no escapes, no nesting), else `None`.
fn parse_flat_json(text: &str) -> Option<Table> {
    let body = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    for item in body.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once(':')?;
        let unq = |s: &str| -> Option<String> {
            let s = s.trim().strip_prefix('"')?.strip_suffix('"')?;
            (!s.contains('"') && !s.contains('\\')).then(|| s.to_owned())
        };
        out.push((unq(k)?, unq(v)?));
    }
    Some(out)
}

/// Time every variant on one representative product per class on this adapter, keep the
/// fastest per class (used from then on) and write the table to the cache file (best effort:
/// an unwritable cache only loses the file). `scale` shrinks the problems (1 = full size).
/// Returns `(class, variant, [(variant, seconds)])` rows.
pub fn tune(scale: usize) -> Result<Vec<TuneRow>> {
    let scale = scale.max(1);
    let sizes = [
        ("s", 96 / scale.min(8), 8),
        ("m", 512 / scale, 1),
        ("l", 2048 / scale, 1),
    ];
    let before = force_variant(None)?;
    let mut rows = Vec::new();
    let result = (|| -> Result<()> {
        for (class, size, batch) in sizes {
            let size = size.max(8);
            let a = crate::wgpu::upload_f32(&vec![0.5f32; batch * size * size])?;
            let b = crate::wgpu::upload_f32(&vec![0.25f32; batch * size * size])?;
            let shape = [batch, size, size];
            let st = [(size * size) as isize, size as isize, 1];
            let va = crate::wgpu::GpuView::new(a, crate::dtype::DType::F32, &shape, &st, 0);
            let vb = crate::wgpu::GpuView::new(b, crate::dtype::DType::F32, &shape, &st, 0);
            let mut times = Vec::new();
            for t in TILES {
                force_variant(Some(t.name))?;
                // One warm-up (compiles the pipeline), then the best of three.
                super::matmul(&va, &vb)?;
                crate::wgpu::synchronize()?;
                let mut best = f64::INFINITY;
                for _ in 0..3 {
                    let t0 = std::time::Instant::now();
                    super::matmul(&va, &vb)?;
                    crate::wgpu::synchronize()?;
                    best = best.min(t0.elapsed().as_secs_f64());
                }
                times.push((t.name.to_string(), best));
            }
            let winner = times
                .iter()
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .map(|x| x.0.clone())
                .unwrap_or_else(|| "mid".into());
            rows.push((class.to_string(), winner, times));
        }
        Ok(())
    })();
    force_variant(before.as_deref())?;
    result?;
    let t: Table = rows.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
    if let Some(path) = cache_path() {
        let body: Vec<String> = t.iter().map(|(k, v)| format!("\"{k}\": \"{v}\"")).collect();
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&path, format!("{{{}}}\n", body.join(", ")));
    }
    *table().lock() = Some(t);
    Ok(rows)
}

/// Forget the tuned table (the heuristic applies until the next [`tune`] or a restart).
pub fn clear_tuning() {
    *table().lock() = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_json_round_trip_and_corrupt_files() {
        let t = parse_flat_json("{\"s\": \"small\", \"m\": \"mid\", \"l\": \"big\"}\n").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[2], ("l".to_string(), "big".to_string()));
        assert!(parse_flat_json("{\"s\": small}").is_none());
        assert!(parse_flat_json("garbage").is_none());
        let dir = std::env::temp_dir().join(format!("rg-tune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.json");
        std::fs::write(&p, "{\"s\": \"small\", \"m\": \"huge\", \"l\": \"big\"}").unwrap();
        assert!(
            load_table(&p).is_none(),
            "unknown variant names are rejected"
        );
        std::fs::write(&p, [0xffu8, 0xfe, 0x00]).unwrap();
        assert!(load_table(&p).is_none(), "binary garbage is ignored");
        std::fs::write(&p, "{\"s\": \"small\", \"m\": \"mid\", \"l\": \"big\"}").unwrap();
        assert!(load_table(&p).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_tile_divides_its_loads() {
        for t in TILES {
            let nt = (t.tm / t.rm) * (t.tn / t.rn);
            assert_eq!((t.tm * t.tk / 4) % nt, 0, "{}", t.name);
            assert_eq!((t.tn * t.tk / 4) % nt, 0, "{}", t.name);
            assert_eq!(t.rm % 4 + t.rn % 4 + t.tk % 4, 0, "{}", t.name);
        }
    }
}
