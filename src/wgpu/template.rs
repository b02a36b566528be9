//! The shader template format (documented in `shaders/README.md`, applied by Python too):
//! `//!include <file>` lines are replaced by that file, then `{{NAME}}` placeholders by values.
//! Also the op-body table `shaders/ops.txt`.

use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Every file of `shaders/`, embedded at build time. A shader is named by its file name.
const SHADER_FILES: &[(&str, &str)] = &[
    ("strided.wgsl", include_str!("../../shaders/strided.wgsl")),
    ("math.wgsl", include_str!("../../shaders/math.wgsl")),
    ("int64.wgsl", include_str!("../../shaders/int64.wgsl")),
    ("cast.wgsl", include_str!("../../shaders/cast.wgsl")),
    ("random.wgsl", include_str!("../../shaders/random.wgsl")),
    ("fill.wgsl", include_str!("../../shaders/fill.wgsl")),
    ("copy.wgsl", include_str!("../../shaders/copy.wgsl")),
    ("unary.wgsl", include_str!("../../shaders/unary.wgsl")),
    ("binary.wgsl", include_str!("../../shaders/binary.wgsl")),
    ("where.wgsl", include_str!("../../shaders/where.wgsl")),
    ("reduce.wgsl", include_str!("../../shaders/reduce.wgsl")),
    ("matmul.wgsl", include_str!("../../shaders/matmul.wgsl")),
    // The GEMM core and its operand files (src/wgpu/kernels/gemm.rs, matmul.rs, conv_gemm.rs).
    (
        "gemm_core.wgsl",
        include_str!("../../shaders/gemm_core.wgsl"),
    ),
    (
        "gemm_matmul.wgsl",
        include_str!("../../shaders/gemm_matmul.wgsl"),
    ),
    (
        "gemm_conv.wgsl",
        include_str!("../../shaders/gemm_conv.wgsl"),
    ),
    (
        "fast_divmod.wgsl",
        include_str!("../../shaders/fast_divmod.wgsl"),
    ),
    // The index family (src/wgpu/kernels/index.rs, scan.rs).
    ("index.wgsl", include_str!("../../shaders/index.wgsl")),
    ("gather.wgsl", include_str!("../../shaders/gather.wgsl")),
    ("scatter.wgsl", include_str!("../../shaders/scatter.wgsl")),
    ("put.wgsl", include_str!("../../shaders/put.wgsl")),
    (
        "index_fold.wgsl",
        include_str!("../../shaders/index_fold.wgsl"),
    ),
    ("scan.wgsl", include_str!("../../shaders/scan.wgsl")),
    (
        "cumprod_grad.wgsl",
        include_str!("../../shaders/cumprod_grad.wgsl"),
    ),
    // Convolution and pooling (src/wgpu/kernels/conv.rs, pool.rs).
    ("geometry.wgsl", include_str!("../../shaders/geometry.wgsl")),
    (
        "conv_unfold.wgsl",
        include_str!("../../shaders/conv_unfold.wgsl"),
    ),
    (
        "conv_fold.wgsl",
        include_str!("../../shaders/conv_fold.wgsl"),
    ),
    (
        "pool_window.wgsl",
        include_str!("../../shaders/pool_window.wgsl"),
    ),
    ("pool_max.wgsl", include_str!("../../shaders/pool_max.wgsl")),
    (
        "pool_max_backward.wgsl",
        include_str!("../../shaders/pool_max_backward.wgsl"),
    ),
    ("pool_avg.wgsl", include_str!("../../shaders/pool_avg.wgsl")),
    (
        "pool_avg_backward.wgsl",
        include_str!("../../shaders/pool_avg_backward.wgsl"),
    ),
    // Reductions with indices, moments, softmax and the optimizer steps (kernels/argreduce.rs,
    // moments.rs, reduce.rs, softmax.rs, optim.rs).
    (
        "argreduce.wgsl",
        include_str!("../../shaders/argreduce.wgsl"),
    ),
    ("place.wgsl", include_str!("../../shaders/place.wgsl")),
    ("moments.wgsl", include_str!("../../shaders/moments.wgsl")),
    ("any_all.wgsl", include_str!("../../shaders/any_all.wgsl")),
    (
        "prod_others.wgsl",
        include_str!("../../shaders/prod_others.wgsl"),
    ),
    ("softmax.wgsl", include_str!("../../shaders/softmax.wgsl")),
    (
        "softmax_backward.wgsl",
        include_str!("../../shaders/softmax_backward.wgsl"),
    ),
    (
        "cross_entropy.wgsl",
        include_str!("../../shaders/cross_entropy.wgsl"),
    ),
    (
        "cross_entropy_backward.wgsl",
        include_str!("../../shaders/cross_entropy_backward.wgsl"),
    ),
    (
        "cross_entropy_reduce.wgsl",
        include_str!("../../shaders/cross_entropy_reduce.wgsl"),
    ),
    (
        "cross_entropy_common.wgsl",
        include_str!("../../shaders/cross_entropy_common.wgsl"),
    ),
    ("pair_sum.wgsl", include_str!("../../shaders/pair_sum.wgsl")),
    (
        "optim_common.wgsl",
        include_str!("../../shaders/optim_common.wgsl"),
    ),
    (
        "optim_sgd.wgsl",
        include_str!("../../shaders/optim_sgd.wgsl"),
    ),
    (
        "optim_adam.wgsl",
        include_str!("../../shaders/optim_adam.wgsl"),
    ),
    (
        "optim_sgd_rule.wgsl",
        include_str!("../../shaders/optim_sgd_rule.wgsl"),
    ),
    (
        "optim_adam_rule.wgsl",
        include_str!("../../shaders/optim_adam_rule.wgsl"),
    ),
    (
        "optim_group.wgsl",
        include_str!("../../shaders/optim_group.wgsl"),
    ),
    (
        "optim_group_sgd.wgsl",
        include_str!("../../shaders/optim_group_sgd.wgsl"),
    ),
    (
        "optim_group_adam.wgsl",
        include_str!("../../shaders/optim_group_adam.wgsl"),
    ),
    (
        "optim_adagrad.wgsl",
        include_str!("../../shaders/optim_adagrad.wgsl"),
    ),
    (
        "optim_adadelta.wgsl",
        include_str!("../../shaders/optim_adadelta.wgsl"),
    ),
    (
        "optim_rmsprop.wgsl",
        include_str!("../../shaders/optim_rmsprop.wgsl"),
    ),
    // float16/bfloat16 storage (packed two per word; `kernels/half.rs`).
    (
        "half_convert.wgsl",
        include_str!("../../shaders/half_convert.wgsl"),
    ),
    (
        "half_pack.wgsl",
        include_str!("../../shaders/half_pack.wgsl"),
    ),
    (
        "half_widen.wgsl",
        include_str!("../../shaders/half_widen.wgsl"),
    ),
    (
        "half_store.wgsl",
        include_str!("../../shaders/half_store.wgsl"),
    ),
    (
        "matmul_half.wgsl",
        include_str!("../../shaders/matmul_half.wgsl"),
    ),
];

