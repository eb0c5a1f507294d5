//! Names of the library's option enums (`--device`, `--optim`, `--norm`, ...):
//! one lowercase kebab-case spelling per value, the same for `FromStr`,
//! `Display`, serde and the command line, without the library types
//! depending on clap (src/cli/choice.rs gives them to clap).
//!
//! Wrap the enum in [`named_enum!`]: it is kept as written, and gets
//! [`Named`], `Display` and `FromStr`. A value's name is its variant's name
//! in kebab case (`CropFlip` → `crop-flip`), or its `#[serde(rename = "..")]`;
//! its doc comment is its help on the command line.

use std::fmt;

/// An enum whose values have names (see the module docs).
pub trait Named: Copy + PartialEq + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// `NAMES[i]` is the name of `ALL[i]`.
    const NAMES: &'static [&'static str];
    /// `DOCS[i]` is the doc comment of `ALL[i]`, one line per doc line.
    const DOCS: &'static [&'static str];

    fn name(self) -> &'static str {
        let i = Self::ALL.iter().position(|v| *v == self).expect("every value is in ALL");
        Self::NAMES[i]
    }

    /// The value called `s` (exactly, case-sensitive).
    fn parse_name(s: &str) -> Result<Self, UnknownName> {
        match Self::NAMES.iter().position(|n| *n == s) {
            Some(i) => Ok(Self::ALL[i]),
            None => Err(UnknownName { input: s.to_string(), expected: Self::NAMES }),
        }
    }
}

/// A name that is none of an enum's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    pub input: String,
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (last, rest) = self.expected.split_last().expect("an enum has values");
        match rest {
            [] => write!(f, "`{}`: expected {last}", self.input),
            _ => write!(f, "`{}`: expected {} or {last}", self.input, rest.join(", ")),
        }
    }
}

impl std::error::Error for UnknownName {}

/// Bytes of `ident` in kebab case: a `-` before each capital but the first,
/// all lowercase. `N` must be [`kebab_len`]`(ident)`.
pub const fn kebab<const N: usize>(ident: &str) -> [u8; N] {
    let b = ident.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut j) = (0, 0);
    while i < b.len() {
        if i > 0 && b[i].is_ascii_uppercase() {
            out[j] = b'-';
            j += 1;
        }
        out[j] = b[i].to_ascii_lowercase();
        i += 1;
        j += 1;
    }
    assert!(j == N, "N must be kebab_len(ident)");
    out
}

/// Length of [`kebab`]`(ident)`.
pub const fn kebab_len(ident: &str) -> usize {
    let b = ident.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if i > 0 && b[i].is_ascii_uppercase() {
            n += 1;
        }
        n += 1;
        i += 1;
    }
    n
}

