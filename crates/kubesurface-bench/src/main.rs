//! `kubesurface-bench`: synthetic clusters and the scale benchmark.
//!
//! - `gen --pods N --seed S -o FILE [--nca-dir DIR]`: one `kubectl get -o json` style List.
//! - `run --sizes 1000,10000,100000 [--nca-sizes 100,600,2000]`: generate (cached), run the
//!   kubesurface binary on each size, print a table.
//! - `compare-nca --pods N`: the answers of kubesurface and IBM network-config-analyzer on
//!   the same cluster, pair by pair.
//! - `floor FILE [--unchecked]`: map, check and skip a generated List on all cores, nothing
//!   else: the least a serde_json-based reader can take (`run` times it as a process of its
//!   own); `--unchecked` finds the items following only strings and brackets.

mod compare;
mod floor;
mod measure;
mod rng;
mod run;
mod synth;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Synthetic clusters and the kubesurface scale benchmark.
#[derive(Parser, Debug)]
#[command(name = "kubesurface-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a synthetic cluster (`{"kind":"List","items":[…]}`).
    Gen(GenArgs),
    /// Generate (cached) and benchmark every size; optionally against NCA.
    Run(run::RunArgs),
    /// Compare kubesurface's and NCA's allowed connections on one generated cluster.
    CompareNca(compare::CompareArgs),
    /// Map FILE, check it is UTF-8 and skip every item of its List on all cores, nothing
    /// else: the floor under any serde_json-based reader's time.
    Floor {
        /// A List as `gen` writes it.
        file: PathBuf,
        /// Find the items by following strings and brackets only, checking nothing else,
        /// instead of skipping each with serde_json.
        #[arg(long)]
        unchecked: bool,
    },
}

#[derive(clap::Args, Debug)]
struct GenArgs {
    /// Number of pods (platform DaemonSets and add-ons included).
    #[arg(long, default_value_t = 1000)]
    pods: usize,
    /// Seed: the same (pods, seed) gives byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file (`-` for stdout).
    #[arg(short = 'o', long = "output", default_value = "-")]
    output: String,
    /// Also write network-config-analyzer inputs (namespaces.json, pods.json, policies.json) here.
    #[arg(long, value_name = "DIR")]
    nca_dir: Option<PathBuf>,
    /// Indent like `kubectl get -o json` (about twice the bytes).
    #[arg(long)]
    pretty: bool,
}

/// The allocator kubesurface uses, so the in-process parse baselines (a `Value` parse is
/// mostly allocation) are measured on the same footing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(measure::LAUNCHER) && argv.len() >= 4 {
        let (report, program) = (PathBuf::from(&argv[2]), PathBuf::from(&argv[3]));
        return match measure::launch(&report, &program, &argv[4..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kubesurface-bench: {e}");
                ExitCode::from(2)
            }
        };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(a) => gen_cmd(a),
        Command::Run(a) => run::run(a),
        Command::CompareNca(a) => compare::compare_cmd(a),
        Command::Floor { file, unchecked } => floor::floor(
            &file,
            if unchecked {
                floor::Skipper::Unchecked
            } else {
                floor::Skipper::Validating
            },
        )
        .map(|s| {
            eprintln!(
                "kubesurface-bench: floor: {} items skipped in {} pieces",
                s.items, s.pieces
            );
            ExitCode::SUCCESS
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kubesurface-bench: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn gen_cmd(a: GenArgs) -> Result<ExitCode, String> {
    let opts = synth::GenOptions {
        pods: a.pods,
        seed: a.seed,
        pretty: a.pretty,
    };
    let summary = if a.output == "-" {
        let stdout = io::stdout().lock();
        let mut out = BufWriter::with_capacity(1 << 20, stdout);
        let s =
            synth::generate(&opts, &mut out, a.nca_dir.as_deref()).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        s
    } else {
        let f = File::create(&a.output).map_err(|e| format!("{}: {e}", a.output))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        let s =
            synth::generate(&opts, &mut out, a.nca_dir.as_deref()).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        s
    };
    eprintln!("kubesurface-bench: generated {}", summary.describe());
    Ok(ExitCode::SUCCESS)
}
