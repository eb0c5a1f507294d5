//! The adapter's arithmetic ceiling for WGSL code: `chains` independent
//! `fma` chains per invocation, all in registers, no memory traffic but one
//! store per invocation. It bounds what any kernel here can reach, GEMM
//! included: `cargo run --release --example alu_peak -- [CHAINS]
//! [RESULTS.json]` (CHAINS default 12; 4-32 show where the chains stop
//! hiding the multiply-add latency; results default to results.json).
//!
//! On lavapipe (Mesa 22.3, LLVM 15) each `fma` compiles to a multiply and
//! an add inside llvmpipe's masked loop. Measured 2026-12-08 on the 2-core
//! AMD EPYC: 62 GFLOP/s at 12 chains with both cores (31 with
//! LP_NUM_THREADS=1), where `bench gemm` 1024³ reaches 38-66 GFLOP/s on the
//! same machine: the GEMM is at this ceiling, not at the CPU's FMA peak.

use std::time::Instant;

/// Invocations per workgroup and workgroups: enough for every core.
const WG: u32 = 64;
const GROUPS: u32 = 512;
/// Loop trips per invocation.
const ITERS: u32 = 4096;

/// The kernel: `chains` accumulators s_i = fma(s_i, m, a), ITERS times,
/// then their sum stored (so the compiler keeps every chain).
fn shader(chains: usize) -> String {
    let mut s = String::from(
        "@group(0) @binding(0) var<storage, read_write> out: array<f32>;\n\
         @compute @workgroup_size(64)\n\
         fn main(@builtin(global_invocation_id) g: vec3<u32>) {\n\
         \x20 let m = 0.999 + f32(g.x) * 1e-9;\n\
         \x20 let a = 1e-3 + f32(g.x) * 1e-9;\n",
    );
    for c in 0..chains {
        s += &format!("  var s{c} = f32(g.x + {c}u);\n");
    }
    s += &format!("  for (var i = 0u; i < {ITERS}u; i++) {{\n");
    for c in 0..chains {
        s += &format!("    s{c} = fma(s{c}, m, a);\n");
    }
    s += "  }\n  var t = 0.0;\n";
    for c in 0..chains {
        s += &format!("  t += s{c};\n");
    }
    s + "  out[g.x] = t;\n}\n"
}

fn main() -> anyhow::Result<()> {
    let chains: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().map_err(|_| anyhow::anyhow!("CHAINS: expected a positive integer, got {a:?}"))?,
        None => 12,
    };
    anyhow::ensure!((1..=256).contains(&chains), "CHAINS: expected 1 to 256, got {chains}");
    let results = std::path::PathBuf::from(std::env::args().nth(2).unwrap_or_else(|| "results.json".into()));
    advlab::report::check_results_path(&results, "example alu_peak")?;
    // the adapter every advlab command picks by default (WGPU_BACKEND,
    // best GPU else the software adapter)
    let gpu = advlab::gpu::Gpu::new(&advlab::gpu::GpuOptions::default())?;
    let (device, queue) = (&gpu.device, &gpu.queue);
    println!("adapter: {}", gpu.adapter_name());
    println!("host: {}", advlab::report::host_line());
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(shader(chains).into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: (GROUPS * WG * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry { binding: 0, resource: out.as_entire_binding() }],
    });
    let flops = (GROUPS * WG) as f64 * ITERS as f64 * chains as f64 * 2.0;
    // the first run compiles the kernel; the best of the rest is the figure
    let mut best = 0.0f64;
    for rep in 0..5 {
        let t = Instant::now();
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(GROUPS, 1, 1);
        }
        queue.submit([enc.finish()]);
        device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None })?;
        if rep > 0 {
            best = best.max(flops / t.elapsed().as_secs_f64() / 1e9);
        }
    }
    println!("{chains} fma chains per invocation: {best:.1} GFLOP/s (best of 4)");
    let settings = serde_json::json!({
        "chains": chains, "iters": ITERS, "workgroups": GROUPS, "workgroup_size": WG, "runs": "best of 4 after one",
    });
    let v = advlab::report::envelope("example alu_peak", Some(&gpu), settings, serde_json::json!({"gflops": best}));
    advlab::report::write_json(&results, &v)?;
    println!("wrote {}", results.display());
    Ok(())
}
