//! The library's option enums on the command line: `clap::ValueEnum` from
//! their [`Named`] names and doc comments, so `--help` lists each value
//! with its help and `value_enum` fields parse them, while the types
//! themselves know nothing of clap (src/names.rs).

use clap::builder::PossibleValue;

use crate::names::Named;

/// The help clap's derive would make of a doc comment: its first paragraph,
/// lines trimmed and joined with spaces, less one final period.
fn short_help(doc: &str) -> String {
    let para: Vec<&str> = doc.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    let mut s = para.join(" ");
    if s.ends_with('.') && !s.ends_with("..") {
        s.pop();
    }
    s
}

/// `value` as clap's possible value.
pub fn possible_value<T: Named>(value: T) -> PossibleValue {
    let i = T::ALL.iter().position(|v| *v == value).expect("every value is in ALL");
    let help = short_help(T::DOCS[i]);
    let pv = PossibleValue::new(T::NAMES[i]);
    if help.is_empty() {
        pv
    } else {
        pv.help(help)
    }
}

macro_rules! value_enums {
    ($($t:ty),* $(,)?) => {$(
        impl clap::ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                <$t as Named>::ALL
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(possible_value(*self))
            }
        }
    )*};
}

value_enums!(
    crate::gpu::DeviceChoice,
    crate::nn::optim::OptimKind,
    crate::nn::train::Augment,
    crate::ops::tv::Neighbours,
    crate::ops::tv::Padding,
    crate::ops::tv::Variant,
    crate::stadv::StadvOptimizer,
    crate::attack::cw::AbortScope,
    crate::attack::Norm,
    crate::attack::LabelSource,
    crate::attack::jsma::JacobianKind,
    crate::bench::suite::Workload,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_is_the_first_paragraph_without_its_period() {
        assert_eq!(short_help(" One line.\n"), "One line");
        assert_eq!(short_help(" Two\n lines...\n\n More.\n"), "Two lines...");
        assert_eq!(short_help(""), "");
    }
}