const OPS_TABLE: &str = include_str!("../../shaders/ops.txt");

pub(crate) fn shader_source(name: &str) -> Result<&'static str> {
    SHADER_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .ok_or_else(|| Error::runtime(format!("wgpu: no shader file named '{name}' in shaders/")))
}

/// The variant string that keys the pipeline cache: `NAME=value` sorted by NAME, joined by `;`.
pub fn variant_key(vars: &[(&str, &str)]) -> String {
    let mut v: Vec<_> = vars.iter().map(|(k, val)| format!("{k}={val}")).collect();
    v.sort();
    v.join(";")
}

/// Render the embedded shader `name` with the given placeholder values.
pub fn render(name: &str, vars: &[(&str, &str)]) -> Result<String> {
    render_with(name, vars, &|n| shader_source(n).map(str::to_owned))
}

/// [`render`] over any file source (unit tests use an in-memory one).
pub fn render_with(
    name: &str,
    vars: &[(&str, &str)],
    files: &dyn Fn(&str) -> Result<String>,
) -> Result<String> {
    let mut seen = HashSet::new();
    let text = expand_includes(name, files, &mut seen)?;
    substitute(&text, vars).map_err(|e| Error::runtime(format!("wgpu: shader {name}: {}", e.msg)))
}

fn expand_includes(
    name: &str,
    files: &dyn Fn(&str) -> Result<String>,
    seen: &mut HashSet<String>,
) -> Result<String> {
    if !seen.insert(name.to_owned()) {
        return Ok(String::new());
    }
    let src = files(name)?;
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        match line.trim().strip_prefix("//!include ") {
            Some(inc) => out.push_str(&expand_includes(inc.trim(), files, seen)?),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Replace every `{{NAME}}`; a placeholder without a value is an error. Values are not rescanned.
pub fn substitute(text: &str, vars: &[(&str, &str)]) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| Error::runtime("unterminated '{{' placeholder"))?;
        let name = &after[..end];
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_');
        if !valid {
            return Err(Error::runtime(format!("bad placeholder '{{{{{name}}}}}'")));
        }
        let value = vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| Error::runtime(format!("no value for placeholder {{{{{name}}}}}")))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parse `ops.txt`-format text: `<family> <name>: <expression>` per line, `#` comments.
pub fn parse_ops_table(text: &str) -> Result<HashMap<(String, String), String>> {
    let mut table = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || Error::runtime(format!("shaders/ops.txt line {}: '{line}'", n + 1));
        let (head, expr) = line.split_once(':').ok_or_else(bad)?;
        let mut words = head.split_whitespace();
        let (Some(family), Some(name), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad());
        };
        table.insert((family.to_owned(), name.to_owned()), expr.trim().to_owned());
    }
    Ok(table)
}

