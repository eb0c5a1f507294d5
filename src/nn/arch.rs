//! Named architectures: `mlp:784-500-10`, `mlp:784-H1-H2-...-10`, `lenet`,
//! `lenet:3x32x32`, `alexnet-cifar`, `vgg-cifar`, `vgg-cifar:W`. Parameter
//! names and layouts follow PyTorch (`fc1.weight` is [out, in],
//! `conv1.weight` is [out, in, kh, kw], `bn1.running_mean` is [C]).

use anyhow::{bail, Context, Result};

#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Flatten,
    /// Parameters `{name}.weight` [out, inp] and `{name}.bias` [out].
    Linear {
        name: String,
        inp: usize,
        out: usize,
    },
    Relu,
    /// Parameters `{name}.weight` [out, inp, k, k] and `{name}.bias` [out].
    Conv2d {
        name: String,
        inp: usize,
        out: usize,
        k: usize,
        stride: usize,
        pad: usize,
    },
    MaxPool {
        k: usize,
        stride: usize,
    },
    AvgPool {
        k: usize,
        stride: usize,
    },
    /// `nn.BatchNorm2d(c)` on [N, C, H, W] (PyTorch defaults eps 1e-5,
    /// momentum 0.1): parameters `{name}.weight`, `{name}.bias` [c], buffers
    /// `{name}.running_mean`, `{name}.running_var` [c].
    BatchNorm2d {
        name: String,
        c: usize,
    },
    /// `nn.BatchNorm1d(c)` on [N, C]; same tensors as `BatchNorm2d`.
    BatchNorm1d {
        name: String,
        c: usize,
    },
    /// `nn.LocalResponseNorm(size, alpha, beta, k)` across channels.
    Lrn {
        size: usize,
        alpha: f32,
        beta: f32,
        k: f32,
    },
    /// Inverted dropout with drop probability `p` (identity in eval mode).
    Dropout {
        p: f32,
    },
    /// Elementwise logistic sigmoid (a mask network's output).
    Sigmoid,
    /// [N, C·H·W] -> [N, C, H, W] (a mask network's output, image-shaped).
    Unflatten {
        shape: [usize; 3],
    },
    /// Per-channel (x - mean[c]) / std[c] on the [0,1] input, no tensors:
    /// models take pixels in [0,1] so attacks work in pixel space.
    Normalize {
        mean: Vec<f32>,
        std: Vec<f32>,
    },
}

/// How a parameter or buffer starts out in `Model::init`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// U(-b, b) (PyTorch's Linear / Conv2d default, b = 1/sqrt(fan_in)).
    Uniform(f32),
    /// Every element equal to this value (BatchNorm: weight 1, bias 0,
    /// running_mean 0, running_var 1).
    Const(f32),
}

#[derive(Clone, Debug)]
pub struct Arch {
    /// The spec as the user wrote it.
    pub spec: String,
    /// C, H, W of one input image.
    pub input: [usize; 3],
    /// Output classes of a classifier; 0 for a mask network, whose output
    /// is image-shaped ([`Arch::is_mask`]).
    pub classes: usize,
    pub layers: Vec<Layer>,
}

pub const KNOWN: &str =
    "mlp:784-H-10, mlp:784-H1-H2-...-10, lenet (1x28x28), lenet:3x32x32, lenet:3x32x32:bn (a BatchNorm over every input pixel first), alexnet-cifar, vgg-cifar, vgg-cifar:W (widths / W), vgg-cifar:W:dS (dropout rates x S), mask:CxHxW-H1-...-Hn[:bn] (a mask network: MLP with an image-shaped sigmoid output; :bn standardises each input pixel first)";

/// CIFAR-10 training-set per-channel mean and standard deviation.
pub const CIFAR_MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
pub const CIFAR_STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

/// A conv layer's shapes at a batch size (what `bench conv` times).
pub struct ConvLayerShape {
    pub name: String,
    /// Input [N, C, H, W].
    pub x: [usize; 4],
    /// Weight [O, C, K, K].
    pub w: [usize; 4],
    pub stride: usize,
    pub pad: usize,
}

