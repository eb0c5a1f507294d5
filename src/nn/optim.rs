//! Optimisers over parameter sets (one model's, several models', or free
//! vectors beside them), with state kept on the GPU.

use std::sync::Arc;

use serde::Serialize;

use super::model::{Model, Param};
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

/// A set of trainable parameters the optimiser and `fit` work on: one
/// model's, several models', or a model's plus free vectors (dual
/// variables), in a fixed order. Names must be unique within a set (they
/// key the optimiser state in checkpoints).
pub trait ParamSet {
    fn param_list(&self) -> Vec<&Param>;
}

impl ParamSet for Model {
    fn param_list(&self) -> Vec<&Param> {
        self.params.iter().collect()
    }
}

impl ParamSet for [&Param] {
    fn param_list(&self) -> Vec<&Param> {
        self.to_vec()
    }
}

impl ParamSet for Vec<&Param> {
    fn param_list(&self) -> Vec<&Param> {
        self.clone()
    }
}

impl ParamSet for [Param] {
    fn param_list(&self) -> Vec<&Param> {
        self.iter().collect()
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
    /// Zeroed state for every parameter of `set`.
    pub fn new<S: ParamSet + ?Sized>(gpu: &Arc<Gpu>, set: &S, cfg: OptimConfig) -> Self {
        let params = set.param_list();
        let m = params.iter().map(|p| gpu.zeros(p.tensor.shape())).collect();
        let v = match cfg.kind {
            OptimKind::Adam => params.iter().map(|p| gpu.zeros(p.tensor.shape())).collect(),
            OptimKind::Sgd => Vec::new(),
        };
        Optimizer { cfg, t: 0, m, v }
    }

    /// One update of every parameter of `set` (the set it was made for)
    /// with its gradient, at learning rate `lr`.
    pub fn step<S: ParamSet + ?Sized>(&mut self, gpu: &Gpu, set: &S, grads: &[Tensor], lr: f32) {
        let params = set.param_list();
        assert_eq!(grads.len(), params.len(), "one gradient per parameter");
        assert_eq!(self.m.len(), params.len(), "optimiser made for another parameter set");
        self.t += 1;
        let c = &self.cfg;
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
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
    pub fn state<S: ParamSet + ?Sized>(&self, set: &S) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, p) in set.param_list().iter().enumerate() {
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
            Schedule::Constant => f.write_str("constant"),
            Schedule::Step { step_size, gamma } => write!(f, "step: x{gamma} every {step_size} epochs"),
            Schedule::Cosine { epochs } => write!(f, "cosine over {epochs} epochs"),
        }
    }
}

/// `--schedule`: the shape of a [`Schedule`] before the epoch count is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    #[default]
    Constant,
    Step,
    Cosine,
}

impl ScheduleKind {
    pub const NAMES: [&'static str; 3] = ["constant", "step", "cosine"];

    /// The schedule over `epochs` epochs (`step_size`, `gamma` for Step).
    pub fn schedule(self, epochs: usize, step_size: usize, gamma: f32) -> anyhow::Result<Schedule> {
        Ok(match self {
            ScheduleKind::Constant => Schedule::Constant,
            ScheduleKind::Step => {
                if step_size == 0 {
                    anyhow::bail!("--step-size must be at least 1");
                }
                if !(gamma.is_finite() && gamma > 0.0) {
                    anyhow::bail!("--gamma {gamma} must be a positive number");
                }
                Schedule::Step { step_size, gamma }
            }
            ScheduleKind::Cosine => Schedule::Cosine { epochs },
        })
    }
}

impl std::str::FromStr for ScheduleKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "constant" => ScheduleKind::Constant,
            "step" => ScheduleKind::Step,
            "cosine" => ScheduleKind::Cosine,
            _ => anyhow::bail!("schedule {s:?}: expected one of {}", Self::NAMES.join(", ")),
        })
    }
}

impl std::fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::NAMES[*self as usize])
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
