//! All pair certificates of a network at once: the mixing method batched on
//! the GPU over every pair (two GEMMs with the shared W per sweep,
//! ops::certify), the verified f64 certificate of each pair on the host
//! (bipartite.rs) once its objective settles. An f64 CPU path (one
//! `Bipartite::solve_cpu` per pair) serves as the reference.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::bipartite::Bipartite;
use super::linalg;
use super::sdp::{default_rank, gap_ok, SdpOptions};
use crate::gpu::Gpu;
use crate::ops::certify::MixState;

/// One pair's certificate.
#[derive(Clone, Debug, Serialize)]
pub struct PairResult {
    pub i: usize,
    pub j: usize,
    pub lower: f64,
    pub upper: f64,
    pub gap: f64,
    pub sweeps: usize,
    /// Seconds from the start of the batch until this pair's certificate was final.
    pub seconds: f64,
    pub converged: bool,
    #[serde(skip)]
    pub c: Vec<f64>,
}

/// Where a batch's time went.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BatchStats {
    /// Sweeps (GPU, including the read-backs of objectives and factors).
    pub sweep_seconds: f64,
    /// Verified f64 certificates on the host.
    pub certificate_seconds: f64,
    /// Host certificates computed (pairs × attempts).
    pub certificates: usize,
    pub sweeps: usize,
}

/// Where the sweeps run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    /// Batched f32 sweeps on the adapter, f64 certificates on the host.
    Gpu,
    /// f64 sweeps on the host, one pair per thread.
    Cpu,
}

fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8)
}

/// Run `f` on every index in `idx` on a few threads; results in `idx` order.
fn par_map<T: Send>(idx: &[usize], f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let nt = threads().min(idx.len()).max(1);
    let mut out: Vec<Option<T>> = (0..idx.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let f = &f;
        let chunks: Vec<_> = out.chunks_mut(idx.len().div_ceil(nt)).zip(idx.chunks(idx.len().div_ceil(nt))).collect();
        for (o, ix) in chunks {
            s.spawn(move || {
                for (slot, &k) in o.iter_mut().zip(ix) {
                    *slot = Some(f(k));
                }
            });
        }
    });
    out.into_iter().map(|x| x.expect("worker result")).collect()
}

/// f64 reference: each pair solved on its own (threads over pairs).
pub fn solve_cpu(problems: &[Bipartite], ids: &[(usize, usize)], opts: &SdpOptions) -> Vec<PairResult> {
    let start = Instant::now();
    let idx: Vec<usize> = (0..problems.len()).collect();
    par_map(&idx, |k| {
        let r = problems[k].solve_cpu(opts);
        PairResult {
            i: ids[k].0,
            j: ids[k].1,
            lower: r.lower,
            upper: r.upper,
            gap: r.gap,
            sweeps: r.sweeps,
            seconds: start.elapsed().as_secs_f64(),
            converged: r.converged,
            c: r.c,
        }
    })
}

/// Batched GPU sweeps over problems that share W, b, left kind and copies
/// (only `a` differs), with verified f64 certificates on the host.
pub fn solve_gpu(
    gpu: &Arc<Gpu>,
    problems: &[Bipartite],
    ids: &[(usize, usize)],
    opts: &SdpOptions,
) -> (Vec<PairResult>, BatchStats) {
    let start = Instant::now();
    let mut stats = BatchStats::default();
    let pr = problems[0];
    let (m, n, copies, rows, cols_r) = (pr.m, pr.n, pr.copies, pr.rows(), pr.cols());
    let np = problems.len();
    let r = opts.rank.unwrap_or_else(|| default_rank(pr.dim())).max(1);
    let tot = np * r;
    // initial factors: seeded unit rows per pair, interleaved by pair columns
    let mut vl0 = vec![0f32; rows * tot];
    let mut vr0 = vec![0f32; cols_r * tot];
    for k in 0..np {
        let l = linalg::random_unit_rows(rows, r, opts.seed.wrapping_add(2 * k as u64));
        let rr = linalg::random_unit_rows(cols_r, r, opts.seed.wrapping_add(2 * k as u64 + 1));
        for i in 0..rows {
            for j in 0..r {
                vl0[i * tot + k * r + j] = l[i * r + j] as f32;
            }
        }
        for i in 0..cols_r {
            for j in 0..r {
                vr0[i * tot + k * r + j] = rr[i * r + j] as f32;
            }
        }
    }
    let w: Vec<f32> = pr.w.iter().map(|&x| x as f32).collect();
    let a: Vec<f32> = problems.iter().flat_map(|p| p.a.iter().map(|&x| x as f32)).collect();
    let b: Vec<f32> = pr.b.iter().map(|&x| x as f32).collect();
    let st = MixState::new(gpu, (m, n, r, np, copies), rows > m, &w, &a, &b, &vl0, &vr0);
    let b1s: Vec<Vec<f64>> = problems.iter().map(|p| p.b1()).collect();
    let mut done: Vec<Option<PairResult>> = vec![None; np];
    let mut last_obj = vec![f64::NEG_INFINITY; np];
    // relative change per check window below which a pair is certified;
    // shrinks ×4 after each certificate that missed the tolerance
    let mut thresh = vec![0.05 * opts.tol; np];
    let check = opts.check_every.max(1);
    let mut sweeps = 0;
    loop {
        st.sweep(gpu);
        sweeps += 1;
        let last = sweeps >= opts.max_sweeps;
        if sweeps % check != 0 && !last {
            continue;
        }
        let obj = st.objectives(gpu);
        let cand: Vec<usize> = (0..np)
            .filter(|&k| done[k].is_none())
            .filter(|&k| last || (obj[k] - last_obj[k]).abs() <= thresh[k] * obj[k].abs().max(1e-300))
            .collect();
        last_obj.copy_from_slice(&obj);
        if !cand.is_empty() {
            let vl = gpu.read(&st.vl);
            let vr = gpu.read(&st.vr);
            let gather = |v: &[f32], nrows: usize, k: usize| -> Vec<f64> {
                let mut out = vec![0.0; nrows * r];
                for i in 0..nrows {
                    for j in 0..r {
                        out[i * r + j] = v[i * tot + k * r + j] as f64;
                    }
                }
                out
            };
            let tc = Instant::now();
            stats.certificates += cand.len();
            let certs = par_map(&cand, |k| {
                let (mut l, mut rr) = (gather(&vl, rows, k), gather(&vr, cols_r, k));
                problems[k].certificate(&b1s[k], &mut l, &mut rr, r, opts.tol)
            });
            stats.certificate_seconds += tc.elapsed().as_secs_f64();
            let now = start.elapsed().as_secs_f64();
            for (&k, (lower, upper, c)) in cand.iter().zip(certs) {
                let converged = gap_ok(upper - lower, lower, opts.tol);
                if converged || last {
                    done[k] = Some(PairResult {
                        i: ids[k].0,
                        j: ids[k].1,
                        lower,
                        upper,
                        gap: upper - lower,
                        sweeps,
                        seconds: now,
                        converged,
                        c,
                    });
                } else {
                    thresh[k] *= 0.25;
                }
            }
        }
        if done.iter().all(|d| d.is_some()) {
            break;
        }
    }
    stats.sweeps = sweeps;
    stats.sweep_seconds = start.elapsed().as_secs_f64() - stats.certificate_seconds;
    (done.into_iter().map(|d| d.expect("every pair finished")).collect(), stats)
}
