//! Optimisers over a model's parameters, with state kept on the GPU.

use std::sync::Arc;

use serde::Serialize;

use super::model::Model;
use crate::gpu::Gpu;
use crate::ops::optim as k;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimKind {
    /// SGD with momentum (PyTorch semantics).
    Sgd,
    /// Adam (PyTorch semantics, L2 weight decay).
    Adam,
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
