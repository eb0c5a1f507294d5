//! Each architecture's training recipe: the defaults `advlab train` uses
//! for every flag left unset, chosen so the defaults reach the documented
//! figures (README, results/).

use std::fmt::Write;

use serde::Serialize;

use super::arch::Arch;
use super::augment::Augment;
use super::optim::{OptimKind, ScheduleKind};

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Recipe {
    pub epochs: usize,
    pub batch: usize,
    pub optim: OptimKind,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub schedule: ScheduleKind,
    pub augment: Augment,
    /// Where the recipe's figure comes from.
    pub source: &'static str,
}

const SGD: Recipe = Recipe {
    epochs: 10,
    batch: 64,
    optim: OptimKind::Sgd,
    lr: 0.05,
    momentum: 0.9,
    weight_decay: 0.0,
    schedule: ScheduleKind::Constant,
    augment: Augment::None,
    source: "",
};

/// (arch family, recipe) in the order `--help` lists them.
pub fn recipes() -> [(&'static str, Recipe); 5] {
    [
        ("mlp", Recipe { source: "98.31% on full MNIST (README)", ..SGD }),
        (
            "lenet",
            Recipe { epochs: 8, schedule: ScheduleKind::Cosine, source: "99.02% on full MNIST (results/lenet)", ..SGD },
        ),
        (
            "alexnet-cifar",
            Recipe {
                epochs: 30,
                weight_decay: 5e-4,
                schedule: ScheduleKind::Cosine,
                augment: Augment::Flip,
                source: "stages 1-3 of results/alexnet-cifar, with flip throughout",
                ..SGD
            },
        ),
        (
            "vgg-cifar",
            Recipe {
                epochs: 30,
                weight_decay: 5e-4,
                schedule: ScheduleKind::Cosine,
                augment: Augment::Flip,
                source: "80.27% for vgg-cifar:8:d0.25 (results/vgg-cifar/run-d0.25)",
                ..SGD
            },
        ),
        ("mask", Recipe { epochs: 20, optim: OptimKind::Adam, lr: 5e-4, source: "SPEC §5 (Adam, lr 5e-4)", ..SGD }),
    ]
}

/// The recipe of `arch` (by family: `mlp:…`, `lenet…`, `alexnet-cifar`,
/// `vgg-cifar…`, `mask:…`).
pub fn recipe(arch: &Arch) -> Recipe {
    let family = if arch.is_mask() {
        "mask"
    } else {
        let s = arch.spec.as_str();
        ["mlp", "lenet", "alexnet-cifar", "vgg-cifar"].into_iter().find(|f| s.starts_with(f)).unwrap_or("mlp")
    };
    recipes().into_iter().find(|(f, _)| *f == family).map(|(_, r)| r).expect("every family has a recipe")
}

/// The recipe table for `advlab train --help`.
pub fn help_table() -> String {
    let mut s = String::from("Defaults per --arch (any flag given overrides its value):\n");
    for (family, r) in recipes() {
        let _ = writeln!(
            s,
            "  {family:<14} --epochs {} --batch {} --optim {} --lr {} --momentum {} --weight-decay {} --schedule {} --augment {}",
            r.epochs,
            r.batch,
            name(r.optim),
            r.lr,
            r.momentum,
            r.weight_decay,
            r.schedule,
            name(r.augment)
        );
    }
    s
}

/// The CLI spelling of an enum (its serde name).
fn name<T: Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_by_family() {
        let lenet = recipe(&Arch::parse("lenet").unwrap());
        assert_eq!((lenet.epochs, lenet.lr, lenet.schedule), (8, 0.05, ScheduleKind::Cosine));
        assert_eq!(recipe(&Arch::parse("mlp:784-500-10").unwrap()).epochs, 10);
        assert_eq!(recipe(&Arch::parse("vgg-cifar:8:d0.25").unwrap()).weight_decay, 5e-4);
        assert_eq!(recipe(&Arch::parse("mask:1x28x28-64").unwrap()).optim, OptimKind::Adam);
        let h = help_table();
        assert!(h.contains("lenet") && h.contains("--schedule cosine") && !h.contains("Cosine"), "{h}");
    }
}
