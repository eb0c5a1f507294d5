//! Named architectures: `mlp:784-500-10`, `mlp:784-H1-H2-...-10`, `lenet`,
//! `lenet:3x32x32`. Parameter names and layouts follow PyTorch
//! (`fc1.weight` is [out, in], `conv1.weight` is [out, in, kh, kw]).

use anyhow::{bail, Context, Result};

#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Flatten,
    /// Parameters `{name}.weight` [out, inp] and `{name}.bias` [out].
    Linear { name: String, inp: usize, out: usize },
    Relu,
    /// Parameters `{name}.weight` [out, inp, k, k] and `{name}.bias` [out].
    Conv2d { name: String, inp: usize, out: usize, k: usize, stride: usize, pad: usize },
    MaxPool { k: usize, stride: usize },
    AvgPool { k: usize, stride: usize },
}

#[derive(Clone, Debug)]
pub struct Arch {
    /// The spec as the user wrote it.
    pub spec: String,
    /// C, H, W of one input image.
    pub input: [usize; 3],
    pub classes: usize,
    pub layers: Vec<Layer>,
}

pub const KNOWN: &str = "mlp:784-H-10, mlp:784-H1-H2-...-10, lenet (1x28x28), lenet:3x32x32";

impl Arch {
    pub fn parse(spec: &str) -> Result<Arch> {
        match spec {
            "lenet" | "lenet:1x28x28" => return Ok(Self::lenet(spec, [1, 28, 28])),
            "lenet:3x32x32" => return Ok(Self::lenet(spec, [3, 32, 32])),
            _ => {}
        }
        let Some(rest) = spec.strip_prefix("mlp:") else {
            bail!("--arch {spec:?}: unknown architecture (known: {KNOWN})");
        };
        let sizes: Vec<usize> = rest
            .split('-')
            .map(|s| s.parse::<usize>().ok().filter(|&v| v > 0))
            .collect::<Option<_>>()
            .with_context(|| format!("--arch {spec:?}: layer sizes must be positive integers, like mlp:784-500-10"))?;
        if sizes.len() < 2 {
            bail!("--arch {spec:?}: an MLP needs at least input and output sizes, like mlp:784-500-10");
        }
        let input = match sizes[0] {
            784 => [1, 28, 28],
            3072 => [3, 32, 32],
            n => [1, 1, n],
        };
        let mut layers = vec![Layer::Flatten];
        for i in 0..sizes.len() - 1 {
            if i > 0 {
                layers.push(Layer::Relu);
            }
            layers.push(Layer::Linear { name: format!("fc{}", i + 1), inp: sizes[i], out: sizes[i + 1] });
        }
        Ok(Arch { spec: spec.to_string(), input, classes: *sizes.last().unwrap(), layers })
    }

    /// LeNet-5 with ReLU and max pooling: conv5-6, pool, conv5-16, pool,
    /// fc120, fc84, fc10. A 28×28 input gets padding 2 on conv1 so both
    /// input sizes reach 16×5×5 before the dense layers.
    fn lenet(spec: &str, input: [usize; 3]) -> Arch {
        let pad = if input[1] == 28 { 2 } else { 0 };
        let conv = |name: &str, inp, out, pad| Layer::Conv2d { name: name.into(), inp, out, k: 5, stride: 1, pad };
        let fc = |name: &str, inp, out| Layer::Linear { name: name.into(), inp, out };
        let layers = vec![
            conv("conv1", input[0], 6, pad),
            Layer::Relu,
            Layer::MaxPool { k: 2, stride: 2 },
            conv("conv2", 6, 16, 0),
            Layer::Relu,
            Layer::MaxPool { k: 2, stride: 2 },
            Layer::Flatten,
            fc("fc1", 400, 120),
            Layer::Relu,
            fc("fc2", 120, 84),
            Layer::Relu,
            fc("fc3", 84, 10),
        ];
        Arch { spec: spec.to_string(), input, classes: 10, layers }
    }

    /// (name, shape, fan_in) of every parameter, in layer order.
    pub fn params(&self) -> Vec<(String, Vec<usize>, usize)> {
        let mut out = Vec::new();
        for l in &self.layers {
            match l {
                Layer::Linear { name, inp, out: o } => {
                    out.push((format!("{name}.weight"), vec![*o, *inp], *inp));
                    out.push((format!("{name}.bias"), vec![*o], *inp));
                }
                Layer::Conv2d { name, inp, out: o, k, .. } => {
                    let fan_in = inp * k * k;
                    out.push((format!("{name}.weight"), vec![*o, *inp, *k, *k], fan_in));
                    out.push((format!("{name}.bias"), vec![*o], fan_in));
                }
                _ => {}
            }
        }
        out
    }

    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }
}
