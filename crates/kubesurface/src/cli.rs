//! Command-line definitions (clap derive).

use clap::{Parser, Subcommand, ValueEnum};

/// Who can reach what in a Kubernetes cluster, and why.
#[derive(Parser, Debug)]
#[command(name = "kubesurface", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// The NetworkPolicy connectivity matrix: every allowed (source, destination, ports).
    Connectivity(ConnectivityArgs),
}

/// Options shared by every command that reads a cluster.
#[derive(clap::Args, Debug)]
pub struct InputArgs {
    /// Manifest files or directories (recursive; .yaml, .yml, .json); `-` reads stdin.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    /// Whether ipBlock peers match pod addresses: `true` as upstream Kubernetes' conformance
    /// tests and Calico, `false` as Cilium and np-guard netpol-analyzer.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub ipblock_matches_pods: bool,
}

/// `connectivity` options.
#[derive(clap::Args, Debug)]
pub struct ConnectivityArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Rows and columns of the matrix.
    #[arg(long, value_enum, default_value_t = GranularityArg::Workload)]
    pub granularity: GranularityArg,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = FormatArg::Table)]
    pub output: FormatArg,

    /// Print figures (classes, peers, pairs, timings) to stderr.
    #[arg(long)]
    pub stats: bool,
}

/// `--granularity`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum GranularityArg {
    /// `namespace/pod`.
    Pod,
    /// `namespace/name[Kind]`.
    Workload,
    /// `namespace`.
    Namespace,
}

/// `-o`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// Grouped by source, for people.
    Table,
    /// `kubesurface.connectivity/v1`.
    Json,
    /// `src,dst,allowed`.
    Csv,
    /// Markdown table.
    #[value(alias = "markdown")]
    Md,
    /// Graphviz.
    Dot,
}
