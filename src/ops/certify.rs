//! Host side of shaders/certify.wgsl: one sweep of the batched mixing method
//! over bipartite certificate matrices sharing the weight W (see the shader
//! header for the layout). The two products are `ops::gemm`.

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::ops::gemm::{self, NN, TN};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    struct Params for crate::gpu::kernels::CERTIFY_WGSL {
        m: u32,
        n: u32,
        r: u32,
        pairs: u32,
        off: u32,
        copies: u32,
        cols: u32,
        _pad: u32,
    }
}

/// The GPU state of a batch of pair problems.
pub struct MixState {
    /// W [m, n]
    pub w: Tensor,
    /// a [pairs, m]
    pub a: Tensor,
    /// b [n]
    pub b: Tensor,
    /// left factors [rows, pairs·r]
    pub vl: Tensor,
    /// right factors [copies·n, pairs·r]
    pub vr: Tensor,
    /// ‖(B V_right)_i‖ per pair and left row after the last sweep [pairs, rows]
    pub cl: Tensor,
    x: Tensor,
    y: Tensor,
    s: Tensor,
    z: Tensor,
    p: Params,
}

impl MixState {
    /// Upload a batch: `w` m×n, `a` pairs×m, `b` n, initial factors `vl`
    /// (rows×pairs·r) and `vr` (copies·n×pairs·r), rows = m + `const_row`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Arc<Gpu>,
        (m, n, r, pairs, copies): (usize, usize, usize, usize, usize),
        const_row: bool,
        w: &[f32],
        a: &[f32],
        b: &[f32],
        vl: &[f32],
        vr: &[f32],
    ) -> MixState {
        let cols = pairs * r;
        let rows = m + const_row as usize;
        MixState {
            w: gpu.upload(w, &[m, n]),
            a: gpu.upload(a, &[pairs, m]),
            b: gpu.upload(b, &[n]),
            vl: gpu.upload(vl, &[rows, cols]),
            vr: gpu.upload(vr, &[copies * n, cols]),
            cl: gpu.zeros(&[pairs, rows]),
            x: gpu.alloc(&[n, cols]),
            y: gpu.alloc(&[m, cols]),
            s: gpu.alloc(&[m, cols]),
            z: gpu.alloc(&[n, cols]),
            p: Params {
                m: m as u32,
                n: n as u32,
                r: r as u32,
                pairs: pairs as u32,
                off: const_row as u32,
                copies: copies as u32,
                cols: cols as u32,
                _pad: 0,
            },
        }
    }

    /// Record one sweep: left ← normalize(B V_right), right ← normalize(Bᵀ V_left).
    pub fn sweep(&self, gpu: &Arc<Gpu>) {
        let p = &self.p;
        let (m, n, cols, pairs) = (p.m as usize, p.n as usize, p.cols as usize, p.pairs as usize);
        gpu.dispatch(&k::CERTIFY_RIGHT_SUM, p, &[&self.b, &self.vr, &self.x], groups_1d(n * cols, 64));
        gemm::gemm_into(gpu, &self.w, &self.x, NN, None, false, &self.y);
        if p.off == 1 {
            gpu.dispatch(&k::CERTIFY_LEFT_CONST, p, &[&self.a, &self.y, &self.vl], groups_1d(cols, 64));
            gpu.dispatch(&k::CERTIFY_LEFT_CONST_NORM, p, &[&self.vl, &self.cl], groups_1d(pairs, 64));
        }
        gpu.dispatch(&k::CERTIFY_LEFT_UPDATE, p, &[&self.a, &self.y, &self.vl, &self.cl], groups_1d(m * pairs, 64));
        gpu.dispatch(&k::CERTIFY_LEFT_T, p, &[&self.a, &self.vl, &self.s], groups_1d(m * cols, 64));
        gemm::gemm_into(gpu, &self.w, &self.s, TN, None, false, &self.z);
        gpu.dispatch(&k::CERTIFY_RIGHT_UPDATE, p, &[&self.b, &self.z, &self.vr], groups_1d(n * pairs, 64));
    }

    /// ⟨P_k, V Vᵀ⟩ per pair after the last sweep's left update
    /// (2·Σ_i ‖(B V_right)_i‖; reads back).
    pub fn objectives(&self, gpu: &Gpu) -> Vec<f64> {
        let rows = (self.p.m + self.p.off) as usize;
        let cl = gpu.read(&self.cl);
        cl.chunks(rows).map(|c| 2.0 * c.iter().map(|&x| x as f64).sum::<f64>()).collect()
    }
}
