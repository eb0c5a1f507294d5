//! Optimisers over a model's parameters, with state kept on the GPU.

use std::sync::Arc;

use serde::Serialize;

use super::model::Model;
use crate::gpu::Gpu;
use crate::ops::optim as k;
use crate::tensor::Tensor;

crate::names::named_enum! {
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimKind {
    /// SGD with momentum (PyTorch semantics).
    Sgd,
    /// Adam (PyTorch semantics, L2 weight decay).
    Adam,
}
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct OptimConfig {
    pub kind: OptimKind,
    pub lr: f32,
    pub momentum: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

impl OptimConfig {
    pub fn new(kind: OptimKind, lr: f32) -> Self {
        OptimConfig { kind, lr, momentum: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

pub struct Optimizer {
    pub cfg: OptimConfig,
    /// Steps taken (Adam's t).
    pub t: u32,
    /// First moment (SGD momentum buffer), per parameter.
    pub m: Vec<Tensor>,
    /// Second moment (Adam only).
    pub v: Vec<Tensor>,
}

impl Optimizer {
    pub fn new(gpu: &Arc<Gpu>, model: &Model, cfg: OptimConfig) -> Self {
        let m = model.params.iter().map(|p| gpu.zeros(p.tensor.shape())).collect();
        let v = match cfg.kind {
            OptimKind::Adam => model.params.iter().map(|p| gpu.zeros(p.tensor.shape())).collect(),
            OptimKind::Sgd => Vec::new(),
        };
        Optimizer { cfg, t: 0, m, v }
    }

    /// One update of every parameter with its gradient, at learning rate `lr`.
    pub fn step(&mut self, gpu: &Gpu, model: &Model, grads: &[Tensor], lr: f32) {
        assert_eq!(grads.len(), model.params.len(), "one gradient per parameter");
        self.t += 1;
        let c = &self.cfg;
        for (i, (p, g)) in model.params.iter().zip(grads).enumerate() {
            match c.kind {
                OptimKind::Sgd => k::sgd(gpu, &p.tensor, g, &self.m[i], lr, c.momentum, c.weight_decay),
                OptimKind::Adam => k::adam(
                    gpu,
                    &p.tensor,
                    g,
                    &self.m[i],
                    &self.v[i],
                    self.t,
                    lr,
                    (c.momentum, c.beta2),
                    c.eps,
                    c.weight_decay,
                ),
            }
        }
    }

    /// State tensors with names for checkpoints: `m.{param}`, `v.{param}`.
    pub fn state(&self, model: &Model) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, p) in model.params.iter().enumerate() {
            out.push((format!("m.{}", p.name), self.m[i].clone()));
            if let Some(v) = self.v.get(i) {
                out.push((format!("v.{}", p.name), v.clone()));
            }
        }
        out
    }
}

/// Learning-rate schedule, evaluated once per epoch (PyTorch's StepLR and
/// CosineAnnealingLR with eta_min 0, stepped per epoch).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// base × gamma^floor(epoch / step_size).
    Step { step_size: usize, gamma: f32 },
    /// base × (1 + cos(π · epoch / epochs)) / 2 over `epochs` epochs.
    Cosine { epochs: usize },
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::Step { step_size, gamma } => write!(f, "step: x{gamma} every {step_size} epochs"),
            Schedule::Cosine { epochs } => write!(f, "cosine over {epochs} epochs"),
        }
    }
}

/// The learning rate for 0-based `epoch` (a pure function of its inputs, so
/// `--resume` picks up the same rate).
pub fn lr_at(base: f32, schedule: &Schedule, epoch: usize) -> f32 {
    let b = base as f64;
    let lr = match *schedule {
        Schedule::Constant => b,
        Schedule::Step { step_size, gamma } => b * (gamma as f64).powi((epoch / step_size.max(1)) as i32),
        Schedule::Cosine { epochs } => {
            let t = epoch.min(epochs) as f64 / epochs.max(1) as f64;
            b * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
        }
    };
    lr as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = Schedule::Constant;
        assert_eq!((0..5).map(|e| lr_at(0.1, &c, e)).collect::<Vec<_>>(), [0.1; 5]);
        let s = Schedule::Step { step_size: 2, gamma: 0.5 };
        assert_eq!((0..6).map(|e| lr_at(0.8, &s, e)).collect::<Vec<_>>(), [0.8, 0.8, 0.4, 0.4, 0.2, 0.2]);
        let cos = Schedule::Cosine { epochs: 4 };
        let v: Vec<f32> = (0..5).map(|e| lr_at(1.0, &cos, e)).collect();
        let want = [1.0, 0.853_553_4, 0.5, 0.146_446_6, 0.0];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{v:?}");
        }
        // past the end stays at 0; a zero step size is treated as 1
        assert_eq!(lr_at(1.0, &cos, 9), 0.0);
        assert!((lr_at(1.0, &Schedule::Step { step_size: 0, gamma: 0.1 }, 2) - 0.01).abs() < 1e-8);
    }
}
