//! The `advlab` command line: parses flags, calls the library, prints.

use std::path::PathBuf;
use std::process::ExitCode;

use advlab::cli;
use advlab::data::{DataSpec, Split};
use advlab::gpu::{DeviceChoice, GpuOptions};
use advlab::nn::optim::OptimKind;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "advlab",
    version,
    about = "Train, evaluate and attack image classifiers (FGSM, PGD, C&W, JSMA, stAdv) on any GPU (WGSL on wgpu; lavapipe when there is no GPU)"
)]
struct Cli {
    #[command(flatten)]
    gpu: GpuArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct GpuArgs {
    /// Adapter kind: auto (best GPU, else software), gpu (hardware only), cpu (wgpu's software adapter, lavapipe on Linux)
    #[arg(long, global = true, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Pick the adapter whose name contains this text (see `advlab info`)
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Print a per-kernel timing table (GPU timestamps, or wall clock where the adapter has none)
    #[arg(long, global = true)]
    profile: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// List adapters with their features and limits
    Info,
    /// Train a classifier and save it as safetensors (PyTorch names)
    Train(TrainCmd),
    /// Test accuracy of a saved model
    Eval(EvalCmd),
    /// Logits for images in an .npy file
    Predict(PredictCmd),
    /// Benchmarks
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Attacks: fgsm, pgd, cw, jsma, stadv (write adv.npy, results.json, grid.png to --out-dir)
    #[command(subcommand)]
    Attack(AttackAll),
    /// Join the outputs of every shard (--shard K/N) of one attack (--out-dirs) or eval (--results files) into what the unsharded run writes
    Merge {
        /// The shards' outputs, any order: attack --out-dirs (results.json, adv.npy, labels.npy) or eval results.json files
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged adv.npy, labels.npy, results.json
        #[arg(long)]
        out_dir: PathBuf,
    },
    /// Warp images with stAdv flows (bilinear, clamped; flow N×2×H×W, channel 0 vertical)
    Warp(cli::warp::WarpCmd),
    /// Per-image stAdv flow loss L_flow of flows in an .npy file
    FlowLoss(cli::warp::FlowLossCmd),
    /// Generic SDP max ⟨P,Z⟩, diag Z ≤ 1, Z ⪰ 0 for a symmetric P.npy: verified lower/upper bounds, c.npy
    Sdp(cli::sdp::SdpCmd),
    /// SDP certificates of an mlp:D-H-K against spatial flows or pixel L∞ (results.json, bounds, duals, PNG)
    Certify(cli::certify::CertifyCmd),
    /// Latent Attention Network (SPEC §5): train g against a frozen classifier, write its masks
    #[command(subcommand)]
    Lan(cli::lan::LanCmd),
    /// Flag images where f1 and the mask classifier f2(g(x)) disagree; TP, TN, ROC, AUC against --benign
    Detect(cli::detect::DetectArgs),
    /// The thesis' experiments as one command each: fig6 (certified defence, §4.2), lan (detection, §3)
    #[command(subcommand)]
    Reproduce(cli::reproduce::ReproduceCmd),
}

fn parse_data(s: &str) -> Result<DataSpec, String> {
    DataSpec::parse(s).map_err(|e| e.to_string())
}

fn parse_schedule(s: &str) -> Result<advlab::nn::optim::ScheduleKind, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

#[derive(Args)]
#[command(after_help = advlab::nn::recipe::help_table())]
struct TrainCmd {
    /// Architecture: mlp:784-500-10, mlp:784-256-128-10, lenet, lenet:3x32x32, alexnet-cifar, vgg-cifar[:W[:dS]]
    #[arg(long)]
    arch: String,
    /// Data: mnist:DIR, cifar10:DIR, npydir:DIR (train_x/train_y/test_x/test_y.npy), npy:X.npy,Y.npy
    /// (one file pair for both splits) (default: the MNIST subset in assets/)
    #[arg(long, value_parser = parse_data, default_value = "bundled")]
    data: DataSpec,
    /// Passes over the training set [default: the arch's recipe, below]
    #[arg(long)]
    epochs: Option<usize>,
    /// Images per optimiser step [default: the arch's recipe]
    #[arg(long)]
    batch: Option<usize>,
    /// Optimiser [default: the arch's recipe]
    #[arg(long, value_enum)]
    optim: Option<OptimKind>,
    /// Learning rate [default: the arch's recipe; 0.05 for sgd, 1e-3 for adam when --optim differs from it]
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f32>,
    /// SGD momentum [default: the arch's recipe]
    #[arg(long, allow_negative_numbers = true)]
    momentum: Option<f32>,
    /// L2 weight decay [default: the arch's recipe]
    #[arg(long, allow_negative_numbers = true)]
    weight_decay: Option<f32>,
    /// Seed of the initialisation, shuffles, augmentation, dropout and --val split
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Model file to write (checkpointed atomically every epoch)
    #[arg(long)]
    out: PathBuf,
    /// Continue from the checkpoint at --out (and its .train-state); refused if the settings differ
    #[arg(long)]
    resume: bool,
    /// Where to write results.json
    #[arg(long, default_value = "results.json")]
    results: PathBuf,
    /// Augment the training images: crop-flip (random crop with 4-pixel zero padding + horizontal flip,
    /// what a bare --augment means), flip (horizontal flip only) or none [default: the arch's recipe]
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "crop-flip")]
    augment: Option<advlab::nn::train::Augment>,
    /// Start from these weights (safetensors of the same --arch) with a fresh optimiser, e.g. to fine-tune;
    /// ignored when --resume finds a checkpoint
    #[arg(long)]
    init: Option<PathBuf>,
    /// Learning-rate schedule, stepped per epoch: constant, step or cosine [default: the arch's recipe]
    #[arg(long, value_parser = parse_schedule)]
    schedule: Option<advlab::nn::optim::ScheduleKind>,
    /// Epochs between learning-rate decays (--schedule step)
    #[arg(long, default_value_t = 30)]
    step_size: usize,
    /// Learning-rate decay factor (--schedule step)
    #[arg(long, default_value_t = 0.1)]
    gamma: f32,
    /// Hold out N training images (drawn with --seed) for validation: their accuracy is logged every
    /// epoch and the best epoch's model is also saved as OUT.best.safetensors
    #[arg(long, default_value_t = 0)]
    val: usize,
    #[command(flatten)]
    cert: advlab::cli::certtrain::CertFlags,
}

