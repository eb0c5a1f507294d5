//! Host side of each shader file: shape checks, dispatch geometry, forward
//! and backward. One file per shader file, same name.

pub mod attack;
pub mod batchnorm;
pub mod certify;
pub mod conv2d;
pub mod dropout;
pub mod elementwise;
pub mod gemm;
pub mod gemm_tex;
pub mod lrn;
pub mod optim;
pub mod pool;
pub mod reduce;
pub mod softmax_xent;
pub mod tv;
pub mod warp;
