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
    /// Every entry point from outside, the pods and ports behind it, and whether
    /// NetworkPolicies admit the traffic.
    Exposure(ExposureArgs),
    /// Ranked findings: what is reachable that should not be, and policy mistakes.
    Audit(AuditArgs),
    /// The rule catalog: every rule, or one rule's rationale and remediation.
    Rules(RulesArgs),
    /// Who reaches what: `--from X --to Y[:PORT[/PROTO]]`; either side may be left out.
    Reach(ReachArgs),
    /// Why a connection is allowed or denied: every policy and rule on both sides.
    Explain(ExplainArgs),
    /// What changed between two inputs: connectivity, exposure, findings.
    Diff(DiffArgs),
    /// Checks an assertions file of expected reachability.
    Test(TestArgs),
    /// The node's listening sockets across network namespaces, with their owner pods.
    Sockets(SocketsArgs),
}

/// `sockets` options.
#[derive(clap::Args, Debug)]
pub struct SocketsArgs {
    /// The proc filesystem to read (for a node's /proc mounted elsewhere, or fixtures).
    #[arg(long, value_name = "DIR", default_value = "/proc")]
    pub proc: String,

    /// Node name reported (default: the hostname).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = QueryFormat::Table)]
    pub output: QueryFormat,
}

/// `diff` options.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The old input (file, directory or `-`).
    #[arg(value_name = "OLD")]
    pub old: String,

    /// The new input.
    #[arg(value_name = "NEW")]
    pub new: String,

    #[command(flatten)]
    pub config: ConfigArgs,

    /// Rows and columns of the connectivity comparison.
    #[arg(long, value_enum, default_value_t = GranularityArg::Workload)]
    pub granularity: GranularityArg,

    /// Whether ipBlock peers match pod addresses (as for `connectivity`; default: the
    /// config file's setting, else true).
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub ipblock_matches_pods: Option<bool>,

    /// Whose semantics apply (as for `connectivity`; default: the config file's
    /// `settings.cni`, else detected from NEW).
    #[arg(long, value_enum)]
    pub cni: Option<CniArg>,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = DiffFormat::Table)]
    pub output: DiffFormat,

    /// Exit 1 when a new unsuppressed finding is at or above this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on_new: Option<SeverityArg>,
}

/// `-o` of `diff`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum DiffFormat {
    /// For people.
    Table,
    /// `kubesurface.diff/v1`.
    Json,
    /// Markdown, for a pull-request comment.
    #[value(alias = "markdown")]
    Md,
}

/// `test` options.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// The assertions file: a YAML list of `{from, to, expect: allow|deny}`.
    #[arg(value_name = "ASSERTIONS")]
    pub assertions: String,

    #[command(flatten)]
    pub input: InputArgs,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = TestFormat::Table)]
    pub output: TestFormat,
}

/// `-o` of `test`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum TestFormat {
    /// For people; failures show the explain trail.
    Table,
    /// JUnit XML, for CI systems.
    Junit,
    /// JSON.
    Json,
}

/// `reach` options.
#[derive(clap::Args, Debug)]
pub struct ReachArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Source: `ns/pod`, `ns/name[Kind]`, `ns/Kind/name`, `ns/key=value`, `ext:IP|CIDR`,
    /// `node:NAME`. Omitted: every source.
    #[arg(long, value_name = "PEER")]
    pub from: Option<String>,

    /// Destination, as `--from` plus `svc:ns/name[:port]`, optionally `:PORT[/PROTO]`.
    /// Omitted: every destination.
    #[arg(long, value_name = "PEER[:PORT[/PROTO]]")]
    pub to: Option<String>,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = QueryFormat::Table)]
    pub output: QueryFormat,
}

/// `explain` options.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Source (as for `reach`).
    #[arg(long, value_name = "PEER")]
    pub from: String,

    /// Destination with port: `PEER:PORT[/PROTO]`.
    #[arg(long, value_name = "PEER:PORT[/PROTO]")]
    pub to: String,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = QueryFormat::Table)]
    pub output: QueryFormat,
}

/// `-o` of `reach` and `explain`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum QueryFormat {
    /// For people.
    Table,
    /// JSON.
    Json,
}