#[derive(Args)]
struct EvalCmd {
    /// Architecture of the model, e.g. mlp:784-500-10, lenet, alexnet-cifar (see `advlab train --help`)
    #[arg(long)]
    arch: String,
    /// Model file (safetensors)
    #[arg(long)]
    model: PathBuf,
    /// Data: mnist:DIR, cifar10:DIR, npydir:DIR, npy:X.npy,Y.npy (default: bundled MNIST subset)
    #[arg(long, value_parser = parse_data, default_value = "bundled")]
    data: DataSpec,
    /// Which split of --data to score: train or test
    #[arg(long, default_value = "test")]
    split: Split,
    /// Score only these images: a 1-D integer .npy of positions in the split (order kept, repeats allowed)
    #[arg(long)]
    indices: Option<PathBuf>,
    /// Images per batch (a batch larger than the adapter holds runs as several device batches)
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Score only slice K of N of the selected images, or `auto` (K from SLURM_ARRAY_TASK_ID or
    /// JOB_COMPLETION_INDEX); join the shards' --results with `advlab merge`
    #[arg(long)]
    shard: Option<String>,
    /// Shard count for --shard auto (default: SLURM_ARRAY_TASK_COUNT)
    #[arg(long)]
    shards: Option<usize>,
    /// Where to write results.json
    #[arg(long, default_value = "results.json")]
    results: PathBuf,
}

#[derive(Args)]
struct PredictCmd {
    /// Architecture of the model, e.g. mlp:784-500-10, lenet, alexnet-cifar (see `advlab train --help`)
    #[arg(long)]
    arch: String,
    /// Model file (safetensors)
    #[arg(long)]
    model: PathBuf,
    /// Images f32 in [0,1]: N×C×H×W or N×(C·H·W) matching --arch
    #[arg(long)]
    input: PathBuf,
    /// Logits N×classes f32
    #[arg(long)]
    out: PathBuf,
    /// Images per batch (a batch larger than the adapter holds runs as several device batches)
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

#[derive(Subcommand)]
enum AttackAll {
    #[command(flatten)]
    Pixel(cli::attack::AttackCmd),
    /// Spatially transformed adversarial examples (SPEC §4): flow warp, τ search, flow budget; also writes flow.npy
    Stadv(cli::stadv::StadvArgs),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Attack throughput (images/s) of fgsm, pgd, cw and jsma at their defaults
    Attack {
        /// Architecture to attack
        #[arg(long, default_value = "mlp:784-500-10")]
        arch: String,
        /// Model to attack (default: a seeded random initialisation)
        #[arg(long)]
        model: Option<PathBuf>,
        /// Data the images come from (its test split)
        #[arg(long, value_parser = parse_data, default_value = "bundled")]
        data: DataSpec,
        /// Images per method
        #[arg(long, default_value_t = 64)]
        count: usize,
        /// Images per attack batch
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Seed of the random initialisation and random targets
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write results.json
        #[arg(long, default_value = "results.json")]
        results: PathBuf,
    },
    /// GEMM GFLOP/s for NN, NT and TN square products (and numpy's, if present)
    Gemm {
        /// Sizes M=N=K (comma-separated)
        #[arg(long, value_delimiter = ',', default_value = "256,512,1024,2048")]
        sizes: Vec<usize>,
        /// Timed products per size and variant, after one warm-up
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Where to write results.json
        #[arg(long, default_value = "results.json")]
        results: PathBuf,
    },
    /// Conv-layer forward/backward GFLOP/s (2·MACs per pass) of lenet and alexnet-cifar
    Conv {
        /// Architectures whose conv layers to time (comma-separated)
        #[arg(long, value_delimiter = ',', default_value = "lenet,alexnet-cifar")]
        arch: Vec<String>,
        /// Images per batch
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Timed repetitions per pass after one warm-up
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// First time every algorithm (fast, direct, im2col) on each pass of each layer at --batch and record the
        /// fastest for this adapter and shape in the conv tuning file ($ADVLAB_CONV_TUNING, else
        /// ~/.cache/advlab/conv-tuning.json), which training and attacks then follow at that batch size
        #[arg(long)]
        tune: bool,
        /// Where to write results.json
        #[arg(long, default_value = "results.json")]
        results: PathBuf,
    },
    /// The five workloads of issue 15 (MLP, LeNet-5 epochs; FGSM, C&W on MNIST; alexnet-cifar epoch), with PyTorch's figures when it is importable
    Suite {
        /// Workloads to run (comma-separated; default all five)
        #[arg(long, value_enum, value_delimiter = ',', default_value = "mlp,lenet,fgsm,cw,alexnet")]
        only: Vec<advlab::bench::suite::Workload>,
        /// Share of each workload's images to run, in (0, 1] (1: full epochs and the image counts)
        #[arg(long, default_value_t = 1.0)]
        fraction: f64,
        /// MNIST data for mlp, lenet, fgsm, cw
        #[arg(long, value_parser = parse_data, default_value = "mnist:../shared/data/mnist")]
        mnist: DataSpec,
        /// CIFAR-10 data for alexnet
        #[arg(long, value_parser = parse_data, default_value = "cifar10:../shared/data/cifar-10-batches-bin")]
        cifar: DataSpec,
        /// M = N = K of the GEMM whose best GFLOP/s is taken as the adapter's peak
        #[arg(long, default_value_t = 1024)]
        peak_size: usize,
        /// Do not run the PyTorch peer even when torch is importable
        #[arg(long)]
        no_peer: bool,
        /// Runs of each workload (advlab's and the peer's alternating); the table keeps the fastest of each, results.json every run
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// Seed of model initialisation, shuffling and C&W targets
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write results.json
        #[arg(long, default_value = "results.json")]
        results: PathBuf,
    },
    /// MLP training throughput (images/s)
    Train {
        /// Architecture to train
        #[arg(long, default_value = "mlp:784-500-10")]
        arch: String,
        /// Training data (its train split)
        #[arg(long, value_parser = parse_data, default_value = "bundled")]
        data: DataSpec,
        /// Images per training step
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Timed epochs after one warm-up epoch
        #[arg(long, default_value_t = 2)]
        epochs: usize,
        /// Where to write results.json
        #[arg(long, default_value = "results.json")]
        results: PathBuf,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let g = GpuOptions { device: cli.gpu.device, adapter: cli.gpu.adapter.clone(), profile: cli.gpu.profile };
    match cli.cmd {
        Cmd::Info => {
            print!("{}", advlab::gpu::adapter_report());
            Ok(())
        }
        Cmd::Train(t) => {
            if let Some(w) = t.data.train_warning() {
                eprintln!("warning: {w}");
            }
            cli::train::run(
                &g,
                &cli::train::TrainArgs {
                    arch: t.arch,
                    data: t.data,
                    epochs: t.epochs,
                    batch: t.batch,
                    optim: t.optim,
                    lr: t.lr,
                    momentum: t.momentum,
                    weight_decay: t.weight_decay,
                    seed: t.seed,
                    out: t.out,
                    resume: t.resume,
                    results: t.results,
                    augment: t.augment,
                    init: t.init,
                    schedule: t.schedule,
                    step_size: t.step_size,
                    gamma: t.gamma,
                    val: t.val,
                    cert: t.cert,
                },
            )
        }
        Cmd::Eval(e) => cli::model_cmds::eval(
            &g,
            &cli::model_cmds::EvalArgs {
                arch: &e.arch,
                model: &e.model,
                data: &e.data,
                selection: &advlab::data::Selection { split: e.split, indices: e.indices.clone(), count: None },
                batch: e.batch,
                results: &e.results,
                shard: advlab::shard::resolve(e.shard.as_deref().map(str::parse).transpose()?, e.shards, |k| {
                    std::env::var(k).ok()
                })?,
            },
        ),
        Cmd::Predict(p) => cli::model_cmds::predict(&g, &p.arch, &p.model, &p.input, &p.out, p.batch),
        Cmd::Attack(AttackAll::Pixel(a)) => cli::attack::run(&g, &a),
        Cmd::Attack(AttackAll::Stadv(a)) => cli::stadv::run(&g, &a),
        Cmd::Merge { dirs, out_dir } => cli::merge::run(&dirs, &out_dir),
        Cmd::Warp(w) => cli::warp::run_warp(&g, &w),
        Cmd::FlowLoss(f) => cli::warp::run_flow_loss(&g, &f),
        Cmd::Sdp(s) => cli::sdp::run(&s),
        Cmd::Certify(c) => cli::certify::run(&g, &c),
        Cmd::Lan(cli::lan::LanCmd::Train(a)) => cli::lan::run_train(&g, &a),
        Cmd::Lan(cli::lan::LanCmd::Masks(a)) => cli::lan::run_masks(&g, &a),
        Cmd::Detect(d) => cli::detect::run(&g, &d),
        Cmd::Reproduce(r) => cli::reproduce::run(&g, &r),
        Cmd::Bench(BenchCmd::Gemm { sizes, reps, results }) => cli::bench::gemm(&g, &sizes, reps, &results),
        Cmd::Bench(BenchCmd::Conv { arch, batch, reps, tune, results }) => {
            cli::bench::conv(&g, &arch, batch, reps, tune, &results)
        }
        Cmd::Bench(BenchCmd::Attack { arch, model, data, count, batch, seed, results }) => {
            cli::attack::bench(&g, &arch, model.as_deref(), &data, count, batch, seed, &results)
        }
        Cmd::Bench(BenchCmd::Suite { only, fraction, mnist, cifar, peak_size, no_peer, repeat, seed, results }) => {
            let cfg = advlab::bench::suite::SuiteConfig {
                only,
                fraction,
                mnist,
                cifar,
                peak_size,
                peer: !no_peer,
                repeat,
                seed,
            };
            cli::bench::suite(&g, &cfg, &results)
        }
        Cmd::Bench(BenchCmd::Train { arch, data, batch, epochs, results }) => {
            cli::bench::train(&g, &arch, &data, batch, epochs, &results)
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the cause chain joined, naming the input.
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every flag of train, eval, predict and the bench commands says what it is.
    #[test]
    fn model_and_bench_commands_document_every_argument() {
        let cli = Cli::command();
        let mut missing = Vec::new();
        let paths: [&[&str]; 8] = [
            &["bench", "suite"],
            &["train"],
            &["eval"],
            &["predict"],
            &["bench", "attack"],
            &["bench", "gemm"],
            &["bench", "conv"],
            &["bench", "train"],
        ];
        for path in paths {
            let mut c = &cli;
            for name in path {
                c = c.find_subcommand(name).unwrap_or_else(|| panic!("no subcommand {path:?}"));
            }
            for a in c.get_arguments() {
                if a.get_help().is_none() {
                    missing.push(format!("{} --{}", path.join(" "), a.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    /// The about line names only commands that exist.
    #[test]
    fn about_names_existing_commands_only() {
        let cli = Cli::command();
        let about = cli.get_about().map(|s| s.to_string()).unwrap_or_default();
        let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        for word in ["detect", "certify"] {
            assert!(!about.to_lowercase().contains(word) || names.contains(&word), "{about}");
        }
    }

    #[test]
    fn eval_split_parses() {
        let c = Cli::try_parse_from(["advlab", "eval", "--arch", "lenet", "--model", "m", "--split", "train"]).unwrap();
        let Cmd::Eval(e) = c.cmd else { panic!("not eval") };
        assert_eq!((e.split, e.indices), (Split::Train, None));
        let err = Cli::try_parse_from(["advlab", "eval", "--arch", "lenet", "--model", "m", "--split", "val"]);
        let s = err.err().unwrap().to_string();
        assert!(s.contains("expected train or test"), "{s}");
    }
}
