//! `advlab bench train` (and `bench gemm`, see crate::bench).

use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value};

use crate::data::{self, DataSpec, Split};
use crate::gpu::GpuOptions;
use crate::nn::optim::{OptimConfig, OptimKind, Optimizer};
use crate::nn::train::{self, TrainConfig};
use crate::nn::{Arch, Model};
use crate::report;

/// Training throughput: one warm-up epoch (JIT, pool fill), then `epochs`
/// timed epochs.
pub fn train(
    gpu_opts: &GpuOptions,
    arch: &str,
    spec: &DataSpec,
    batch: usize,
    epochs: usize,
    results: &Path,
) -> Result<()> {
    let arch_p = Arch::parse(arch)?;
    let data = data::load(spec, Split::Train)?;
    let gpu = super::open_gpu(gpu_opts)?;
    crate::nn::capacity::check_train_batch(&arch_p, &gpu, batch)?;
    let model = Model::init(&gpu, arch_p, 0);
    let cfg = TrainConfig {
        epochs,
        batch,
        optim: OptimConfig::new(OptimKind::Sgd, 0.01),
        seed: 0,
        log_every: usize::MAX,
        ..Default::default()
    };
    let mut opt = Optimizer::new(&gpu, &model, cfg.optim);
    model.check_input("bench data", &[data.n, data.c, data.h, data.w])?;
    let warm = train::train_epoch(&gpu, &model, &mut opt, &data, &cfg, 0, 0.01, |_, _, _| {})?;
    let mut rows = Vec::new();
    for e in 0..epochs {
        let st = train::train_epoch(&gpu, &model, &mut opt, &data, &cfg, e + 1, 0.01, |_, _, _| {})?;
        rows.push(st);
    }
    let ips: Vec<f64> = rows.iter().map(|r| r.images_per_sec).collect();
    let best = ips.iter().cloned().fold(0.0, f64::max);
    let secs_60k = 60_000.0 / best;
    println!(
        "{}",
        report::markdown_table(
            &["adapter", "arch", "batch", "images", "warm-up images/s", "best images/s", "s per 60k-image epoch"],
            &[vec![
                gpu.adapter_name(),
                arch.to_string(),
                batch.to_string(),
                data.n.to_string(),
                format!("{:.0}", warm.images_per_sec),
                format!("{best:.0}"),
                format!("{secs_60k:.2}"),
            ]]
        )
    );
    println!("reference on the 2-core CI machine (lavapipe): Burn wgpu 17 s/epoch, PyTorch CPU 0.73 s/epoch");
    report::write_json(
        results,
        &report::envelope(
            "bench train",
            Some(&gpu),
            json!({"arch": arch, "data": format!("{spec:?}"), "batch": batch, "epochs": epochs, "seed": 0, "optim": "sgd lr 0.01"}),
            json!({"warmup_images_per_sec": warm.images_per_sec, "images_per_sec": ips, "best_images_per_sec": best, "seconds_per_60k_epoch": secs_60k}),
        ),
    )?;
    super::print_profile(&gpu);
    Ok(())
}

pub use crate::nn::arch::{conv_layers, ConvLayerShape};

