//! Generates the unrolled register-tiled entry points `cpu_nn` and
//! `cpu_ubo2` of shaders/gemm.wgsl (build.rs inserts each at its
//! `// @generate` line; OUT_DIR/gemm.wgsl is the source the runtime
//! compiles). The shader header says what the kernels do and why.
//!
//! Each lane owns a tile of C held in named vec4 accumulators `c{row}_{q}`
//! (q = column vec4). WGSL has no templates, and llvmpipe keeps an array of
//! accumulators in memory, not registers, so the accumulators, the loads of
//! the K step and the FMAs are written out one by one.

use std::fmt::Write as _;

/// Tile of `cpu_nn`: rows x columns of C per lane (`CPU_TM`, `CPU_TN` in
/// src/ops/gemm.rs must match).
const NN_TM: usize = 16;
const NN_TN: usize = 16;

/// Tile of `cpu_ubo2`: rows x columns per lane; rows 0..16 come from window
/// `aw`, rows 16..32 from window `aw2` (src/ops/gemm.rs dispatches 16 rows
/// per window and 8 columns per lane).
const UBO2_TM: usize = 32;
const UBO2_TN: usize = 8;

macro_rules! w {
    ($o:expr, $($t:tt)*) => { writeln!($o, $($t)*).unwrap() };
}

/// `cpu_nn`: A and B from vec4 storage views (`a4` [M, K4], `b4` [K, N4]).
pub fn cpu_nn() -> String {
    let (tm, q) = (NN_TM, NN_TN / 4);
    let mut o = String::new();
    w!(o, "@compute @workgroup_size(WG)");
    w!(o, "fn cpu_nn(@builtin(global_invocation_id) gid: vec3<u32>) {{");
    w!(o, "    // This invocation owns rows r0..r0+{tm} and columns 4*bq..4*bq+{NN_TN} of C.");
    w!(o, "    let r0 = gid.x * {tm}u;");
    w!(o, "    let bq = gid.y * {q}u;");
    w!(o, "    let last = p.m - 1u;");
    w!(o, "    let lda = p.s0;");
    w!(o, "    let ldb = p.s1;");
    w!(o, "    let kk = p.k;");
    w!(o, "    // Rows past M re-read row M-1; their sums are never stored.");
    for r in 0..tm {
        w!(o, "    let ar{r} = min(r0 + {r}u, last) * lda;");
    }
    k_loop(&mut o, tm, q, true, |r| format!("a4[ar{r} + k4]"));
    w!(o, "    var t: array<vec4<f32>, {}>;", tm * q);
    for r in 0..tm {
        row(&mut o, "    ", q, |j| format!("t[{}] = c{r}_{j};", r * q + j));
    }
    w!(o, "    for (var i = 0u; i < {}u; i++) {{", tm * q);
    w!(o, "        store4(r0 + i / {q}u, (bq + i % {q}u) * 4u, t[i]);");
    w!(o, "    }}");
    w!(o, "}}");
    o
}

/// `cpu_ubo2`: A from the uniform windows `aw` (C rows p.s2 + ...) and
/// `aw2` (C rows p.s2 + p.s3 + ...), both at the same workgroup-uniform
/// offset; B from the vec4 storage view `b4`.
pub fn cpu_ubo2() -> String {
    let (tm, q) = (UBO2_TM, UBO2_TN / 4);
    let h = tm / 2;
    let mut o = String::new();
    w!(o, "@compute @workgroup_size(WG)");
    w!(o, "fn cpu_ubo2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {{");
    w!(o, "    let r0 = wid.y * {h}u;");
    w!(o, "    let bq = (wid.x * WG + lid.x) * {q}u;");
    w!(o, "    let lda = p.s0;");
    w!(o, "    let ldb = p.s1;");
    w!(o, "    let kk = p.k;");
    for r in 0..h {
        w!(o, "    let ar{r} = (r0 + {r}u) * lda;");
    }
    k_loop(&mut o, tm, q, false, |r| format!("{}[ar{} + k4]", if r < h { "aw" } else { "aw2" }, r % h));
    for half in 0..2 {
        w!(o, "    var t{half}: array<vec4<f32>, {}>;", h * q);
        for r in 0..h {
            row(&mut o, "    ", q, |j| format!("t{half}[{}] = c{}_{j};", r * q + j, r + h * half));
        }
    }
    w!(o, "    for (var i = 0u; i < {}u; i++) {{", h * q);
    w!(o, "        store4(p.s2 + r0 + i / {q}u, (bq + i % {q}u) * 4u, t0[i]);");
    w!(o, "        store4(p.s2 + p.s3 + r0 + i / {q}u, (bq + i % {q}u) * 4u, t1[i]);");
    w!(o, "    }}");
    w!(o, "}}");
    o
}

/// The accumulators of a `tm` x `q` vec4 tile and the K loop that updates
/// them 4 K steps at a time; `a_load(r)` is the vec4 of A row `r` at `k4`,
/// and `b_comment` adds the comment on B rows past K (`cpu_nn` has it).
fn k_loop(o: &mut String, tm: usize, q: usize, b_comment: bool, a_load: impl Fn(usize) -> String) {
    for r in 0..tm {
        row(o, "    ", q, |j| format!("var c{r}_{j} = vec4<f32>();"));
    }
    w!(o, "    let z = vec4<f32>();");
    w!(o, "    let k4n = (kk + 3u) / 4u;");
    w!(o, "    for (var k4 = 0u; k4 < k4n; k4++) {{");
    w!(o, "        let k = k4 * 4u;");
    w!(o, "        let kb = k * ldb + bq;");
    if b_comment {
        w!(o, "        // B rows k..k+3; rows past K (last step when K % 4 != 0) read as zero.");
    }
    for u in 0..4 {
        for j in 0..q {
            if u == 0 {
                w!(o, "        let bv{u}_{j} = b4[kb + {j}u];");
            } else {
                w!(o, "        let bv{u}_{j} = select(z, b4[kb + {u}u * ldb + {j}u], k + {u}u < kk);");
            }
        }
    }
    for r in 0..tm {
        w!(o, "        let av{r} = {};", a_load(r));
    }
    for r in 0..tm {
        for (u, comp) in "xyzw".chars().enumerate() {
            row(o, "        ", q, |j| format!("c{r}_{j} = fma(vec4<f32>(av{r}.{comp}), bv{u}_{j}, c{r}_{j});"));
        }
    }
    w!(o, "    }}");
}

/// One line: `indent`, then `item(j)` for j in 0..q, separated by spaces.
fn row(o: &mut String, indent: &str, q: usize, item: impl Fn(usize) -> String) {
    let items: Vec<String> = (0..q).map(item).collect();
    w!(o, "{indent}{}", items.join(" "));
}
