//! Named architectures: `mlp:784-500-10`, `mlp:784-H1-H2-...-10`.
//! Parameter names and layouts follow PyTorch (`fc1.weight` is [out, in]).

use anyhow::{bail, Context, Result};

#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Flatten,
    /// Parameters `{name}.weight` [out, inp] and `{name}.bias` [out].
    Linear { name: String, inp: usize, out: usize },
    Relu,
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

pub const KNOWN: &str = "mlp:784-H-10, mlp:784-H1-H2-...-10";

impl Arch {
    pub fn parse(spec: &str) -> Result<Arch> {
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

    /// (name, shape, fan_in) of every parameter, in layer order.
    pub fn params(&self) -> Vec<(String, Vec<usize>, usize)> {
        let mut out = Vec::new();
        for l in &self.layers {
            if let Layer::Linear { name, inp, out: o } = l {
                out.push((format!("{name}.weight"), vec![*o, *inp], *inp));
                out.push((format!("{name}.bias"), vec![*o], *inp));
            }
        }
        out
    }

    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }
}
