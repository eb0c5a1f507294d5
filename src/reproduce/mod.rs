//! The thesis' experiments as one command each (`advlab reproduce …`),
//! writing tables, results.json and figures a checker can recompute.
//!
//! - [`fig6`]: thesis §4.2 / Fig. 6 (SPEC §8): stAdv success on a plain and
//!   a certificate-trained MLP, on one seeded sample of test images and
//!   targets, in two flow-loss settings
//! - [`bounds`]: the spatial certificate's bound checked on every attacked
//!   image (issue 13 item 7), with an f64 host warp
//! - [`bars`]: the Fig. 6 bar chart as a PNG
//! - [`lan`]: thesis §3 on CIFAR-10: β sweep, LAN, f2, Tables 1–4, ROC,
//!   adaptive attack
//! - [`stats`]: Wilson intervals

pub mod bars;
pub mod bounds;
pub mod fig6;
pub mod lan;
pub mod stats;
