//! SDP certificates (SPEC §6–7): the flow operator N and λ, the bipartite
//! certificate matrices (spatial flows and the corrected pixel-L∞ M), the
//! mixing-method primal, and dual upper bounds verified in f64 on the host.
//!
//! - [`flow`]: N (same neighbours and constant padding as stAdv's L_flow), λ
//! - [`linalg`]: f64 Cholesky with rounding bounds, Lanczos estimates
//! - [`sdp`]: the dense reference solver behind `advlab sdp`
//! - [`bipartite`]: P = [[0, B], [Bᵀ, 0]], B = L·W·R, its solver and the
//!   Schur-complement certificate
//! - [`batch`]: every pair of a network at once (GPU sweeps, host certificates)
//! - [`network`]: the MLP's pair problems, f64 margins, certification rule
//! - [`penalty`]: the certified-training penalty (batched Lanczos, gradients)
//! - [`primal`]: the same penalty from warm-started low-rank primal factors (Danskin)
//! - [`train`]: the penalty as a graph op, dual start, verified per-epoch bounds
//! - [`plot`]: certified accuracy against ε as a PNG

pub mod batch;
pub mod bipartite;
pub mod flow;
pub mod linalg;
pub mod network;
pub mod penalty;
pub mod plot;
pub mod primal;
pub mod run;
pub mod sdp;
pub mod train;