/// Declares an enum of unit variants with names (see the module docs).
macro_rules! named_enum {
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident { $($body:tt)* }
    ) => {
        $(#[$m])*
        $vis enum $name { $($body)* }
        $crate::names::named_enum!(@scan $name [] [] [] $($body)*);
    };
    // Walk the body one attribute or variant at a time, collecting
    // (variant [rename] [doc lines]).
    (@scan $name:ident [$($done:tt)*] [$($doc:tt)*] [$($ren:tt)*] #[doc = $d:literal] $($rest:tt)*) => {
        $crate::names::named_enum!(@scan $name [$($done)*] [$($doc)* $d] [$($ren)*] $($rest)*);
    };
    (@scan $name:ident [$($done:tt)*] [$($doc:tt)*] [$($ren:tt)*] #[serde(rename = $r:literal)] $($rest:tt)*) => {
        $crate::names::named_enum!(@scan $name [$($done)*] [$($doc)*] [$r] $($rest)*);
    };
    (@scan $name:ident [$($done:tt)*] [$($doc:tt)*] [$($ren:tt)*] #[$other:meta] $($rest:tt)*) => {
        $crate::names::named_enum!(@scan $name [$($done)*] [$($doc)*] [$($ren)*] $($rest)*);
    };
    (@scan $name:ident [$($done:tt)*] [$($doc:tt)*] [$($ren:tt)*] $v:ident $(, $($rest:tt)*)?) => {
        $crate::names::named_enum!(@scan $name [$($done)* ($v [$($ren)*] [$($doc)*])] [] [] $($($rest)*)?);
    };
    (@scan $name:ident [$(($v:ident [$($ren:tt)*] [$($doc:literal)*]))*] [] []) => {
        impl $crate::names::Named for $name {
            const ALL: &'static [Self] = &[$($name::$v),*];
            const NAMES: &'static [&'static str] = &[$($crate::names::named_enum!(@name $v $($ren)*)),*];
            const DOCS: &'static [&'static str] = &[$(concat!($($doc, "\n"),*)),*];
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::names::Named::name(*self))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <Self as $crate::names::Named>::parse_name(s)
            }
        }
    };
    (@name $v:ident $r:literal) => { $r };
    (@name $v:ident) => {{
        const B: [u8; $crate::names::kebab_len(stringify!($v))] = $crate::names::kebab(stringify!($v));
        const S: &str = match ::std::str::from_utf8(&B) {
            Ok(s) => s,
            Err(_) => panic!("variant names are ASCII"),
        };
        S
    }};
}
pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::cw::AbortScope;
    use crate::attack::jsma::JacobianKind;
    use crate::attack::{LabelSource, Norm};
    use crate::gpu::DeviceChoice;
    use crate::nn::optim::OptimKind;
    use crate::nn::train::Augment;
    use crate::ops::tv::{Neighbours, Padding, Variant};
    use crate::stadv::StadvOptimizer;

    /// `T`'s names are `names` (the spellings clap's ValueEnum derive gave
    /// before), and each parses back and prints as itself.
    fn check<T: Named + fmt::Display + std::str::FromStr<Err = UnknownName> + fmt::Debug>(names: &[&str]) {
        assert_eq!(T::NAMES, names);
        for (v, n) in T::ALL.iter().zip(names) {
            assert_eq!(v.to_string(), *n);
            assert_eq!(n.parse::<T>(), Ok(*v));
        }
        assert_eq!(T::DOCS.len(), names.len());
    }

    /// Same, and serde writes the same names.
    fn check_serde<T: Named + fmt::Display + std::str::FromStr<Err = UnknownName> + fmt::Debug + serde::Serialize>(
        names: &[&str],
    ) {
        check::<T>(names);
        for (v, n) in T::ALL.iter().zip(names) {
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(n));
        }
    }

    #[test]
    fn every_option_enum_has_the_cli_spellings() {
        check::<DeviceChoice>(&["auto", "gpu", "cpu"]);
        check_serde::<OptimKind>(&["sgd", "adam"]);
        check_serde::<Augment>(&["none", "crop-flip", "flip"]);
        check_serde::<Neighbours>(&["diag4", "cross4"]);
        check_serde::<Padding>(&["constant", "symmetric"]);
        check_serde::<Variant>(&["pixel", "shift"]);
        check_serde::<StadvOptimizer>(&["adam", "lbfgs"]);
        check_serde::<AbortScope>(&["image", "batch"]);
        check_serde::<Norm>(&["inf", "2"]);
        check_serde::<LabelSource>(&["true", "pred"]);
        check_serde::<JacobianKind>(&["probs", "logits"]);
    }

    #[test]
    fn an_unknown_name_is_one_line_naming_it_and_the_choices() {
        let e = "Gpu".parse::<DeviceChoice>().unwrap_err();
        assert_eq!(e.to_string(), "`Gpu`: expected auto, gpu or cpu");
        assert_eq!("x".parse::<OptimKind>().unwrap_err().to_string(), "`x`: expected sgd or adam");
    }

    #[test]
    fn doc_comments_are_kept_per_value() {
        assert_eq!(DeviceChoice::DOCS[1], " A hardware GPU only.\n");
        assert!(
            Augment::DOCS[2].starts_with(" Horizontal flip only: half the regularisation of crop-flip, for small\n")
        );
    }

    #[test]
    fn kebab_case_splits_before_capitals() {
        assert_eq!(&kebab::<9>("CropFlip"), b"crop-flip");
        assert_eq!(&kebab::<5>("Diag4"), b"diag4");
        assert_eq!(kebab_len("L2"), 2);
    }
}