/// The WGSL expression for op `name` of `family` from `shaders/ops.txt`.
pub fn op_body(family: &str, name: &str) -> Result<&'static str> {
    static TABLE: OnceLock<HashMap<(String, String), String>> = OnceLock::new();
    let table = TABLE.get_or_init(|| parse_ops_table(OPS_TABLE).unwrap_or_default());
    table
        .get(&(family.to_owned(), name.to_owned()))
        .map(String::as_str)
        .ok_or_else(|| Error::runtime(format!("wgpu: shaders/ops.txt has no '{family} {name}'")))
}

/// The body of op `name` of `family` for elements of device type `ty` (`"f32"`, `"i32"`, `"i64"`,
/// `"bool"`, `"u8"`): the `<family>.<ty>` entry of `ops.txt` when there is one, else the generic
/// `<family>` entry, which serves f32 and the plain 32-bit integer types. int64 has no generic
/// fallback: a float body applied to its word pair would compile and be silently wrong.
pub fn op_body_for(family: &str, name: &str, ty: &str) -> Result<&'static str> {
    let specific = op_body(&format!("{family}.{ty}"), name);
    if specific.is_ok() || ty == "i64" {
        return specific;
    }
    op_body(family, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_rejects_missing_values() {
        let s = substitute("a {{X}} b {{Y_2}}", &[("X", "1"), ("Y_2", "{{X}}")]).unwrap();
        assert_eq!(s, "a 1 b {{X}}");
        assert!(substitute("{{Z}}", &[]).unwrap_err().msg.contains("{{Z}}"));
        assert!(substitute("{{lower}}", &[("lower", "1")]).is_err());
    }

    #[test]
    fn includes_are_expanded_once() {
        let files = |n: &str| -> Result<String> {
            Ok(match n {
                "main" => "//!include a\n  //!include a\nbody {{V}}\n".into(),
                "a" => "A\n".into(),
                _ => return Err(Error::runtime("missing")),
            })
        };
        assert_eq!(
            render_with("main", &[("V", "v")], &files).unwrap(),
            "A\nbody v\n"
        );
    }

    #[test]
    fn variant_key_is_sorted() {
        assert_eq!(
            variant_key(&[("WG", "64"), ("DTYPE", "f32")]),
            "DTYPE=f32;WG=64"
        );
    }

    #[test]
    fn ops_table_parses() {
        let t = parse_ops_table(OPS_TABLE).unwrap();
        assert_eq!(t[&("unary".into(), "exp".into())], "exp(x)");
        assert!(parse_ops_table("unary exp exp(x)").is_err());
    }

    #[test]
    fn every_embedded_shader_renders() {
        for (name, _) in SHADER_FILES {
            let vars = [
                ("DTYPE", "f32"),
                ("OUT", "f32"),
                ("WG", "64"),
                ("OP", "x"),
                ("INIT", "0.0"),
                ("VALUE", "scalar(0u)"),
                ("IN", "f32"),
                ("CAST", "x"),
                ("SAMPLE", "p"),
                ("HAS_P", "false"),
                ("IDX_T", "i32"),
                ("IDX_LOAD", "v"),
                // The GEMM core's tile parameters (kernels/gemm.rs `Tile::vars`, "mid" tile) and
                // its matmul/conv wrappers' epilogue hooks.
                ("TM", "64"),
                ("TN", "64"),
                ("TK", "16"),
                ("RM", "4"),
                ("RN", "4"),
                ("WX", "16"),
                ("WY", "16"),
                ("VEC", "false"),
                ("A_K_FAST", "false"),
                ("B_K_FAST", "false"),
                ("SA_LEN", "272"),
                ("SB_LEN", "272"),
                ("ACC_LEN", "4"),
                ("RA_LEN", "1"),
                ("RB_LEN", "1"),
                ("ACT", "v"),
                ("AT", "f32"),
                ("AT4", "vec4<f32>"),
                ("BT", "f32"),
                ("BT4", "vec4<f32>"),
                ("ELEM", "f32"),
                ("BIAS", "0.0"),
                ("BIAS_DECL", ""),
                ("PRE_DECL", ""),
                ("PRE_STORE", ""),
                ("MODE", "0u"),
                ("FAST_DIV", "true"),
                // The half-precision shaders.
                ("KIND", "0u"),
                ("LOAD", "v"),
                // The optimizer group kernels (kernels/optim.rs `group_vars`).
                ("SLOTS", "1"),
                ("NOPS", "3"),
                ("BINDINGS", ""),
                ("LOADS", ""),
                ("STORES", ""),
            ];
            let text = render(name, &vars).unwrap();
            assert!(!text.contains("{{"), "{name}");
        }
    }
}
