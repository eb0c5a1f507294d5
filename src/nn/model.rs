//! A model = an architecture plus its parameters on the GPU.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::arch::{Arch, Layer};
use super::layers;
use super::checkpoint::{self, Checkpoint};
use crate::autograd::{Graph, Var};
use crate::gpu::Gpu;
use crate::tensor::Tensor;

pub struct Param {
    pub name: String,
    pub tensor: Tensor,
}

pub struct Model {
    pub arch: Arch,
    pub params: Vec<Param>,
}

impl Model {
    /// PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
    /// Linear and Conv2d weights and biases.
    pub fn init(gpu: &Arc<Gpu>, arch: Arch, seed: u64) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = arch
            .params()
            .into_iter()
            .map(|(name, shape, fan_in)| {
                let bound = 1.0 / (fan_in as f32).sqrt();
                let data: Vec<f32> =
                    (0..shape.iter().product::<usize>()).map(|_| rng.random_range(-bound..bound)).collect();
                Param { name, tensor: gpu.upload(&data, &shape) }
            })
            .collect();
        Model { arch, params }
    }

    pub fn load(gpu: &Arc<Gpu>, arch: Arch, path: &Path) -> Result<Model> {
        let ck = Checkpoint::load(path)?;
        let mut params = Vec::new();
        for (name, shape, _) in arch.params() {
            let data = ck.get(&name, &shape)?;
            params.push(Param { name, tensor: gpu.upload(&data, &shape) });
        }
        let used: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let extra = ck.unused(&used);
        if !extra.is_empty() {
            bail!(
                "{}: tensors {:?} are not part of --arch {} (is this a checkpoint of another architecture?)",
                path.display(),
                extra,
                arch.spec
            );
        }
        Ok(Model { arch, params })
    }

    pub fn save(&self, gpu: &Gpu, path: &Path, mut metadata: BTreeMap<String, String>) -> Result<()> {
        metadata.insert("arch".into(), self.arch.spec.clone());
        let host: Vec<(String, Vec<usize>, Vec<f32>)> =
            self.params.iter().map(|p| (p.name.clone(), p.tensor.shape().to_vec(), gpu.read(&p.tensor))).collect();
        let refs: Vec<(String, Vec<usize>, &[f32])> =
            host.iter().map(|(n, s, d)| (n.clone(), s.clone(), d.as_slice())).collect();
        checkpoint::save(path, &refs, &metadata)
    }

    /// Put the parameters on a tape (as leaves that require gradients when
    /// `trainable`).
    pub fn bind(&self, g: &mut Graph, trainable: bool) -> Vec<Var> {
        self.params.iter().map(|p| g.leaf(p.tensor.clone(), trainable)).collect()
    }

    /// Logits [N, classes] for images x [N, C, H, W] (or [N, C*H*W]).
    pub fn forward(&self, g: &mut Graph, x: Var, params: &[Var]) -> Var {
        let [c, hh, ww] = self.arch.input;
        let n = g.value(x).shape()[0];
        let mut h = g.reshape(x, &[n, c, hh, ww]);
        let mut p = params.iter();
        for layer in &self.arch.layers {
            h = match layer {
                Layer::Flatten => g.flatten(h),
                Layer::Relu => g.relu(h),
                Layer::Linear { .. } => {
                    let (w, b) = (*p.next().unwrap(), *p.next().unwrap());
                    g.linear(h, w, b)
                }
                Layer::Conv2d { stride, pad, .. } => {
                    let (w, b) = (*p.next().unwrap(), *p.next().unwrap());
                    layers::conv2d(g, h, w, b, *stride, *pad)
                }
                Layer::MaxPool { k, stride } => layers::max_pool(g, h, *k, *stride, 0),
                Layer::AvgPool { k, stride } => layers::avg_pool(g, h, *k, *stride, 0),
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
