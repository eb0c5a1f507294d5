//! Host side of each shader file: shape checks, dispatch geometry, forward
//! and backward. One file per shader file, same name.

pub mod attack;
pub mod batchnorm;
pub mod certify;
pub mod conv2d;
pub mod conv_tuning;
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

#[cfg(test)]
mod tests {
    use crate::gpu::kernels::SHADER_FILES;
    use crate::gpu::params::{layout_mismatches, HostParams};

    /// Every host params struct (declared with `params_struct!`).
    const HOST: &[&HostParams] = &[
        &super::attack::PARAMS_LAYOUT,
        &super::batchnorm::PARAMS_LAYOUT,
        &super::certify::PARAMS_LAYOUT,
        &super::conv2d::PARAMS_LAYOUT,
        &super::dropout::PARAMS_LAYOUT,
        &super::elementwise::PARAMS_LAYOUT,
        &super::gemm::PARAMS_LAYOUT,
        &super::gemm_tex::PARAMS_LAYOUT,
        &super::lrn::PARAMS_LAYOUT,
        &super::optim::PARAMS_LAYOUT,
        &super::pool::PARAMS_LAYOUT,
        &super::reduce::PARAMS_LAYOUT,
        &super::softmax_xent::PARAMS_LAYOUT,
        &super::tv::PARAMS_LAYOUT,
        &super::warp::PARAMS_LAYOUT,
        &crate::stadv::kernels::PARAMS_LAYOUT,
    ];

    #[test]
    fn host_params_structs_match_the_shaders() {
        let mut bad: Vec<String> = HOST.iter().flat_map(|h| layout_mismatches(h)).collect();
        for file in SHADER_FILES.iter().filter(|f| f.params.is_some()) {
            let n = HOST.iter().filter(|h| std::ptr::eq(h.shader, *file)).count();
            if n == 0 {
                bad.push(format!("shaders/{}.wgsl: no host params struct declared with params_struct!", file.name));
            }
        }
        assert!(bad.is_empty(), "params layouts differ:\n{}", bad.join("\n"));
    }
}