/// `advlab bench conv`: forward and backward (data + weight + bias)
/// GFLOP/s of every conv layer of each architecture at `batch`, counting
/// 2·MACs per pass (forward 1 pass, backward 2). `reps` timed repetitions
/// after one warm-up, each followed by a device sync.
pub fn conv(
    gpu_opts: &GpuOptions,
    archs: &[String],
    batch: usize,
    reps: usize,
    tune: bool,
    results: &Path,
) -> Result<()> {
    use crate::ops::conv2d::{self, ConvGeom};
    use rand::{Rng, SeedableRng};
    use std::time::Instant;
    anyhow::ensure!(batch > 0 && reps > 0, "--batch and --reps must be at least 1");
    let parsed: Vec<Arch> = archs.iter().map(|a| Arch::parse(a)).collect::<Result<_>>()?;
    let gpu = super::open_gpu(gpu_opts)?;
    for arch in &parsed {
        crate::nn::capacity::check_train_batch(arch, &gpu, batch)?;
    }
    let tuning = if tune { tune_layers(&gpu, &parsed, batch, reps)? } else { Value::Null };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut rand = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect() };
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for arch in &parsed {
        let (mut tot_flops, mut tot_s) = (0f64, 0f64);
        for ConvLayerShape { name, x: xs, w: ws, stride, pad } in conv_layers(arch, batch) {
            let geom = ConvGeom::new(&xs, &ws, (stride, stride), (pad, pad));
            let x = gpu.upload(&rand(xs.iter().product()), &xs);
            let w = gpu.upload(&rand(ws.iter().product()), &ws);
            let b = gpu.upload(&rand(ws[0]), &[ws[0]]);
            let ys = geom.y_shape();
            let dy = gpu.upload(&rand(ys.iter().product()), &ys);
            let (st, pd) = ((stride, stride), (pad, pad));
            let fwd = || drop(conv2d::conv2d_forward(&gpu, &x, &w, Some(&b), st, pd));
            let bwd = || {
                drop(conv2d::conv2d_backward_data(&gpu, &dy, &w, &xs, st, pd));
                drop(conv2d::conv2d_backward_weight(&gpu, &dy, &conv2d::ConvInput::new(&x), &ws, st, pd));
                drop(conv2d::conv2d_backward_bias(&gpu, &dy));
            };
            fwd();
            bwd();
            gpu.sync();
            let time = |f: &dyn Fn()| {
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                    gpu.sync();
                }
                t.elapsed().as_secs_f64() / reps as f64
            };
            let tf = time(&fwd);
            let tb = time(&bwd);
            let flops = 2.0 * geom.macs() as f64;
            let (gf, gb, gt) = (flops / tf / 1e9, 2.0 * flops / tb / 1e9, 3.0 * flops / (tf + tb) / 1e9);
            tot_flops += 3.0 * flops;
            tot_s += tf + tb;
            rows.push(vec![
                arch.spec.clone(),
                name.clone(),
                format!("{xs:?}"),
                format!("{ws:?}"),
                format!("{:.1}", flops / 1e6),
                format!("{:.2}", 1e3 * tf),
                format!("{:.2}", 1e3 * tb),
                format!("{gf:.2}"),
                format!("{gb:.2}"),
                format!("{gt:.2}"),
            ]);
            json_rows.push(
                json!({"arch": arch.spec, "layer": name, "x_shape": xs, "w_shape": ws, "stride": stride, "pad": pad,
                "macs": geom.macs(), "forward_ms": 1e3 * tf, "backward_ms": 1e3 * tb,
                "forward_gflops": gf, "backward_gflops": gb, "total_gflops": gt}),
            );
        }
        rows.push(vec![
            arch.spec.clone(),
            "all convs".into(),
            String::new(),
            String::new(),
            format!("{:.1}", tot_flops / 3.0 / 1e6),
            String::new(),
            format!("{:.2} (fwd+bwd)", 1e3 * tot_s),
            String::new(),
            String::new(),
            format!("{:.2}", tot_flops / tot_s / 1e9),
        ]);
        json_rows.push(json!({"arch": arch.spec, "layer": "all", "seconds_fwd_bwd": tot_s, "total_gflops": tot_flops / tot_s / 1e9}));
    }
    println!(
        "{}",
        report::markdown_table(
            &[
                "arch",
                "layer",
                "x",
                "w",
                "MFLOP/pass",
                "fwd ms",
                "bwd ms",
                "fwd GFLOP/s",
                "bwd GFLOP/s",
                "fwd+bwd GFLOP/s"
            ],
            &rows
        )
    );
    report::write_json(
        results,
        &report::envelope(
            "bench conv",
            Some(&gpu),
            json!({"archs": archs, "batch": batch, "reps": reps, "seed": 0, "tune": tune,
                "flops": "2*MACs per pass; backward = data + weight (+ bias)"}),
            json!({"layers": json_rows, "tuning": tuning}),
        ),
    )?;
    super::print_profile(&gpu);
    Ok(())
}

/// `bench conv --tune`: time each algorithm on each pass of every conv
/// layer, record the fastest (`ops::conv_tuning`), print the timings and
/// save the records. Returns the timings for results.json.
fn tune_layers(gpu: &std::sync::Arc<crate::gpu::Gpu>, archs: &[Arch], batch: usize, reps: usize) -> Result<Value> {
    use crate::ops::conv2d::ConvGeom;
    use crate::ops::conv_tuning::{self, CANDIDATES};
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for arch in archs {
        for ConvLayerShape { name, x, w, stride, pad } in conv_layers(arch, batch) {
            let g = ConvGeom::new(&x, &w, (stride, stride), (pad, pad));
            eprintln!("tuning {} {name} ({x:?} * {w:?})...", arch.spec);
            for t in conv_tuning::tune(gpu, &g, reps) {
                let ms = |algo: &str| t.seconds.iter().find(|(a, _)| *a == algo).map(|&(_, s)| 1e3 * s);
                let mut row = vec![arch.spec.clone(), name.clone(), t.pass.name().to_string()];
                row.extend(CANDIDATES.iter().map(|(a, _)| ms(a).map_or("n/a".into(), |v| format!("{v:.2}"))));
                row.push(t.chosen.to_string());
                rows.push(row);
                let secs: serde_json::Map<String, Value> =
                    t.seconds.iter().map(|&(a, s)| (a.to_string(), json!(1e3 * s))).collect();
                json_rows.push(json!({"arch": arch.spec, "layer": name, "x_shape": x, "w_shape": w, "stride": stride,
                    "pad": pad, "pass": t.pass.name(), "ms": secs, "chosen": t.chosen}));
            }
        }
    }
    println!(
        "{}",
        report::markdown_table(&["arch", "layer", "pass", "fast ms", "direct ms", "im2col ms", "chosen"], &rows)
    );
    match conv_tuning::save()? {
        Some(p) => println!("conv tuning: {} choices recorded in {}", rows.len(), p.display()),
        None => println!("conv tuning: ADVLAB_CONV_TUNING=off, choices not recorded"),
    }
    Ok(json!(json_rows))
}