/// Options of commands that use the config file.
#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// Config file (trust zones, suppressions, settings). Default: `kubesurface.yaml` in
    /// the current directory, if present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,

    /// Node socket reports (`kubesurface sockets -o json`, one per node) to join: real
    /// listeners replace hostNetwork pods' declared ports, and KS106/KS109 can fire.
    #[arg(long, value_name = "FILE")]
    pub sockets: Vec<String>,

    /// Source assumed for external traffic under `externalTrafficPolicy: Cluster`: `node`
    /// (kube-proxy masquerades it to a node address) or `client` (the address is kept).
    #[arg(long, value_enum)]
    pub snat: Option<SnatArg>,
}

/// `--snat`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SnatArg {
    /// A node address.
    Node,
    /// The client address.
    Client,
}

/// `exposure` options.
#[derive(clap::Args, Debug)]
pub struct ExposureArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub config: ConfigArgs,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Table)]
    pub output: ReportFormat,
}

/// `audit` options.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub config: ConfigArgs,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = AuditFormat::Table)]
    pub output: AuditFormat,

    /// Exit 1 when an unsuppressed finding is at or above this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<SeverityArg>,
}

/// `rules` options.
#[derive(clap::Args, Debug)]
pub struct RulesArgs {
    /// A rule code (`KS101`); without it, the whole catalog.
    pub id: Option<String>,

    /// Write every rule's page to DIR/KSnnn.md (how docs/rules/ is generated).
    #[arg(long, value_name = "DIR")]
    pub write_docs: Option<String>,
}

/// `-o` of `exposure`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ReportFormat {
    /// For people.
    Table,
    /// `kubesurface.exposure/v1`.
    Json,
    /// CSV.
    Csv,
    /// Markdown.
    #[value(alias = "markdown")]
    Md,
}

/// `-o` of `audit`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AuditFormat {
    /// For people.
    Table,
    /// `kubesurface.audit/v1`.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// Markdown.
    #[value(alias = "markdown")]
    Md,
}

/// Severities.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SeverityArg {
    /// low
    Low,
    /// medium
    Medium,
    /// high
    High,
    /// critical
    Critical,
}

/// Options shared by every command that reads a cluster.
#[derive(clap::Args, Debug)]
pub struct InputArgs {
    /// Manifest files or directories (recursive; .yaml, .yml, .json); `-` reads stdin.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    /// Whether ipBlock peers match pod addresses: `true` as upstream Kubernetes' conformance
    /// tests and Calico, `false` as Cilium and np-guard netpol-analyzer. Default: the
    /// config file's `settings.ipblock_matches_pods` (audit, exposure, diff), else true.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub ipblock_matches_pods: Option<bool>,

    /// Whose semantics apply: which policy dialects are enforced (admin policies under
    /// generic and calico, Calico's under calico, Cilium's under cilium) and where CNIs
    /// differ on NetworkPolicy (ipBlocks match pod addresses except under cilium).
    /// Default: the config file's `settings.cni`, else detected from the input's Calico or
    /// Cilium objects, else generic.
    #[arg(long, value_enum)]
    pub cni: Option<CniArg>,

    #[command(flatten)]
    pub live: LiveArgs,
}

/// `--cni`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CniArg {
    /// Upstream NetworkPolicy semantics, admin policies honoured.
    Generic,
    /// Calico: its policies and tiers, admin policies, ipBlocks match pods.
    Calico,
    /// Cilium: its policies; ipBlocks and CIDR rules never match pods.
    Cilium,
}

impl CniArg {
    /// The model's value.
    pub fn cni(self) -> kubesurface_model::Cni {
        match self {
            CniArg::Generic => kubesurface_model::Cni::Generic,
            CniArg::Calico => kubesurface_model::Cni::Calico,
            CniArg::Cilium => kubesurface_model::Cni::Cilium,
        }
    }
}

/// Reading a live cluster (when no PATH is given).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct LiveArgs {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<String>,

    /// Kubeconfig context to use.
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,

    /// Only these namespaces (repeatable). Default: all namespaces.
    #[arg(short = 'n', long = "namespace", value_name = "NS", global = true)]
    pub namespaces: Vec<String>,

    /// All namespaces (the default when no `-n` is given).
    #[arg(short = 'A', long = "all-namespaces", global = true)]
    pub all_namespaces: bool,

    /// Write what was read from the cluster as one `v1 List` (YAML, or JSON for `.json`).
    #[arg(long, value_name = "FILE", global = true)]
    pub dump: Option<String>,

    /// No progress output on stderr.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
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
