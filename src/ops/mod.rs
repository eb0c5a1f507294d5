//! Host side of each shader file: shape checks, dispatch geometry, forward
//! and backward. One file per shader file, same name.

pub mod elementwise;
pub mod gemm;
pub mod optim;
pub mod reduce;
pub mod softmax_xent;
pub mod conv2d;
pub mod attack;
pub mod warp;
pub mod tv;
pub mod pool;
pub mod batchnorm;
pub mod lrn;
pub mod dropout;
