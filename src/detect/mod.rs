//! Attention-based detection (SPEC §5, thesis §3): the Latent Attention
//! Network g trained against a frozen classifier f1 ([`lan`], with its
//! noise [`noise`]), its masks as a data set ([`masks`]), and the detector
//! that flags an image when f1 and the mask classifier f2 disagree
//! ([`detector`], scored with [`roc`]).

pub mod adaptive;
pub mod detector;
pub mod lan;
pub mod masks;
pub mod noise;
pub mod roc;