/// The conv layers of an architecture with their input shapes at `batch`,
/// walking the layers from the input up to the first Flatten / Linear.
pub fn conv_layers(arch: &Arch, batch: usize) -> Vec<ConvLayerShape> {
    use crate::ops::conv2d::out_size;
    let [c, h, w] = arch.input;
    let mut s = [batch, c, h, w];
    let mut out = Vec::new();
    for l in &arch.layers {
        match l {
            Layer::Conv2d { name, inp, out: o, k, stride, pad } => {
                out.push(ConvLayerShape {
                    name: name.clone(),
                    x: s,
                    w: [*o, *inp, *k, *k],
                    stride: *stride,
                    pad: *pad,
                });
                s = [s[0], *o, out_size(s[2], *k, *stride, *pad), out_size(s[3], *k, *stride, *pad)];
            }
            Layer::MaxPool { k, stride } | Layer::AvgPool { k, stride } => {
                s = [s[0], s[1], out_size(s[2], *k, *stride, 0), out_size(s[3], *k, *stride, 0)];
            }
            Layer::Unflatten { shape } => s = [s[0], shape[0], shape[1], shape[2]],
            Layer::Linear { .. } => break,
            _ => {}
        }
    }
    out
}

impl Arch {
    pub fn parse(spec: &str) -> Result<Arch> {
        match spec {
            "lenet" | "lenet:1x28x28" => return Ok(Self::lenet(spec, [1, 28, 28])),
            "lenet:3x32x32" => return Ok(Self::lenet(spec, [3, 32, 32])),
            "lenet:bn" | "lenet:1x28x28:bn" => return Ok(Self::lenet_input_bn(Self::lenet(spec, [1, 28, 28]))),
            "lenet:3x32x32:bn" => return Ok(Self::lenet_input_bn(Self::lenet(spec, [3, 32, 32]))),
            "alexnet-cifar" => return Ok(Self::alexnet_cifar(spec)),
            "vgg-cifar" => return Ok(Self::vgg_cifar(spec, 1, 1.0)),
            _ => {}
        }
        if let Some(rest) = spec.strip_prefix("vgg-cifar:") {
            let (w, scale) = match rest.split_once(":d") {
                Some((w, s)) => {
                    let s: f32 = s.parse().ok().filter(|s: &f32| (0.0..=1.0).contains(s)).with_context(|| {
                        format!("--arch {spec:?}: the dropout scale after :d must be a number in [0, 1], like vgg-cifar:8:d0.25")
                    })?;
                    (w, s)
                }
                None => (rest, 1.0),
            };
            let w: usize = w.parse().ok().filter(|&w: &usize| w > 0 && 64 % w == 0).with_context(|| {
                format!("--arch {spec:?}: the width divisor must be 1, 2, 4, 8, 16, 32 or 64, like vgg-cifar:8")
            })?;
            return Ok(Self::vgg_cifar(spec, w, scale));
        }
        if let Some(rest) = spec.strip_prefix("mask:") {
            return Self::mask(spec, rest);
        }
        let Some(rest) = spec.strip_prefix("mlp:") else {
            bail!("--arch {spec:?}: unknown architecture (known: {KNOWN})");
        };
        let sizes: Vec<usize> =
            rest.split('-').map(|s| s.parse::<usize>().ok().filter(|&v| v > 0)).collect::<Option<_>>().with_context(
                || format!("--arch {spec:?}: layer sizes must be positive integers, like mlp:784-500-10"),
            )?;
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

    /// `mask:CxHxW-H1-...-Hn`: a mask network (SPEC §5's LAN g): Flatten,
    /// fc1 (C·H·W → H1), ReLU, …, fc(n+1) (Hn → C·H·W), sigmoid, reshaped
    /// to C×H×W. Tensors `fc1`…`fc(n+1)` like an MLP's; no classes.
    /// `mask:CxHxW-H1-...-Hn:bn` puts a BatchNorm1d (`bn0`) over the C·H·W
    /// input pixels before fc1, so fc1 sees each pixel standardised rather
    /// than an image dominated by its per-pixel mean.
    fn mask(spec: &str, rest: &str) -> Result<Arch> {
        let usage =
            || format!("--arch {spec:?}: a mask network is mask:CxHxW-H1-...-Hn[:bn], like mask:3x32x32-1024-1024");
        let (rest, input_bn) = match rest.strip_suffix(":bn") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let mut parts = rest.split('-');
        let dims: Vec<usize> = parts
            .next()
            .unwrap_or("")
            .split('x')
            .map(|s| s.parse::<usize>().ok().filter(|&v| v > 0))
            .collect::<Option<_>>()
            .with_context(usage)?;
        let [c, h, w] = dims[..] else { bail!("{}", usage()) };
        let hidden: Vec<usize> =
            parts.map(|s| s.parse::<usize>().ok().filter(|&v| v > 0)).collect::<Option<_>>().with_context(usage)?;
        if hidden.is_empty() {
            bail!("{}: at least one hidden width", usage());
        }
        let d = c * h * w;
        let mut sizes = vec![d];
        sizes.extend(&hidden);
        sizes.push(d);
        let mut layers = vec![Layer::Flatten];
        if input_bn {
            layers.push(Layer::BatchNorm1d { name: "bn0".into(), c: d });
        }
        for i in 0..sizes.len() - 1 {
            if i > 0 {
                layers.push(Layer::Relu);
            }
            layers.push(Layer::Linear { name: format!("fc{}", i + 1), inp: sizes[i], out: sizes[i + 1] });
        }
        layers.extend([Layer::Sigmoid, Layer::Unflatten { shape: [c, h, w] }]);
        Ok(Arch { spec: spec.to_string(), input: [c, h, w], classes: 0, layers })
    }

    /// A mask network (image-shaped output in [0,1]) rather than a classifier.
    pub fn is_mask(&self) -> bool {
        self.classes == 0
    }

    /// Refuse a mask network where a classifier is needed; `what` names the use.
    pub fn expect_classifier(&self, what: &str) -> Result<()> {
        if self.is_mask() {
            bail!("--arch {}: a mask network is not a classifier ({what} needs one)", self.spec);
        }
        Ok(())
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

    /// LeNet behind a BatchNorm1d over every input element (`bn0`, C·H·W
    /// features): each pixel standardised by batch statistics in training
    /// and running ones in eval. A mask data set (SPEC §5's f2) varies by a
    /// few hundredths around a fixed per-pixel pattern; standardising each
    /// pixel lets the convolutions see the image-dependent part (on 3,000
    /// masks of a 3-epoch LAN, a PyTorch LeNet reached 25% with it, 14%
    /// without; results/lan/README.md).
    fn lenet_input_bn(mut arch: Arch) -> Arch {
        let [c, h, w] = arch.input;
        let front = [
            Layer::Flatten,
            Layer::BatchNorm1d { name: "bn0".into(), c: c * h * w },
            Layer::Unflatten { shape: [c, h, w] },
        ];
        arch.layers.splice(0..0, front);
        arch
    }

    /// The cuda-convnet "layers-18pct" CIFAR-10 net (SPEC §5, f1), PyTorch
    /// semantics (floor-mode pooling, count_include_pad average pooling):
    /// 3×32×32 → conv1 32@32×32 → maxpool 15×15 → LRN → conv2 32@15×15 →
    /// avgpool 7×7 → LRN → conv3 64@7×7 → avgpool 3×3 → fc1 576→10.
    fn alexnet_cifar(spec: &str) -> Arch {
        let conv = |name: &str, inp, out| Layer::Conv2d { name: name.into(), inp, out, k: 5, stride: 1, pad: 2 };
        let lrn = || Layer::Lrn { size: 3, alpha: 5e-5, beta: 0.75, k: 1.0 };
        let layers = vec![
            Layer::Normalize { mean: CIFAR_MEAN.to_vec(), std: CIFAR_STD.to_vec() },
            conv("conv1", 3, 32),
            Layer::MaxPool { k: 3, stride: 2 },
            Layer::Relu,
            lrn(),
            conv("conv2", 32, 32),
            Layer::Relu,
            Layer::AvgPool { k: 3, stride: 2 },
            lrn(),
            conv("conv3", 32, 64),
            Layer::Relu,
            Layer::AvgPool { k: 3, stride: 2 },
            Layer::Flatten,
            Layer::Linear { name: "fc1".into(), inp: 64 * 3 * 3, out: 10 },
        ];
        Arch { spec: spec.to_string(), input: [3, 32, 32], classes: 10, layers }
    }

    /// The VGG-like CIFAR net of keras_compressor's example (SPEC §5, the
    /// transfer source) with every width divided by `div`: 13 conv3×3 pad 1,
    /// each followed by ReLU and BatchNorm (and Dropout 0.3 / 0.4 where the
    /// original has it), max-pool 2 after each block, then Dropout 0.5,
    /// fc1 (512/div) ReLU BatchNorm1d, Dropout 0.5, fc2 → 10. The input is
    /// mapped from [0,1] to [-1,1] inside the model. Names: conv1..conv13,
    /// bn1..bn13, fc1, bn14, fc2. `dropout` scales every dropout rate
    /// (`vgg-cifar:W:dS`): the original rates were chosen for 64-512
    /// channels and swamp the thin layers of large W (results/vgg-cifar/).
    fn vgg_cifar(spec: &str, div: usize, dropout: f32) -> Arch {
        let blocks: [&[usize]; 5] = [&[64, 64], &[128, 128], &[256, 256, 256], &[512, 512, 512], &[512, 512, 512]];
        let mut layers = vec![Layer::Normalize { mean: vec![0.5; 3], std: vec![0.5; 3] }];
        let (mut inp, mut i) = (3, 0);
        for (b, widths) in blocks.iter().enumerate() {
            for (j, &w) in widths.iter().enumerate() {
                i += 1;
                let out = w / div;
                layers.push(Layer::Conv2d { name: format!("conv{i}"), inp, out, k: 3, stride: 1, pad: 1 });
                layers.push(Layer::Relu);
                layers.push(Layer::BatchNorm2d { name: format!("bn{i}"), c: out });
                if j + 1 < widths.len() {
                    layers.push(Layer::Dropout { p: dropout * if b == 0 { 0.3 } else { 0.4 } });
                }
                inp = out;
            }
            layers.push(Layer::MaxPool { k: 2, stride: 2 });
        }
        let hidden = 512 / div;
        layers.extend([
            Layer::Flatten,
            Layer::Dropout { p: dropout * 0.5 },
            Layer::Linear { name: "fc1".into(), inp, out: hidden },
            Layer::Relu,
            Layer::BatchNorm1d { name: "bn14".into(), c: hidden },
            Layer::Dropout { p: dropout * 0.5 },
            Layer::Linear { name: "fc2".into(), inp: hidden, out: 10 },
        ]);
        Arch { spec: spec.to_string(), input: [3, 32, 32], classes: 10, layers }
    }

    /// (name, shape, fan_in) of every trainable parameter, in layer order
    /// (fan_in is 0 for BatchNorm, whose parameters start at 1 and 0).
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
                Layer::BatchNorm2d { name, c } | Layer::BatchNorm1d { name, c } => {
                    out.push((format!("{name}.weight"), vec![*c], 0));
                    out.push((format!("{name}.bias"), vec![*c], 0));
                }
                _ => {}
            }
        }
        out
    }

    /// (name, shape, PyTorch's initial value) of every trainable parameter,
    /// in the order of [`Arch::params`].
    pub fn param_inits(&self) -> Vec<(String, Vec<usize>, Init)> {
        self.params()
            .into_iter()
            .map(|(name, shape, fan_in)| {
                let init = if fan_in > 0 {
                    Init::Uniform(1.0 / (fan_in as f32).sqrt())
                } else if name.ends_with(".weight") {
                    Init::Const(1.0)
                } else {
                    Init::Const(0.0)
                };
                (name, shape, init)
            })
            .collect()
    }

    /// (name, shape, initial value) of every buffer: state saved with the
    /// model but not trained (BatchNorm running statistics), layer order.
    pub fn buffers(&self) -> Vec<(String, Vec<usize>, f32)> {
        let mut out = Vec::new();
        for l in &self.layers {
            if let Layer::BatchNorm2d { name, c } | Layer::BatchNorm1d { name, c } = l {
                out.push((format!("{name}.running_mean"), vec![*c], 0.0));
                out.push((format!("{name}.running_var"), vec![*c], 1.0));
            }
        }
        out
    }

    /// Names PyTorch writes that carry nothing this crate uses
    /// (`{bn}.num_batches_tracked`, int64): accepted on load, ignored.
    pub fn ignored_tensors(&self) -> Vec<String> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::BatchNorm2d { name, .. } | Layer::BatchNorm1d { name, .. } => {
                    Some(format!("{name}.num_batches_tracked"))
                }
                _ => None,
            })
            .collect()
    }

    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg_widths_and_names() {
        let a = Arch::parse("vgg-cifar:8").unwrap();
        let convs: Vec<(String, usize)> = a
            .layers
            .iter()
            .filter_map(|l| match l {
                Layer::Conv2d { name, out, .. } => Some((name.clone(), *out)),
                _ => None,
            })
            .collect();
        assert_eq!(convs.len(), 13);
        assert_eq!(convs.iter().map(|c| c.1).collect::<Vec<_>>(), [8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64]);
        assert_eq!(convs[12].0, "conv13");
        let p = a.params();
        assert!(p.iter().any(|(n, s, _)| n == "fc1.weight" && s == &vec![64, 64]));
        assert!(p.iter().any(|(n, s, _)| n == "bn14.weight" && s == &vec![64]));
        assert_eq!(a.buffers().len(), 2 * 14);
        assert!(Arch::parse("vgg-cifar:3").is_err());
        assert!(Arch::parse("vgg-cifar:0").is_err());
        // :dS scales the dropout rates and nothing else
        let rates = |a: &Arch| -> Vec<f32> {
            a.layers.iter().filter_map(|l| if let Layer::Dropout { p } = l { Some(*p) } else { None }).collect()
        };
        let light = Arch::parse("vgg-cifar:8:d0.25").unwrap();
        assert_eq!(light.params(), a.params());
        let (r1, r4) = (rates(&a), rates(&light));
        assert_eq!(r1.len(), r4.len());
        assert!(r1.iter().zip(&r4).all(|(x, y)| (x * 0.25 - y).abs() < 1e-7), "{r1:?} vs {r4:?}");
        assert_eq!(r1[0], 0.3);
        assert!(rates(&Arch::parse("vgg-cifar:8:d0").unwrap()).iter().all(|&p| p == 0.0));
        for bad in ["vgg-cifar:8:d1.5", "vgg-cifar:8:d-0.1", "vgg-cifar:8:dx", "vgg-cifar:8:"] {
            assert!(Arch::parse(bad).is_err(), "{bad} should be refused");
        }
        let full = Arch::parse("vgg-cifar").unwrap();
        assert!(full.params().iter().any(|(n, s, _)| n == "conv13.weight" && s == &vec![512, 512, 3, 3]));
    }

    #[test]
    fn lenet_input_bn_shapes() {
        let a = Arch::parse("lenet:3x32x32:bn").unwrap();
        let p: Vec<(String, Vec<usize>)> = a.params().into_iter().map(|(n, s, _)| (n, s)).collect();
        assert_eq!(p[0], ("bn0.weight".to_string(), vec![3072]));
        assert_eq!(p[2], ("conv1.weight".to_string(), vec![6, 3, 5, 5]));
        assert_eq!(a.classes, 10);
        assert_eq!(conv_layers(&a, 4)[0].x, [4, 3, 32, 32]);
        assert_eq!(conv_layers(&a, 4).len(), 2);
        assert_eq!(Arch::parse("lenet:bn").unwrap().layers[1], Layer::BatchNorm1d { name: "bn0".into(), c: 784 });
    }

    #[test]
    fn mask_network_shapes() {
        let a = Arch::parse("mask:3x32x32-1024-1024").unwrap();
        assert!(a.is_mask() && a.expect_classifier("eval").is_err());
        assert_eq!(a.input, [3, 32, 32]);
        let p: Vec<(String, Vec<usize>)> = a.params().into_iter().map(|(n, s, _)| (n, s)).collect();
        assert_eq!(p[0], ("fc1.weight".to_string(), vec![1024, 3072]));
        assert_eq!(p[2], ("fc2.weight".to_string(), vec![1024, 1024]));
        assert_eq!(p[4], ("fc3.weight".to_string(), vec![3072, 1024]));
        assert_eq!(p.len(), 6);
        assert_eq!(a.layers.last(), Some(&Layer::Unflatten { shape: [3, 32, 32] }));
        assert!(!Arch::parse("mlp:784-10").unwrap().is_mask());
        let bn = Arch::parse("mask:1x28x28-16:bn").unwrap();
        assert!(bn.is_mask());
        assert_eq!(bn.layers[1], Layer::BatchNorm1d { name: "bn0".into(), c: 784 });
        let p: Vec<(String, Vec<usize>)> = bn.params().into_iter().map(|(n, s, _)| (n, s)).collect();
        assert_eq!(p[0], ("bn0.weight".to_string(), vec![784]));
        assert_eq!(p[2], ("fc1.weight".to_string(), vec![16, 784]));
        for bad in [
            "mask:3x32x32",
            "mask:3x32-10",
            "mask:0x28x28-5",
            "mask:1x28x28-a",
            "mask:",
            "mask:1x28x28-8:bm",
            "mask:1x28x28:bn",
        ] {
            assert!(Arch::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn alexnet_cifar_shapes() {
        let a = Arch::parse("alexnet-cifar").unwrap();
        let names: Vec<String> = a.params().into_iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            [
                "conv1.weight",
                "conv1.bias",
                "conv2.weight",
                "conv2.bias",
                "conv3.weight",
                "conv3.bias",
                "fc1.weight",
                "fc1.bias"
            ]
        );
        assert!(a.params().iter().any(|(n, s, _)| n == "fc1.weight" && s == &vec![10, 576]));
        assert!(a.buffers().is_empty());
    }
}
