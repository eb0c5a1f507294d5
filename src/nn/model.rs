//! A model = an architecture plus its parameters on the GPU.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::arch::{Arch, Init, Layer};
use super::checkpoint::{self, Checkpoint};
use super::layers;
use crate::autograd::{Graph, Var};
use crate::gpu::Gpu;
use crate::ops::lrn::Lrn;
use crate::tensor::Tensor;

pub struct Param {
    pub name: String,
    pub tensor: Tensor,
}

pub struct Model {
    pub arch: Arch,
    /// Trainable parameters, in `Arch::params` order (what `bind` puts on
    /// the tape and the optimiser updates).
    pub params: Vec<Param>,
    /// State saved and loaded with the parameters but not trained: the
    /// BatchNorm running statistics, in `Arch::buffers` order. Updated in
    /// place by a `Mode::Train` forward.
    pub buffers: Vec<Param>,
}

/// Train or eval behaviour of BatchNorm and Dropout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Running statistics, no dropout (what attacks and evaluation use).
    Eval,
    /// Batch statistics (running statistics updated in place) and dropout
    /// with masks derived from `seed` (vary it per step: `train_epoch` uses
    /// `step_seed(run seed, global step)`).
    Train { seed: u64 },
}

impl Model {
    /// PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
    /// Linear and Conv2d weights and biases; BatchNorm weight 1, bias 0,
    /// running mean 0, running variance 1.
    pub fn init(gpu: &Arc<Gpu>, arch: Arch, seed: u64) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = arch
            .param_inits()
            .into_iter()
            .map(|(name, shape, init)| {
                let n = shape.iter().product::<usize>();
                let data: Vec<f32> = match init {
                    Init::Uniform(bound) => (0..n).map(|_| rng.random_range(-bound..bound)).collect(),
                    Init::Const(v) => vec![v; n],
                };
                Param { name, tensor: gpu.upload(&data, &shape) }
            })
            .collect();
        let buffers = Self::init_buffers(gpu, &arch);
        Model { arch, params, buffers }
    }

    /// A model from parameters alone (buffers at their initial values).
    pub fn from_params(gpu: &Arc<Gpu>, arch: Arch, params: Vec<Param>) -> Model {
        let buffers = Self::init_buffers(gpu, &arch);
        Model { arch, params, buffers }
    }

    fn init_buffers(gpu: &Arc<Gpu>, arch: &Arch) -> Vec<Param> {
        arch.buffers()
            .into_iter()
            .map(|(name, shape, v)| {
                let n = shape.iter().product::<usize>();
                Param { name, tensor: gpu.upload(&vec![v; n], &shape) }
            })
            .collect()
    }

    /// Load parameters and buffers by name. PyTorch's int64
    /// `{bn}.num_batches_tracked` is accepted and ignored; any other tensor
    /// the architecture lacks is an error.
    pub fn load(gpu: &Arc<Gpu>, arch: Arch, path: &Path) -> Result<Model> {
        let ck = Checkpoint::load(path)?;
        let mut params = Vec::new();
        for (name, shape, _) in arch.params() {
            let data = ck.get(&name, &shape)?;
            let tensor = gpu.try_upload(&data, &shape).with_context(|| format!("{}: {name}", path.display()))?;
            params.push(Param { name, tensor });
        }
        let mut buffers = Vec::new();
        for (name, shape, _) in arch.buffers() {
            let data = ck.get(&name, &shape)?;
            buffers.push(Param { name, tensor: gpu.upload(&data, &shape) });
        }
        let ignored = arch.ignored_tensors();
        let used: Vec<&str> =
            params.iter().chain(&buffers).map(|p| p.name.as_str()).chain(ignored.iter().map(|s| s.as_str())).collect();
        let extra = ck.unused(&used);
        if !extra.is_empty() {
            bail!(
                "{}: tensors {:?} are not part of --arch {} (is this a checkpoint of another architecture?)",
                path.display(),
                extra,
                arch.spec
            );
        }
        Ok(Model { arch, params, buffers })
    }

    /// Save parameters and buffers (safetensors, PyTorch names).
    pub fn save(&self, gpu: &Gpu, path: &Path, mut metadata: BTreeMap<String, String>) -> Result<()> {
        metadata.insert("arch".into(), self.arch.spec.clone());
        let host: Vec<(String, Vec<usize>, Vec<f32>)> = self
            .params
            .iter()
            .chain(&self.buffers)
            .map(|p| (p.name.clone(), p.tensor.shape().to_vec(), gpu.read(&p.tensor)))
            .collect();
        let refs: Vec<(String, Vec<usize>, &[f32])> =
            host.iter().map(|(n, s, d)| (n.clone(), s.clone(), d.as_slice())).collect();
        checkpoint::save(path, &refs, &metadata)
    }

    /// Put the parameters on a tape (as leaves that require gradients when
    /// `trainable`).
    pub fn bind(&self, g: &mut Graph, trainable: bool) -> Vec<Var> {
        self.params.iter().map(|p| g.leaf(p.tensor.clone(), trainable)).collect()
    }

    /// Logits [N, classes] for images x [N, C, H, W] (or [N, C*H*W]) in
    /// eval mode (running BatchNorm statistics, no dropout).
    pub fn forward(&self, g: &mut Graph, x: Var, params: &[Var]) -> Var {
        self.forward_mode(g, x, params, Mode::Eval)
    }

    /// Logits in train or eval mode. `Mode::Train` updates the BatchNorm
    /// running statistics in `self.buffers` in place.
    pub fn forward_mode(&self, g: &mut Graph, x: Var, params: &[Var], mode: Mode) -> Var {
        let [c, hh, ww] = self.arch.input;
        let n = g.value(x).shape()[0];
        let mut h = g.reshape(x, &[n, c, hh, ww]);
        let mut p = params.iter();
        let mut b = self.buffers.iter();
        let layers = &self.arch.layers;
        // a ReLU right after a Linear or a Conv2d runs in its epilogue
        let fused = |li: usize| {
            matches!(layers[li], Layer::Relu)
                && li > 0
                && matches!(layers[li - 1], Layer::Linear { .. } | Layer::Conv2d { .. })
        };
        let relu_next = |li: usize| li + 1 < layers.len() && fused(li + 1);
        for (li, layer) in layers.iter().enumerate() {
            h = match layer {
                Layer::Flatten => g.flatten(h),
                Layer::Relu if fused(li) => h,
                Layer::Relu => g.relu(h),
                Layer::Sigmoid => g.sigmoid(h),
                Layer::Unflatten { shape } => {
                    let n = g.value(h).shape()[0];
                    g.reshape(h, &[n, shape[0], shape[1], shape[2]])
                }
                Layer::Linear { .. } => {
                    let (w, b) = (*p.next().unwrap(), *p.next().unwrap());
                    if relu_next(li) {
                        g.linear_relu(h, w, b)
                    } else {
                        g.linear(h, w, b)
                    }
                }
                Layer::Conv2d { stride, pad, .. } => {
                    let (w, b) = (*p.next().unwrap(), *p.next().unwrap());
                    if relu_next(li) {
                        layers::conv2d_relu(g, h, w, b, *stride, *pad)
                    } else {
                        layers::conv2d(g, h, w, b, *stride, *pad)
                    }
                }
                Layer::MaxPool { k, stride } => layers::max_pool(g, h, *k, *stride, 0),
                Layer::AvgPool { k, stride } => layers::avg_pool(g, h, *k, *stride, 0),
                Layer::BatchNorm2d { .. } | Layer::BatchNorm1d { .. } => {
                    let (w, bias) = (*p.next().unwrap(), *p.next().unwrap());
                    let (rm, rv) = (&b.next().unwrap().tensor, &b.next().unwrap().tensor);
                    layers::batch_norm(g, h, w, bias, rm, rv, matches!(mode, Mode::Train { .. }))
                }
                Layer::Lrn { size, alpha, beta, k } => layers::lrn(g, h, &Lrn::new(*size, *alpha, *beta, *k)),
                Layer::Dropout { p: prob } => match mode {
                    Mode::Train { seed } if *prob > 0.0 => layers::dropout(g, h, *prob, layer_seed(seed, li)),
                    _ => h,
                },
                Layer::Normalize { mean, std } => layers::normalize(g, h, mean, std),
            };
        }
        h
    }

    /// Inference without gradients.
    pub fn logits(&self, gpu: &Arc<Gpu>, x: &Tensor) -> Tensor {
        let mut g = Graph::new(gpu);
        let params = self.bind(&mut g, false);
        let xv = g.leaf(x.clone(), false);
        let out = self.forward(&mut g, xv, &params);
        g.value(out).clone()
    }

    /// Check an input batch shape [N, C, H, W] or [N, C*H*W] against the arch.
    pub fn check_input(&self, what: &str, shape: &[usize]) -> Result<()> {
        let per: usize = shape.iter().skip(1).product();
        if shape.len() < 2 || per != self.arch.input_len() {
            bail!(
                "{what}: shape {:?} does not fit --arch {} (expected N×{}×{}×{} or N×{})",
                shape,
                self.arch.spec,
                self.arch.input[0],
                self.arch.input[1],
                self.arch.input[2],
                self.arch.input_len()
            );
        }
        Ok(())
    }
}

/// Mix a run seed and a counter (SplitMix64 finaliser): distinct, stable
/// seeds per training step and per layer.
pub fn step_seed(seed: u64, step: u64) -> u64 {
    let mut z = seed ^ step.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn layer_seed(seed: u64, layer: usize) -> u64 {
    step_seed(seed, 0x1000_0000 + layer as u64)
}