/// `advlab bench gemm`: GFLOP/s per size and variant, with numpy's figure
/// at each size when python3 has numpy.
pub fn gemm(gpu_opts: &GpuOptions, sizes: &[usize], reps: usize, results: &Path) -> Result<()> {
    let gpu = super::open_gpu(gpu_opts)?;
    let rows = crate::bench::gemm::bench_gemm(&gpu, sizes, reps)?;
    let numpy: Vec<(usize, Option<f64>)> = sizes.iter().map(|&s| (s, crate::bench::gemm::numpy_gflops(s))).collect();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let np = numpy.iter().find(|(s, _)| *s == r.size).and_then(|(_, g)| *g);
            vec![
                r.size.to_string(),
                r.variant.clone(),
                format!("{:.2}", r.gflops),
                format!("{:.2}", r.ms),
                np.map(|g| format!("{g:.1}")).unwrap_or_else(|| "n/a".into()),
            ]
        })
        .collect();
    println!("adapter: {}", gpu.adapter_name());
    println!("host: {}", report::host_line());
    println!("{}", report::markdown_table(&["M=N=K", "variant", "GFLOP/s", "ms", "numpy GFLOP/s"], &table));
    report::write_json(
        results,
        &report::envelope(
            "bench gemm",
            Some(&gpu),
            json!({"sizes": sizes, "reps": reps, "seed": 7}),
            json!({"advlab": rows, "numpy": numpy.iter().map(|(s, g)| json!({"size": s, "gflops": g})).collect::<Vec<_>>()}),
        ),
    )?;
    super::print_profile(&gpu);
    Ok(())
}

/// `advlab bench suite`: run the workloads, print one table, write results.json.
pub fn suite(gpu_opts: &GpuOptions, cfg: &crate::bench::suite::SuiteConfig, results: &Path) -> Result<()> {
    report::check_results_path(results, "bench suite")?;
    let gpu = super::open_gpu(gpu_opts)?;
    let rep = crate::bench::suite::run_suite(&gpu, cfg)?;
    let f = |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "n/a".into());
    let rows: Vec<Vec<String>> = rep
        .rows
        .iter()
        .map(|r| {
            vec![
                r.workload.to_string(),
                r.arch.clone(),
                r.batch.to_string(),
                r.images.to_string(),
                format!("{:.2}", r.seconds),
                format!("{:.0}", r.images_per_sec),
                format!("{:.1}", r.gflops),
                format!("{:.0}%", 100.0 * r.peak_fraction),
                f(r.torch.as_ref().map(|t| t.seconds), 2),
                f(r.torch.as_ref().map(|t| t.images_per_sec), 0),
                f(r.ratio, 2),
            ]
        })
        .collect();
    println!("adapter: {}; GEMM peak {:.1} GFLOP/s ({}³)", gpu.adapter_name(), rep.gemm_peak_gflops, cfg.peak_size);
    println!("host: {}", report::host_line());
    println!(
        "{}",
        report::markdown_table(
            &[
                "workload",
                "arch",
                "batch",
                "images",
                "seconds",
                "images/s",
                "GFLOP/s",
                "of GEMM peak",
                "torch s",
                "torch images/s",
                "ratio"
            ],
            &rows
        )
    );
    if let Some(why) = &rep.peer_skipped {
        println!("PyTorch peer skipped: {why}");
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    report::write_json(
        results,
        &report::envelope(
            "bench suite",
            Some(&gpu),
            json!({"config": cfg.settings(), "command_line": command, "flops": "2 FLOP per MAC per pass; training 3 passes, attack gradients 2", "optim": "sgd lr 0.01 momentum 0.9"}),
            serde_json::to_value(&rep)?,
        ),
    )?;
    super::print_profile(&gpu);
    Ok(())
}
