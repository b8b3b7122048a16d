//! The synthetic cluster: a `kubectl get -o json` style `List` with namespaces, nodes,
//! Deployments → ReplicaSets → Pods, StatefulSets, DaemonSets, Services of every type,
//! Ingresses and NetworkPolicies in the styles people write.
//!
//! Everything is drawn from one seeded generator in a fixed order, so a (pods, seed) pair
//! always gives byte-identical output (for a given serde_json build).
//!
//! Addressing: node `k` owns pod CIDR `10.0.0.0 + k·512 /23`; node InternalIPs are in
//! 172.16.0.0/12 (from 172.16.1.0); Service ClusterIPs in 172.20.0.0/14; LoadBalancer
//! addresses in 203.0.113.0/24 and 198.51.100.0/24. Policies' ipBlocks overlap the pod
//! network on purpose (10.0.0.0/16 except 10.0.1.0/24, 0.0.0.0/0 except 10/8 …), so the
//! ipBlock-matches-pods setting changes answers.

use std::collections::{BTreeSet, HashSet};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::rng::Rng;

/// Bumped whenever the output for a given (pods, seed) changes; part of cache file names.
pub const GENERATOR_VERSION: u32 = 1;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Total number of Pods (platform DaemonSets and add-ons included).
    pub pods: usize,
    /// Seed.
    pub seed: u64,
    /// Indent like `kubectl get -o json` (4 spaces) instead of one compact object a line.
    pub pretty: bool,
}

/// Counts of what was generated.
#[derive(Clone, Debug, Default)]
pub struct GenSummary {
    pub namespaces: usize,
    pub nodes: usize,
    pub deployments: usize,
    pub replicasets: usize,
    pub statefulsets: usize,
    pub daemonsets: usize,
    pub pods: usize,
    pub host_network_pods: usize,
    pub services: usize,
    pub ingresses: usize,
    pub policies: usize,
    pub bytes: u64,
}

const TEAMS: &[&str] = &[
    "payments",
    "checkout",
    "search",
    "identity",
    "catalog",
    "orders",
    "shipping",
    "billing",
    "growth",
    "ads",
    "analytics",
    "messaging",
    "media",
    "risk",
    "fraud",
    "loyalty",
    "pricing",
    "inventory",
    "reviews",
    "support",
    "partners",
    "mobile",
    "storefront",
    "data",
    "ml",
    "notifications",
    "accounts",
    "booking",
    "maps",
    "compliance",
    "ledger",
    "travel",
];

const COMPONENTS: &[&str] = &[
    "api",
    "web",
    "frontend",
    "gateway",
    "auth",
    "cart",
    "checkout",
    "search",
    "indexer",
    "catalog",
    "orders",
    "payments",
    "ledger",
    "users",
    "profile",
    "notifications",
    "mailer",
    "scheduler",
    "worker",
    "consumer",
    "producer",
    "recommender",
    "ranking",
    "pricing",
    "inventory",
    "shipping",
    "tracking",
    "reports",
    "exporter",
    "importer",
    "sync",
    "cache",
    "redis",
    "postgres",
    "mysql",
    "kafka",
    "zookeeper",
    "elasticsearch",
    "admin",
    "console",
    "graphql",
    "bff",
    "session",
    "quota",
    "audit",
    "events",
    "media",
    "thumbnails",
];

const ZONES: &[&str] = &["us-east-1a", "us-east-1b", "us-east-1c"];
const INSTANCE_TYPES: &[&str] = &["m5.2xlarge", "m5.4xlarge", "c5.4xlarge", "r5.2xlarge"];
const PRIVATE_CIDRS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    Frontend,
    Backend,
    Worker,
    Data,
    Cache,
}

impl Tier {
    fn as_str(self) -> &'static str {
        match self {
            Tier::Frontend => "frontend",
            Tier::Backend => "backend",
            Tier::Worker => "worker",
            Tier::Data => "data",
            Tier::Cache => "cache",
        }
    }

    fn of(component: &str) -> Tier {
        match component {
            "web" | "frontend" | "gateway" | "console" | "admin" | "bff" | "graphql" => {
                Tier::Frontend
            }
            "postgres" | "mysql" | "kafka" | "zookeeper" | "elasticsearch" => Tier::Data,
            "redis" | "cache" | "session" => Tier::Cache,
            "worker" | "consumer" | "scheduler" | "indexer" | "exporter" | "importer" | "sync"
            | "mailer" | "thumbnails" | "producer" => Tier::Worker,
            _ => Tier::Backend,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

#[derive(Clone, Debug)]
struct CPort {
    name: String,
    port: u16,
    protocol: &'static str,
}

fn cport(name: &str, port: u16) -> CPort {
    CPort {
        name: name.to_string(),
        port,
        protocol: "TCP",
    }
}

fn cport_udp(name: &str, port: u16) -> CPort {
    CPort {
        name: name.to_string(),
        port,
        protocol: "UDP",
    }
}

#[derive(Clone, Debug)]
struct Container {
    name: String,
    image: String,
    ports: Vec<CPort>,
    cpu_m: u32,
    mem_mi: u32,
    env: Vec<(String, String)>,
    probe_port: Option<String>,
}

#[derive(Clone, Debug)]
struct PodPlace {
    name: String,
    node: usize,
    ip: Ipv4Addr,
    uid: String,
}

#[derive(Clone, Debug)]
struct App {
    ns: usize,
    name: String,
    kind: Kind,
    tier: Tier,
    component: String,
    replicas: usize,
    labels: Vec<(String, String)>,
    selector: Vec<(String, String)>,
    containers: Vec<Container>,
    host_network: bool,
    hash: String,
    old_hash: Option<String>,
    uid: String,
    rs_uid: String,
    old_rs_uid: String,
    service_account: String,
    annotations: Vec<(String, String)>,
    pods: Vec<PodPlace>,
}

impl App {
    fn has_port(&self, name: &str) -> bool {
        self.containers
            .iter()
            .any(|c| c.ports.iter().any(|p| p.name == name))
    }

    fn main_port(&self) -> Option<&CPort> {
        self.containers.first().and_then(|c| c.ports.first())
    }
}

#[derive(Clone, Debug)]
struct Ns {
    name: String,
    team: String,
    labels: Vec<(String, String)>,
    platform: bool,
    default_deny: bool,
    strict_egress: bool,
    allow_same_ns: bool,
    uid: String,
}

#[derive(Clone, Debug)]
struct Node {
    name: String,
    ip: Ipv4Addr,
    zone: &'static str,
    instance: &'static str,
    uid: String,
    used: usize,
}

/// The planned cluster, before it is written.
struct Plan {
    namespaces: Vec<Ns>,
    nodes: Vec<Node>,
    apps: Vec<App>,
}

fn labels_json(labels: &[(String, String)]) -> Value {
    let mut m = Map::new();
    for (k, v) in labels {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

fn l(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn timestamp(rng: &mut Rng) -> String {
    let day = rng.range(1, 28);
    let h = rng.below(24);
    let m = rng.below(60);
    let s = rng.below(60);
    format!("2025-03-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Distributes `total` over `weights` proportionally, each at least 1, summing to `total`
/// exactly (`total >= weights.len()`).
fn apportion(total: usize, weights: &[f64]) -> Vec<usize> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let spare = total.saturating_sub(n) as f64;
    let sum: f64 = weights.iter().sum();
    let mut out: Vec<usize> = weights
        .iter()
        .map(|w| 1 + (spare * w / sum).floor() as usize)
        .collect();
    let mut have: usize = out.iter().sum();
    let mut i = 0;
    while have < total {
        out[i % n] += 1;
        have += 1;
        i += 1;
    }
    while have > total {
        if out[i % n] > 1 {
            out[i % n] -= 1;
            have -= 1;
        }
        i += 1;
    }
    out
}

fn plan(opts: &GenOptions) -> Plan {
    let mut rng = Rng::new(opts.seed);
    let n_pods = opts.pods.max(40);
    let n_nodes = (n_pods / 100).max(3);

    let mut nodes: Vec<Node> = (0..n_nodes)
        .map(|k| {
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 16, 1, 0)) + k as u32);
            let o = ip.octets();
            Node {
                name: format!("ip-{}-{}-{}-{}.ec2.internal", o[0], o[1], o[2], o[3]),
                ip,
                zone: ZONES[k % ZONES.len()],
                instance: INSTANCE_TYPES[rng.below(INSTANCE_TYPES.len() as u64) as usize],
                uid: rng.uuid(),
                used: 0,
            }
        })
        .collect();

    // Platform namespaces.
    let mut namespaces: Vec<Ns> = Vec::new();
    let platform = |name: &str, extra: &[(&str, &str)], rng: &mut Rng| {
        let mut labels = vec![l("kubernetes.io/metadata.name", name)];
        for (k, v) in extra {
            labels.push(l(k, v));
        }
        Ns {
            name: name.to_string(),
            team: "platform".to_string(),
            labels,
            platform: true,
            default_deny: false,
            strict_egress: false,
            allow_same_ns: false,
            uid: rng.uuid(),
        }
    };
    namespaces.push(platform("kube-system", &[], &mut rng));
    let mut monitoring = platform(
        "monitoring",
        &[("team", "platform"), ("purpose", "monitoring")],
        &mut rng,
    );
    monitoring.default_deny = true;
    namespaces.push(monitoring);
    namespaces.push(platform(
        "ingress-nginx",
        &[("team", "platform"), ("purpose", "ingress")],
        &mut rng,
    ));
    namespaces.push(platform(
        "logging",
        &[("team", "platform"), ("purpose", "logging")],
        &mut rng,
    ));
    let platform_ns = namespaces.len();

    // Platform workloads.
    let mut apps: Vec<App> = Vec::new();
    let ingress_replicas = (n_pods / 20_000).max(2);
    let coredns_replicas = (n_pods / 25_000).max(2);
    let platform_pods = 2 * n_nodes + coredns_replicas + 2 + 1 + ingress_replicas;
    let app_pods = n_pods.saturating_sub(platform_pods).max(10);

    // App namespaces and workloads.
    let n_workloads = (app_pods / 16).max(2);
    let n_app_ns = (n_pods / 200).clamp(2, n_workloads);
    let mut taken: HashSet<String> = namespaces.iter().map(|n| n.name.clone()).collect();
    for _ in 0..n_app_ns {
        let team = rng.pick(TEAMS).to_string();
        let e = rng.unit();
        let env = if e < 0.5 {
            "prod"
        } else if e < 0.8 {
            "staging"
        } else {
            "dev"
        };
        let mut name = format!("{team}-{env}");
        let mut k = 2;
        while taken.contains(&name) {
            name = format!("{team}-{env}-{k}");
            k += 1;
        }
        taken.insert(name.clone());
        let mut labels = vec![
            l("kubernetes.io/metadata.name", &name),
            l("team", &team),
            l("env", env),
        ];
        if env == "prod" && matches!(team.as_str(), "payments" | "billing" | "ledger") {
            labels.push(l("compliance", "pci"));
        }
        if rng.chance(0.3) {
            labels.push(l("istio-injection", "enabled"));
        }
        if rng.chance(0.2) {
            labels.push(l("cost-center", &format!("cc-{}", rng.range(1000, 1099))));
        }
        let default_deny = rng.chance(0.93);
        let strict_egress = default_deny && rng.chance(0.35);
        let allow_same_ns = rng.chance(0.3);
        namespaces.push(Ns {
            name,
            team,
            labels,
            platform: false,
            default_deny,
            strict_egress,
            allow_same_ns,
            uid: rng.uuid(),
        });
    }

    // Platform apps: coredns, node-agent (hostNetwork DaemonSet), prometheus, grafana,
    // ingress controller, fluent-bit.
    let mk_container = |name: &str, image: &str, ports: Vec<CPort>, rng: &mut Rng| Container {
        name: name.to_string(),
        image: image.to_string(),
        probe_port: ports.first().map(|p| p.name.clone()),
        ports,
        cpu_m: *rng.pick(&[50, 100, 250, 500, 1000]),
        mem_mi: *rng.pick(&[64, 128, 256, 512, 1024, 2048]),
        env: Vec::new(),
    };
    let platform_app = |ns: usize,
                        name: &str,
                        kind: Kind,
                        tier: Tier,
                        replicas: usize,
                        labels: Vec<(String, String)>,
                        containers: Vec<Container>,
                        host_network: bool,
                        rng: &mut Rng| {
        let selector = vec![labels[0].clone()];
        App {
            ns,
            name: name.to_string(),
            kind,
            tier,
            component: name.to_string(),
            replicas,
            labels,
            selector,
            containers,
            host_network,
            hash: rng.k8s_suffix(10),
            old_hash: None,
            uid: rng.uuid(),
            rs_uid: rng.uuid(),
            old_rs_uid: rng.uuid(),
            service_account: name.to_string(),
            annotations: Vec::new(),
            pods: Vec::new(),
        }
    };
    let c = mk_container(
        "coredns",
        "registry.k8s.io/coredns/coredns:v1.11.1",
        vec![
            cport_udp("dns", 53),
            cport("dns-tcp", 53),
            cport("metrics", 9153),
        ],
        &mut rng,
    );
    apps.push(platform_app(
        0,
        "coredns",
        Kind::Deployment,
        Tier::Backend,
        coredns_replicas,
        vec![l("k8s-app", "kube-dns")],
        vec![c],
        false,
        &mut rng,
    ));
    let c = mk_container(
        "node-agent",
        "quay.io/prometheus/node-exporter:v1.8.1",
        vec![cport("metrics", 9100)],
        &mut rng,
    );
    apps.push(platform_app(
        0,
        "node-agent",
        Kind::DaemonSet,
        Tier::Worker,
        n_nodes,
        vec![l("k8s-app", "node-agent")],
        vec![c],
        true,
        &mut rng,
    ));
    let c = mk_container(
        "prometheus",
        "quay.io/prometheus/prometheus:v2.53.0",
        vec![cport("web", 9090)],
        &mut rng,
    );
    apps.push(platform_app(
        1,
        "prometheus",
        Kind::StatefulSet,
        Tier::Backend,
        2,
        vec![
            l("app.kubernetes.io/name", "prometheus"),
            l("app.kubernetes.io/part-of", "monitoring"),
        ],
        vec![c],
        false,
        &mut rng,
    ));
    let c = mk_container(
        "grafana",
        "docker.io/grafana/grafana:11.1.0",
        vec![cport("http", 3000)],
        &mut rng,
    );
    apps.push(platform_app(
        1,
        "grafana",
        Kind::Deployment,
        Tier::Frontend,
        1,
        vec![
            l("app.kubernetes.io/name", "grafana"),
            l("app.kubernetes.io/part-of", "monitoring"),
        ],
        vec![c],
        false,
        &mut rng,
    ));
    let c = mk_container(
        "controller",
        "registry.k8s.io/ingress-nginx/controller:v1.11.1",
        vec![
            cport("http", 80),
            cport("https", 443),
            cport("metrics", 10254),
        ],
        &mut rng,
    );
    apps.push(platform_app(
        2,
        "ingress-nginx-controller",
        Kind::Deployment,
        Tier::Frontend,
        ingress_replicas,
        vec![
            l("app.kubernetes.io/name", "ingress-nginx"),
            l("app.kubernetes.io/component", "controller"),
        ],
        vec![c],
        false,
        &mut rng,
    ));
    let c = mk_container(
        "fluent-bit",
        "cr.fluentbit.io/fluent/fluent-bit:3.0.7",
        vec![cport("http-metrics", 2020)],
        &mut rng,
    );
    apps.push(platform_app(
        3,
        "fluent-bit",
        Kind::DaemonSet,
        Tier::Worker,
        n_nodes,
        vec![l("app.kubernetes.io/name", "fluent-bit")],
        vec![c],
        false,
        &mut rng,
    ));

    // App workloads: spread over the app namespaces with uneven weights.
    let ns_weights: Vec<f64> = (0..n_app_ns).map(|_| 0.2 + rng.unit() * 1.8).collect();
    let ns_wsum: f64 = ns_weights.iter().sum();
    let mut ns_of_app: Vec<usize> = (0..n_app_ns).collect();
    for _ in n_app_ns..n_workloads {
        let mut x = rng.unit() * ns_wsum;
        let mut pick = n_app_ns - 1;
        for (i, w) in ns_weights.iter().enumerate() {
            if x < *w {
                pick = i;
                break;
            }
            x -= w;
        }
        ns_of_app.push(pick);
    }
    ns_of_app.sort_unstable();

    let mut names_in_ns: HashSet<(usize, String)> = HashSet::new();
    let first_app = apps.len();
    let mut weights: Vec<f64> = Vec::new();
    for &nsi in &ns_of_app {
        let ns = platform_ns + nsi;
        let component = rng.pick(COMPONENTS).to_string();
        let team = namespaces[ns].team.clone();
        let mut name = if rng.chance(0.5) {
            format!("{team}-{component}")
        } else {
            component.clone()
        };
        let base = name.clone();
        let mut k = 2;
        while !names_in_ns.insert((ns, name.clone())) {
            name = format!("{base}-{k}");
            k += 1;
        }
        let tier = Tier::of(&component);
        let kind = match tier {
            Tier::Data | Tier::Cache => Kind::StatefulSet,
            _ => Kind::Deployment,
        };
        let mut labels = vec![
            l("app.kubernetes.io/name", &name),
            l("app.kubernetes.io/part-of", &team),
            l("tier", tier.as_str()),
            l("team", &team),
        ];
        if rng.chance(0.6) {
            labels.push(l("version", &format!("v{}", rng.range(1, 4))));
        }
        if rng.chance(0.03) {
            labels.push(l("canary", "true"));
        }
        if rng.chance(0.1) {
            labels.push(l("security.example.com/exposure", "internal"));
        }
        let selector = vec![labels[0].clone()];

        let image = format!(
            "registry.example.com/{team}/{component}:{}.{}.{}",
            rng.range(1, 4),
            rng.below(20),
            rng.below(10)
        );
        let mut main_ports: Vec<CPort> = Vec::new();
        let mut extra: Vec<Container> = Vec::new();
        let metrics_port = *rng.pick(&[9090u16, 9090, 9091, 8081]);
        match tier {
            Tier::Frontend => {
                main_ports.push(cport("http", *rng.pick(&[8080u16, 8080, 3000, 8000, 80])));
                if rng.chance(0.3) {
                    main_ports.push(cport("https", 8443));
                }
                if rng.chance(0.7) {
                    main_ports.push(cport("metrics", metrics_port));
                }
            }
            Tier::Backend => {
                main_ports.push(cport("http", *rng.pick(&[8080u16, 8080, 8000, 5000])));
                if rng.chance(0.5) {
                    main_ports.push(cport("grpc", *rng.pick(&[9000u16, 50051])));
                }
                if rng.chance(0.8) {
                    main_ports.push(cport("metrics", metrics_port));
                }
            }
            Tier::Worker => {
                main_ports.push(cport("health", 8081));
                if rng.chance(0.9) {
                    main_ports.push(cport("metrics", metrics_port));
                }
            }
            Tier::Data => match component.as_str() {
                "postgres" => main_ports.push(cport("postgres", 5432)),
                "mysql" => main_ports.push(cport("mysql", 3306)),
                "kafka" => {
                    main_ports.push(cport("kafka", 9092));
                    main_ports.push(cport("kafka-internal", 9093));
                    main_ports.push(cport("kafka-ctrl", 9094));
                }
                "zookeeper" => {
                    main_ports.push(cport("client", 2181));
                    main_ports.push(cport("peer", 2888));
                    main_ports.push(cport("leader", 3888));
                }
                _ => {
                    main_ports.push(cport("http", 9200));
                    main_ports.push(cport("transport", 9300));
                }
            },
            Tier::Cache => main_ports.push(cport("redis", 6379)),
        }
        if matches!(tier, Tier::Data | Tier::Cache) {
            extra.push(Container {
                name: "metrics-exporter".to_string(),
                image: "quay.io/prometheuscommunity/exporter:v0.15.0".to_string(),
                ports: vec![cport("metrics", 9187)],
                cpu_m: 50,
                mem_mi: 64,
                env: Vec::new(),
                probe_port: Some("metrics".to_string()),
            });
        }
        if rng.chance(0.06) {
            extra.push(Container {
                name: "statsd-sidecar".to_string(),
                image: "docker.io/prom/statsd-exporter:v0.26.1".to_string(),
                ports: vec![cport_udp("statsd", 8125), cport("statsd-metrics", 9102)],
                cpu_m: 50,
                mem_mi: 64,
                env: Vec::new(),
                probe_port: None,
            });
        }
        let mut env = vec![
            (
                "LOG_LEVEL".to_string(),
                rng.pick(&["info", "warn", "debug"]).to_string(),
            ),
            ("SERVICE_NAME".to_string(), name.clone()),
        ];
        for i in 0..rng.below(3) {
            env.push((
                format!("FEATURE_FLAG_{}", i + 1),
                if rng.chance(0.5) { "true" } else { "false" }.to_string(),
            ));
        }
        let mut containers = vec![Container {
            name: component.clone(),
            image,
            probe_port: main_ports.first().map(|p| p.name.clone()),
            ports: main_ports,
            cpu_m: *rng.pick(&[100, 250, 500, 1000, 2000]),
            mem_mi: *rng.pick(&[128, 256, 512, 1024, 2048, 4096]),
            env,
        }];
        containers.extend(extra);
        let mut annotations = Vec::new();
        if containers[0].ports.iter().any(|p| p.name == "metrics") {
            annotations.push(l("prometheus.io/scrape", "true"));
            annotations.push(l("prometheus.io/port", &metrics_port.to_string()));
        }
        let replicas_weight = match kind {
            Kind::StatefulSet => 0.0,
            _ => {
                let u = rng.unit().max(1e-3);
                let tier_factor = match tier {
                    Tier::Frontend => 1.5,
                    Tier::Backend => 1.2,
                    _ => 0.6,
                };
                tier_factor / u.powf(0.75)
            }
        };
        weights.push(replicas_weight);
        let replicas = match kind {
            Kind::StatefulSet => *rng.pick(&[1usize, 3, 3, 3, 5]),
            _ => 0,
        };
        apps.push(App {
            ns,
            name: name.clone(),
            kind,
            tier,
            component,
            replicas,
            labels,
            selector,
            containers,
            host_network: false,
            hash: rng.k8s_suffix(10),
            old_hash: if kind == Kind::Deployment && rng.chance(0.6) {
                Some(rng.k8s_suffix(10))
            } else {
                None
            },
            uid: rng.uuid(),
            rs_uid: rng.uuid(),
            old_rs_uid: rng.uuid(),
            service_account: if rng.chance(0.5) {
                name
            } else {
                "default".to_string()
            },
            annotations,
            pods: Vec::new(),
        });
    }
    // Deployment replicas: what is left after StatefulSets, heavy-tailed over Deployments.
    let sts_pods: usize = apps[first_app..]
        .iter()
        .filter(|a| a.kind == Kind::StatefulSet)
        .map(|a| a.replicas)
        .sum();
    let deploy_idx: Vec<usize> = (first_app..apps.len())
        .filter(|&i| apps[i].kind == Kind::Deployment)
        .collect();
    let deploy_weights: Vec<f64> = deploy_idx.iter().map(|&i| weights[i - first_app]).collect();
    let deploy_pods = app_pods.saturating_sub(sts_pods).max(deploy_idx.len());
    for (&i, r) in deploy_idx
        .iter()
        .zip(apportion(deploy_pods, &deploy_weights))
    {
        apps[i].replicas = r;
    }

    // Place pods: DaemonSets one per node, the rest on a random node with room.
    const SLOTS: usize = 509;
    for app in apps.iter_mut() {
        for r in 0..app.replicas {
            let node = if app.kind == Kind::DaemonSet {
                r
            } else {
                let mut k = rng.below(nodes.len() as u64) as usize;
                let mut tries = 0;
                while nodes[k].used >= SLOTS {
                    k = (k + 1) % nodes.len();
                    tries += 1;
                    assert!(tries <= nodes.len(), "no room for pods");
                }
                k
            };
            let ip = if app.host_network {
                nodes[node].ip
            } else {
                let slot = nodes[node].used;
                nodes[node].used += 1;
                Ipv4Addr::from(
                    u32::from(Ipv4Addr::new(10, 0, 0, 0)) + node as u32 * 512 + 2 + slot as u32,
                )
            };
            let name = match app.kind {
                Kind::Deployment => format!("{}-{}-{}", app.name, app.hash, rng.k8s_suffix(5)),
                Kind::StatefulSet => format!("{}-{r}", app.name),
                Kind::DaemonSet => format!("{}-{}", app.name, rng.k8s_suffix(5)),
            };
            let uid = rng.uuid();
            app.pods.push(PodPlace {
                name,
                node,
                ip,
                uid,
            });
        }
    }
    Plan {
        namespaces,
        nodes,
        apps,
    }
}

/// Writes items of a `List`, compact (one a line) or indented like kubectl.
struct ListWriter<W: Write> {
    out: W,
    pretty: bool,
    first: bool,
    count: usize,
}

impl<W: Write> ListWriter<W> {
    fn new(mut out: W, pretty: bool) -> io::Result<Self> {
        if pretty {
            out.write_all(b"{\n    \"apiVersion\": \"v1\",\n    \"items\": [")?;
        } else {
            out.write_all(b"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[")?;
        }
        Ok(ListWriter {
            out,
            pretty,
            first: true,
            count: 0,
        })
    }

    fn item(&mut self, v: &Value) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        self.count += 1;
        if self.pretty {
            // Re-indent a pretty item by 8 spaces, as kubectl nests it under "items".
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(v, &mut ser)?;
            let s = String::from_utf8(buf).expect("JSON is UTF-8");
            let mut text = String::with_capacity(s.len() + s.len() / 8);
            for line in s.lines() {
                text.push('\n');
                text.push_str("        ");
                text.push_str(line);
            }
            self.out.write_all(text.as_bytes())
        } else {
            self.out.write_all(b"\n")?;
            serde_json::to_writer(&mut self.out, v)?;
            Ok(())
        }
    }

    fn finish(mut self) -> io::Result<W> {
        if self.pretty {
            self.out.write_all(
                b"\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n",
            )?;
        } else {
            self.out
                .write_all(b"\n],\"metadata\":{\"resourceVersion\":\"\"}}\n")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Counts bytes written through it.
struct Counting<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Object builders share one noise generator so resourceVersions, timestamps and uids are
/// deterministic too.
struct Emit<'p> {
    plan: &'p Plan,
    rng: Rng,
    resource_version: u64,
}

impl<'p> Emit<'p> {
    fn meta(&mut self, name: &str, ns: Option<&str>, uid: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        if let Some(ns) = ns {
            m.insert("namespace".into(), json!(ns));
        }
        m.insert("uid".into(), json!(uid));
        self.resource_version += 1 + self.rng.below(50);
        m.insert(
            "resourceVersion".into(),
            json!(self.resource_version.to_string()),
        );
        m.insert("creationTimestamp".into(), json!(timestamp(&mut self.rng)));
        m
    }

    fn namespace(&mut self, ns: &Ns) -> Value {
        let mut meta = self.meta(&ns.name, None, &ns.uid);
        meta.insert("labels".into(), labels_json(&ns.labels));
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        })
    }

    fn node(&mut self, k: usize) -> Value {
        let n = &self.plan.nodes[k];
        let mut meta = self.meta(&n.name, None, &n.uid);
        meta.insert(
            "labels".into(),
            json!({
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": n.name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": n.instance,
                "topology.kubernetes.io/region": "us-east-1",
                "topology.kubernetes.io/zone": n.zone,
            }),
        );
        meta.insert(
            "annotations".into(),
            json!({
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"
            }),
        );
        let pod_cidr = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + k as u32 * 512);
        let ts = timestamp(&mut self.rng);
        let conditions: Vec<Value> = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID"),
            ("Ready", "True", "KubeletReady"),
        ]
        .iter()
        .map(|(t, s, r)| {
            json!({"type": t, "status": s, "reason": r, "lastHeartbeatTime": ts,
                   "lastTransitionTime": ts, "message": format!("kubelet {r}")})
        })
        .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta,
            "spec": {
                "podCIDR": format!("{pod_cidr}/23"),
                "podCIDRs": [format!("{pod_cidr}/23")],
                "providerID": format!("aws:///{}/i-0{}", n.zone, self.rng.hex(16)),
            },
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": n.ip.to_string()},
                    {"type": "Hostname", "address": n.name},
                    {"type": "InternalDNS", "address": n.name},
                ],
                "allocatable": {"cpu": "7910m", "ephemeral-storage": "95551679124", "memory": "31482572Ki", "pods": "510"},
                "capacity": {"cpu": "8", "ephemeral-storage": "104845292Ki", "memory": "32408780Ki", "pods": "510"},
                "conditions": conditions,
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": self.rng.uuid(),
                    "containerRuntimeVersion": "containerd://1.7.11",
                    "kernelVersion": "6.1.72-96.166.amzn2023.x86_64",
                    "kubeProxyVersion": "v1.30.2",
                    "kubeletVersion": "v1.30.2",
                    "machineID": self.rng.hex(32),
                    "operatingSystem": "linux",
                    "osImage": "Amazon Linux 2023",
                    "systemUUID": self.rng.uuid(),
                }
            }
        })
    }

    fn container(&mut self, app: &App, c: &Container) -> Value {
        let ports: Vec<Value> = c
            .ports
            .iter()
            .map(|p| json!({"containerPort": p.port, "name": p.name, "protocol": p.protocol}))
            .collect();
        let mut env: Vec<Value> = c
            .env
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        env.push(json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}));
        let mut v = json!({
            "name": c.name,
            "image": c.image,
            "imagePullPolicy": "IfNotPresent",
            "env": env,
            "resources": {
                "limits": {"cpu": format!("{}m", c.cpu_m * 2), "memory": format!("{}Mi", c.mem_mi)},
                "requests": {"cpu": format!("{}m", c.cpu_m), "memory": format!("{}Mi", c.mem_mi)},
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "volumeMounts": [
                {"mountPath": "/etc/config", "name": "config", "readOnly": true},
            ],
        });
        if !ports.is_empty() {
            v["ports"] = Value::Array(ports);
        }
        if let Some(p) = &c.probe_port {
            let probe = json!({
                "failureThreshold": 3,
                "httpGet": {"path": "/healthz", "port": p, "scheme": "HTTP"},
                "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1
            });
            v["readinessProbe"] = probe;
        }
        if app.kind == Kind::StatefulSet && c.name == app.component {
            v["volumeMounts"]
                .as_array_mut()
                .expect("array")
                .push(json!({"mountPath": "/data", "name": "data"}));
        }
        v
    }

    fn pod_spec(&mut self, app: &App, with_sa_volume: Option<&str>) -> Value {
        let containers: Vec<Value> = app
            .containers
            .iter()
            .map(|c| self.container(app, c))
            .collect();
        let mut volumes = vec![
            json!({"name": "config", "configMap": {"defaultMode": 420, "name": format!("{}-config", app.name)}}),
        ];
        if let Some(vol) = with_sa_volume {
            volumes.push(json!({
                "name": vol,
                "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                    {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
                ]}
            }));
        }
        let mut spec = json!({
            "containers": containers,
            "dnsPolicy": if app.host_network { "ClusterFirstWithHostNet" } else { "ClusterFirst" },
            "enableServiceLinks": true,
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {"runAsNonRoot": true, "fsGroup": 2000},
            "serviceAccountName": app.service_account,
            "terminationGracePeriodSeconds": 30,
            "volumes": volumes,
        });
        if app.host_network {
            spec["hostNetwork"] = json!(true);
        }
        spec
    }

    fn template(&mut self, app: &App, hash_label: Option<(&str, &str)>) -> Value {
        let mut labels = app.labels.clone();
        if let Some((k, v)) = hash_label {
            labels.push(l(k, v));
        }
        let mut meta = json!({"labels": labels_json(&labels)});
        if !app.annotations.is_empty() {
            meta["annotations"] = labels_json(&app.annotations);
        }
        json!({"metadata": meta, "spec": self.pod_spec(app, None)})
    }

    fn deployment(&mut self, app: &App) -> Value {
        let ns = &self.plan.namespaces[app.ns].name;
        let mut meta = self.meta(&app.name, Some(ns), &app.uid);
        meta.insert(
            "labels".into(),
            labels_json(&app.labels[..app.labels.len().min(3)]),
        );
        meta.insert(
            "annotations".into(),
            json!({"deployment.kubernetes.io/revision": if app.old_hash.is_some() { "2" } else { "1" }}),
        );
        meta.insert(
            "generation".into(),
            json!(if app.old_hash.is_some() { 2 } else { 1 }),
        );
        let template = self.template(app, None);
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "progressDeadlineSeconds": 600,
                "replicas": app.replicas,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": labels_json(&app.selector)},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
                "template": template,
            },
            "status": {
                "availableReplicas": app.replicas, "observedGeneration": 1,
                "readyReplicas": app.replicas, "replicas": app.replicas, "updatedReplicas": app.replicas,
            }
        })
    }

    fn replicaset(&mut self, app: &App, hash: &str, uid: &str, replicas: usize) -> Value {
        let ns = &self.plan.namespaces[app.ns].name;
        let name = format!("{}-{hash}", app.name);
        let mut meta = self.meta(&name, Some(ns), uid);
        let mut labels = app.labels[..app.labels.len().min(3)].to_vec();
        labels.push(l("pod-template-hash", hash));
        meta.insert("labels".into(), labels_json(&labels));
        meta.insert(
            "ownerReferences".into(),
            json!([{"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                    "kind": "Deployment", "name": app.name, "uid": app.uid}]),
        );
        let mut selector = app.selector.clone();
        selector.push(l("pod-template-hash", hash));
        let template = self.template(app, Some(("pod-template-hash", hash)));
        json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta,
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels_json(&selector)},
                "template": template,
            },
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                       "fullyLabeledReplicas": replicas, "observedGeneration": 1}
        })
    }

    fn statefulset(&mut self, app: &App) -> Value {
        let ns = &self.plan.namespaces[app.ns].name;
        let mut meta = self.meta(&app.name, Some(ns), &app.uid);
        meta.insert(
            "labels".into(),
            labels_json(&app.labels[..app.labels.len().min(3)]),
        );
        let template = self.template(app, None);
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta,
            "spec": {
                "replicas": app.replicas,
                "serviceName": format!("{}-headless", app.name),
                "podManagementPolicy": "OrderedReady",
                "selector": {"matchLabels": labels_json(&app.selector)},
                "template": template,
                "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
                "volumeClaimTemplates": [{
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}},
                             "storageClassName": "gp3", "volumeMode": "Filesystem"}
                }],
            },
            "status": {"replicas": app.replicas, "readyReplicas": app.replicas,
                       "currentRevision": format!("{}-{}", app.name, app.hash),
                       "updateRevision": format!("{}-{}", app.name, app.hash)}
        })
    }

    fn daemonset(&mut self, app: &App) -> Value {
        let ns = &self.plan.namespaces[app.ns].name;
        let mut meta = self.meta(&app.name, Some(ns), &app.uid);
        meta.insert("labels".into(), labels_json(&app.labels));
        let template = self.template(app, None);
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": meta,
            "spec": {
                "selector": {"matchLabels": labels_json(&app.selector)},
                "template": template,
                "updateStrategy": {"rollingUpdate": {"maxUnavailable": 1}, "type": "RollingUpdate"},
            },
            "status": {"currentNumberScheduled": app.replicas, "desiredNumberScheduled": app.replicas,
                       "numberReady": app.replicas, "numberAvailable": app.replicas}
        })
    }

    fn pod(&mut self, app: &App, r: usize) -> Value {
        let plan = self.plan;
        let place = &app.pods[r];
        let ns = &plan.namespaces[app.ns].name;
        let node = &plan.nodes[place.node];
        let mut meta = self.meta(&place.name, Some(ns), &place.uid);
        let mut labels = app.labels.clone();
        let owner = match app.kind {
            Kind::Deployment => {
                labels.push(l("pod-template-hash", &app.hash));
                meta.insert(
                    "generateName".into(),
                    json!(format!("{}-{}-", app.name, app.hash)),
                );
                json!({"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                       "kind": "ReplicaSet", "name": format!("{}-{}", app.name, app.hash), "uid": app.rs_uid})
            }
            Kind::StatefulSet => {
                labels.push(l(
                    "controller-revision-hash",
                    &format!("{}-{}", app.name, app.hash),
                ));
                labels.push(l("statefulset.kubernetes.io/pod-name", &place.name));
                labels.push(l("apps.kubernetes.io/pod-index", &r.to_string()));
                meta.insert("generateName".into(), json!(format!("{}-", app.name)));
                json!({"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                       "kind": "StatefulSet", "name": app.name, "uid": app.uid})
            }
            Kind::DaemonSet => {
                labels.push(l("controller-revision-hash", &app.hash));
                labels.push(l("pod-template-generation", "1"));
                meta.insert("generateName".into(), json!(format!("{}-", app.name)));
                json!({"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                       "kind": "DaemonSet", "name": app.name, "uid": app.uid})
            }
        };
        meta.insert("labels".into(), labels_json(&labels));
        if !app.annotations.is_empty() {
            meta.insert("annotations".into(), labels_json(&app.annotations));
        }
        meta.insert("ownerReferences".into(), json!([owner]));
        let sa_vol = format!("kube-api-access-{}", self.rng.k8s_suffix(5));
        let mut spec = self.pod_spec(app, Some(&sa_vol));
        for c in spec["containers"].as_array_mut().expect("containers") {
            c["volumeMounts"].as_array_mut().expect("mounts").push(json!({
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": sa_vol, "readOnly": true
            }));
        }
        spec["nodeName"] = json!(node.name);
        spec["priority"] = json!(0);
        spec["preemptionPolicy"] = json!("PreemptLowerPriority");
        spec["tolerations"] = json!([
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
        ]);
        let ts = timestamp(&mut self.rng);
        let conditions: Vec<Value> = ["Initialized", "Ready", "ContainersReady", "PodScheduled"]
            .iter()
            .map(|t| json!({"lastProbeTime": null, "lastTransitionTime": ts, "status": "True", "type": t}))
            .collect();
        let statuses: Vec<Value> = app
            .containers
            .iter()
            .map(|c| {
                json!({
                    "containerID": format!("containerd://{}", self.rng.hex(64)),
                    "image": c.image,
                    "imageID": format!("{}@sha256:{}", c.image.split(':').next().unwrap_or(""), self.rng.hex(64)),
                    "lastState": {},
                    "name": c.name,
                    "ready": true,
                    "restartCount": self.rng.below(3),
                    "started": true,
                    "state": {"running": {"startedAt": ts}}
                })
            })
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": spec,
            "status": {
                "conditions": conditions,
                "containerStatuses": statuses,
                "hostIP": node.ip.to_string(),
                "phase": "Running",
                "podIP": place.ip.to_string(),
                "podIPs": [{"ip": place.ip.to_string()}],
                "qosClass": "Burstable",
                "startTime": ts,
            }
        })
    }
}

/// Service and Ingress and NetworkPolicy objects (built in plan order, one noise stream).
struct Extras {
    services: Vec<Value>,
    ingresses: Vec<Value>,
    policies: Vec<Value>,
}

fn sel(labels: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    for (k, v) in labels {
        m.insert(k.to_string(), json!(v));
    }
    json!({"matchLabels": m})
}

fn expr(key: &str, op: &str, values: &[&str]) -> Value {
    if values.is_empty() {
        json!({"key": key, "operator": op})
    } else {
        json!({"key": key, "operator": op, "values": values})
    }
}

fn private_except() -> Value {
    json!({"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_CIDRS}})
}

fn dns_egress() -> Value {
    json!({
        "to": [{"namespaceSelector": sel(&[("kubernetes.io/metadata.name", "kube-system")]),
                "podSelector": sel(&[("k8s-app", "kube-dns")])}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    })
}

fn extras(plan: &Plan, seed: u64) -> Extras {
    let mut rng = Rng::new(seed ^ 0x5e41_ce00);
    let mut services = Vec::new();
    let mut ingresses = Vec::new();
    let mut policies = Vec::new();
    let mut cluster_ip: u32 = u32::from(Ipv4Addr::new(172, 20, 0, 10));
    let mut next_ip = || {
        cluster_ip += 1;
        Ipv4Addr::from(cluster_ip).to_string()
    };
    let mut node_ports: BTreeSet<u16> = BTreeSet::new();
    let mut node_port = |rng: &mut Rng| loop {
        let p = rng.range(30000, 32767) as u16;
        if node_ports.insert(p) || node_ports.len() >= 2700 {
            return p;
        }
    };
    let mut lb_next: u32 = 0;
    let meta = |name: &str, ns: &str, rng: &mut Rng| {
        json!({"name": name, "namespace": ns, "uid": rng.uuid(),
               "resourceVersion": rng.range(1_000_000, 9_999_999).to_string(),
               "creationTimestamp": timestamp(rng)})
    };
    let policy = |name: &str, ns: &str, spec: Value, rng: &mut Rng| {
        let m = meta(name, ns, rng);
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": m, "spec": spec})
    };
    let teams: Vec<String> = plan.namespaces.iter().map(|n| n.team.clone()).collect();

    // kube-dns Service.
    services.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {"clusterIP": "172.20.0.10", "clusterIPs": ["172.20.0.10"], "type": "ClusterIP",
                 "selector": {"k8s-app": "kube-dns"}, "internalTrafficPolicy": "Cluster",
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None",
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": "dns-tcp"},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": "metrics"}]},
        "status": {"loadBalancer": {}}
    }));

    for app in &plan.apps {
        if app.kind == Kind::DaemonSet && app.host_network {
            continue;
        }
        let ns = plan.namespaces[app.ns].name.as_str();
        if app.name == "coredns" {
            continue;
        }
        // Main Service.
        let mut ports: Vec<Value> = Vec::new();
        for p in &app.containers[0].ports {
            if p.name == "metrics" {
                continue;
            }
            let (port, target) = match p.name.as_str() {
                "http" => (80u16, json!("http")),
                "https" => (443, json!("https")),
                _ if rng.chance(0.2) => (p.port, json!(p.port)),
                _ => (p.port, json!(p.name)),
            };
            ports.push(
                json!({"name": p.name, "port": port, "protocol": p.protocol, "targetPort": target}),
            );
        }
        if !ports.is_empty() {
            let t = rng.unit();
            let ty = if app.name == "ingress-nginx-controller" {
                "LoadBalancer"
            } else if app.tier != Tier::Frontend || t < 0.7 {
                "ClusterIP"
            } else if t < 0.9 {
                "NodePort"
            } else {
                "LoadBalancer"
            };
            if ty != "ClusterIP" {
                for p in ports.iter_mut() {
                    p["nodePort"] = json!(node_port(&mut rng));
                }
            }
            let ip = next_ip();
            let mut spec = json!({
                "type": ty, "clusterIP": ip, "clusterIPs": [ip], "selector": labels_json(&app.selector),
                "ports": ports, "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            });
            let mut status = json!({"loadBalancer": {}});
            if ty != "ClusterIP" {
                spec["externalTrafficPolicy"] =
                    json!(if rng.chance(0.3) { "Local" } else { "Cluster" });
            }
            if ty == "LoadBalancer" {
                lb_next += 1;
                let base = if lb_next < 250 {
                    [203u8, 0, 113, 0]
                } else {
                    [198, 51, 100, 0]
                };
                let lb_ip = Ipv4Addr::new(base[0], base[1], base[2], (lb_next % 250) as u8 + 1);
                if rng.chance(0.5) {
                    spec["loadBalancerSourceRanges"] = json!(["192.168.0.0/16", "198.18.0.0/15"]);
                }
                status = json!({"loadBalancer": {"ingress": [{"ip": lb_ip.to_string(), "ipMode": "VIP"}]}});
            }
            let mut m = meta(&app.name, ns, &mut rng);
            m["labels"] = labels_json(&app.labels[..app.labels.len().min(2)]);
            services.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": m, "spec": spec, "status": status}));
        }
        // Headless governing Service for StatefulSets.
        if app.kind == Kind::StatefulSet {
            let p = app.main_port().expect("port");
            let m = meta(&format!("{}-headless", app.name), ns, &mut rng);
            services.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": m, "spec": {
                "type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"], "publishNotReadyAddresses": true,
                "selector": labels_json(&app.selector),
                "ports": [{"name": p.name, "port": p.port, "protocol": p.protocol, "targetPort": p.name}]}}));
        }
        // Metrics Service (headless).
        if app.has_port("metrics") && rng.chance(0.85) {
            let m = meta(&format!("{}-metrics", app.name), ns, &mut rng);
            services.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": m, "spec": {
                "type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"],
                "selector": labels_json(&app.selector),
                "ports": [{"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": "metrics"}]}}));
        }
        // Ingress for frontends.
        if app.tier == Tier::Frontend
            && app.has_port("http")
            && !plan.namespaces[app.ns].platform
            && rng.chance(0.6)
        {
            let mut m = meta(&app.name, ns, &mut rng);
            m["annotations"] = json!({"nginx.ingress.kubernetes.io/proxy-body-size": "8m"});
            let host = format!("{}.{}.example.com", app.name, ns);
            let mut spec = json!({
                "ingressClassName": "nginx",
                "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": app.name, "port": {"name": "http"}}}}]}}]
            });
            if rng.chance(0.5) {
                spec["tls"] = json!([{"hosts": [host], "secretName": format!("{}-tls", app.name)}]);
            }
            ingresses.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": m, "spec": spec,
                "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}}));
        }
    }
    // ExternalName Services.
    for ns in plan.namespaces.iter().filter(|n| !n.platform) {
        if rng.chance(0.1) {
            let m = meta("legacy-db", &ns.name, &mut rng);
            services.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": m, "spec": {
                "type": "ExternalName", "externalName": format!("db.{}.legacy.example.com", ns.team)}}));
        }
    }

    // Namespace-level policies.
    for (nsi, ns) in plan.namespaces.iter().enumerate() {
        let name = ns.name.as_str();
        let ns_apps: Vec<&App> = plan.apps.iter().filter(|a| a.ns == nsi).collect();
        if ns.name == "monitoring" {
            policies.push(policy(
                "default-deny-ingress",
                name,
                json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
                &mut rng,
            ));
            policies.push(policy("grafana-from-ingress", name, json!({
                "podSelector": sel(&[("app.kubernetes.io/name", "grafana")]),
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": sel(&[("purpose", "ingress")])}], "ports": [{"port": "http"}]}]
            }), &mut rng));
            policies.push(policy("prometheus-from-grafana", name, json!({
                "podSelector": sel(&[("app.kubernetes.io/name", "prometheus")]),
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": sel(&[("app.kubernetes.io/name", "grafana")])}], "ports": [{"port": "web"}]}]
            }), &mut rng));
            continue;
        }
        if ns.platform {
            continue;
        }
        if ns.strict_egress {
            policies.push(policy(
                "default-deny-all",
                name,
                json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
                &mut rng,
            ));
            policies.push(policy(
                "allow-dns",
                name,
                json!({
                    "podSelector": {}, "policyTypes": ["Egress"], "egress": [dns_egress()]
                }),
                &mut rng,
            ));
            policies.push(policy("allow-egress-same-namespace", name, json!({
                "podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}]
            }), &mut rng));
            if rng.chance(0.6) {
                policies.push(policy("allow-egress-internet-https", name, json!({
                    "podSelector": {"matchExpressions": [expr("tier", "In", &["backend", "worker"])]},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [private_except()], "ports": [{"protocol": "TCP", "port": 443}]}]
                }), &mut rng));
            }
        } else if ns.default_deny {
            policies.push(policy(
                "default-deny-ingress",
                name,
                json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
                &mut rng,
            ));
        }
        if ns.allow_same_ns {
            policies.push(policy("allow-same-namespace", name, json!({
                "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]
            }), &mut rng));
        }
        if ns.default_deny && rng.chance(0.9) {
            let from = if rng.chance(0.5) {
                json!([{"namespaceSelector": sel(&[("purpose", "monitoring")]),
                        "podSelector": sel(&[("app.kubernetes.io/name", "prometheus")])}])
            } else {
                json!([{"namespaceSelector": sel(&[("kubernetes.io/metadata.name", "monitoring")])}])
            };
            policies.push(policy("allow-prometheus-scrape", name, json!({
                "podSelector": {"matchExpressions": [expr("app.kubernetes.io/name", "Exists", &[])]},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": from, "ports": [{"port": "metrics"}]}]
            }), &mut rng));
        }
        if ns.default_deny && ns_apps.iter().any(|a| a.tier == Tier::Frontend) {
            policies.push(policy("allow-ingress-controller", name, json!({
                "podSelector": sel(&[("tier", "frontend")]),
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": sel(&[("kubernetes.io/metadata.name", "ingress-nginx")]),
                                       "podSelector": sel(&[("app.kubernetes.io/name", "ingress-nginx")])}],
                             "ports": [{"port": "http"}, {"port": "https"}]}]
            }), &mut rng));
        }
    }

    // Workload policies.
    for app in plan.apps.iter() {
        let ns = &plan.namespaces[app.ns];
        if ns.platform {
            continue;
        }
        let name = ns.name.as_str();
        let me = sel(&[("app.kubernetes.io/name", &app.name)]);
        match app.tier {
            Tier::Backend => {
                if rng.chance(0.7) {
                    let mut ports = vec![json!({"port": "http"})];
                    if app.has_port("grpc") {
                        ports.push(json!({"port": "grpc"}));
                    }
                    let from = if rng.chance(0.7) {
                        json!([{"podSelector": sel(&[("tier", "frontend")])}])
                    } else {
                        json!([{"namespaceSelector": sel(&[("team", &ns.team)]),
                                "podSelector": {"matchExpressions": [expr("tier", "In", &["frontend", "backend"])]}}])
                    };
                    policies.push(policy(
                        &format!("{}-allow-from-frontend", app.name),
                        name,
                        json!({
                            "podSelector": me, "policyTypes": ["Ingress"],
                            "ingress": [{"from": from, "ports": ports}]
                        }),
                        &mut rng,
                    ));
                }
                if rng.chance(0.1) {
                    let other = rng.pick(&teams).clone();
                    policies.push(policy(&format!("{}-allow-partners", app.name), name, json!({
                        "podSelector": me, "policyTypes": ["Ingress"],
                        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": other},
                                                                      "matchExpressions": [expr("env", "NotIn", &["dev"])]},
                                               "podSelector": sel(&[("tier", "frontend")])}],
                                     "ports": [{"port": "http"}]}]
                    }), &mut rng));
                }
            }
            Tier::Data | Tier::Cache => {
                let p = app.main_port().expect("port").name.clone();
                let mut ingress = vec![json!({
                    "from": [{"podSelector": {"matchExpressions": [expr("tier", "In", &["backend", "worker"])]}}],
                    "ports": [{"port": p}]
                })];
                if app.replicas > 1 {
                    ingress.push(json!({"from": [{"podSelector": me}]}));
                }
                if app.component == "kafka" {
                    ingress.push(json!({
                        "from": [{"namespaceSelector": sel(&[("team", &ns.team)])}],
                        "ports": [{"protocol": "TCP", "port": 9092, "endPort": 9094}]
                    }));
                }
                policies.push(policy(
                    &format!("{}-allow-clients", app.name),
                    name,
                    json!({
                        "podSelector": me, "policyTypes": ["Ingress"], "ingress": ingress
                    }),
                    &mut rng,
                ));
            }
            Tier::Frontend => {
                if rng.chance(0.4) {
                    let mut ports = vec![json!({"port": "http"})];
                    if rng.chance(0.5) {
                        ports.push(json!({"protocol": "TCP", "port": 8443, "endPort": 8450}));
                    }
                    policies.push(policy(&format!("{}-allow-from-corp", app.name), name, json!({
                        "podSelector": me, "policyTypes": ["Ingress"],
                        "ingress": [{"from": [
                            {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.100.0/24"]}},
                            {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}}
                        ], "ports": ports}]
                    }), &mut rng));
                }
            }
            Tier::Worker => {
                if rng.chance(0.6) {
                    let mut egress = vec![
                        json!({"to": [{"podSelector": sel(&[("tier", "backend")])}], "ports": [{"port": "http"}, {"port": "grpc"}]}),
                        json!({"to": [{"podSelector": {"matchExpressions": [expr("tier", "In", &["data", "cache"])]}}]}),
                        dns_egress(),
                    ];
                    if rng.chance(0.5) {
                        egress.push(json!({"to": [private_except()],
                                           "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 30000, "endPort": 32767}]}));
                    }
                    policies.push(policy(
                        &format!("{}-egress", app.name),
                        name,
                        json!({
                            "podSelector": me, "policyTypes": ["Egress"], "egress": egress
                        }),
                        &mut rng,
                    ));
                }
            }
        }
        if rng.chance(0.12) {
            let ports = if app.has_port("http") {
                json!([{"port": "http"}])
            } else {
                json!([])
            };
            let mut rule = json!({"from": [{
                "namespaceSelector": {"matchExpressions": [expr("env", "NotIn", &["dev"]), expr("team", "Exists", &[])]},
                "podSelector": {"matchExpressions": [expr("app.kubernetes.io/name", "Exists", &[]), expr("canary", "DoesNotExist", &[])]}
            }]});
            if ports.as_array().is_some_and(|a| !a.is_empty()) {
                rule["ports"] = ports;
            }
            policies.push(policy(
                &format!("{}-allow-trusted", app.name),
                name,
                json!({
                    "podSelector": me, "policyTypes": ["Ingress"], "ingress": [rule]
                }),
                &mut rng,
            ));
        }
        if app.has_port("statsd") && rng.chance(0.5) {
            policies.push(policy(&format!("{}-allow-statsd", app.name), name, json!({
                "podSelector": me, "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "UDP", "port": "statsd"}]}]
            }), &mut rng));
        }
        if rng.chance(0.05) {
            policies.push(policy(&format!("{}-allow-vpn", app.name), name, json!({
                "podSelector": me, "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"ipBlock": {"cidr": "172.16.0.0/12", "except": ["172.20.0.0/14"]}}]}],
                "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/16"]}}], "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8999}]},
                           {"to": [{"podSelector": {"matchExpressions": [expr("tier", "NotIn", &["data"])]}}]}]
            }), &mut rng));
        }
    }
    Extras {
        services,
        ingresses,
        policies,
    }
}

type FileWriter = ListWriter<io::BufWriter<std::fs::File>>;

/// The NCA-side writers: namespaces, pods, policies.
struct NcaWriters {
    namespaces: FileWriter,
    pods: FileWriter,
    policies: FileWriter,
}

/// Writes the cluster as one `List` to `out`; with `nca_dir`, also writes IBM
/// network-config-analyzer inputs for the same cluster there (the very same objects):
/// `namespaces.json`, `pods.json` (Pods only, as `kubectl get pods -o json`: NCA would
/// also make pods of its own from Deployments) and `policies.json` (NetworkPolicies only:
/// NCA would turn Ingress objects into ingress-controller policies of its own).
pub fn generate(
    opts: &GenOptions,
    out: impl Write,
    nca_dir: Option<&Path>,
) -> io::Result<GenSummary> {
    let plan = plan(opts);
    let ex = extras(&plan, opts.seed);
    let mut nca = match nca_dir {
        None => None,
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let open = |name: &str| -> io::Result<FileWriter> {
                let f =
                    io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join(name))?);
                ListWriter::new(f, false)
            };
            Some(NcaWriters {
                namespaces: open("namespaces.json")?,
                pods: open("pods.json")?,
                policies: open("policies.json")?,
            })
        }
    };
    let mut counting = Counting {
        inner: out,
        bytes: 0,
    };
    let mut w = ListWriter::new(&mut counting, opts.pretty)?;
    let mut e = Emit {
        plan: &plan,
        rng: Rng::new(opts.seed ^ 0x00b1_ec75),
        resource_version: 1000,
    };
    let mut s = GenSummary {
        namespaces: plan.namespaces.len(),
        nodes: plan.nodes.len(),
        ..Default::default()
    };
    for ns in &plan.namespaces {
        let v = e.namespace(ns);
        w.item(&v)?;
        if let Some(n) = nca.as_mut() {
            n.namespaces.item(&v)?;
        }
    }
    for k in 0..plan.nodes.len() {
        let v = e.node(k);
        w.item(&v)?;
    }
    for app in plan.apps.iter().filter(|a| a.kind == Kind::Deployment) {
        let v = e.deployment(app);
        w.item(&v)?;
        s.deployments += 1;
    }
    for app in plan.apps.iter().filter(|a| a.kind == Kind::Deployment) {
        if let Some(old) = &app.old_hash {
            let v = e.replicaset(app, old, &app.old_rs_uid, 0);
            w.item(&v)?;
            s.replicasets += 1;
        }
        let v = e.replicaset(app, &app.hash, &app.rs_uid, app.replicas);
        w.item(&v)?;
        s.replicasets += 1;
    }
    for app in plan.apps.iter().filter(|a| a.kind == Kind::StatefulSet) {
        let v = e.statefulset(app);
        w.item(&v)?;
        s.statefulsets += 1;
    }
    for app in plan.apps.iter().filter(|a| a.kind == Kind::DaemonSet) {
        let v = e.daemonset(app);
        w.item(&v)?;
        s.daemonsets += 1;
    }
    for app in &plan.apps {
        for r in 0..app.pods.len() {
            let v = e.pod(app, r);
            w.item(&v)?;
            if let Some(n) = nca.as_mut() {
                n.pods.item(&v)?;
            }
            s.pods += 1;
            if app.host_network {
                s.host_network_pods += 1;
            }
        }
    }
    for v in &ex.services {
        w.item(v)?;
    }
    for v in &ex.ingresses {
        w.item(v)?;
    }
    for v in &ex.policies {
        w.item(v)?;
        if let Some(n) = nca.as_mut() {
            n.policies.item(v)?;
        }
    }
    s.services = ex.services.len();
    s.ingresses = ex.ingresses.len();
    s.policies = ex.policies.len();
    w.finish()?;
    if let Some(n) = nca {
        n.namespaces.finish()?;
        n.pods.finish()?;
        n.policies.finish()?;
    }
    s.bytes = counting.bytes;
    Ok(s)
}

impl GenSummary {
    /// One line for people.
    pub fn describe(&self) -> String {
        format!(
            "{} bytes: {} namespaces, {} nodes, {} deployments, {} replicasets, {} statefulsets, {} daemonsets, {} pods ({} hostNetwork), {} services, {} ingresses, {} networkpolicies ({} bytes/pod)",
            self.bytes,
            self.namespaces,
            self.nodes,
            self.deployments,
            self.replicasets,
            self.statefulsets,
            self.daemonsets,
            self.pods,
            self.host_network_pods,
            self.services,
            self.ingresses,
            self.policies,
            self.bytes / self.pods.max(1) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(pods: usize, seed: u64) -> (Vec<u8>, GenSummary) {
        let mut out = Vec::new();
        let s = generate(
            &GenOptions {
                pods,
                seed,
                pretty: false,
            },
            &mut out,
            None,
        )
        .unwrap();
        (out, s)
    }

    #[test]
    fn deterministic_and_valid() {
        let (a, sa) = make(500, 7);
        let (b, _) = make(500, 7);
        assert_eq!(a, b, "same seed, same bytes");
        let (c, _) = make(500, 8);
        assert_ne!(a, c, "another seed, another cluster");
        assert_eq!(sa.bytes as usize, a.len());
        let v: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["kind"], "List");
        let items = v["items"].as_array().unwrap();
        let pods: Vec<&Value> = items.iter().filter(|i| i["kind"] == "Pod").collect();
        assert_eq!(pods.len(), 500);
        assert_eq!(sa.pods, 500);
        // Pod IPs are unique; every pod has a node and an owner that is the controller.
        let mut ips = HashSet::new();
        for p in &pods {
            let ip = p["status"]["podIP"].as_str().unwrap();
            if p["spec"]["hostNetwork"] != json!(true) {
                assert!(ips.insert(ip.to_string()), "duplicate pod IP {ip}");
                assert!(ip.starts_with("10."));
            }
            assert!(p["spec"]["nodeName"].is_string());
            assert_eq!(
                p["metadata"]["ownerReferences"][0]["controller"],
                json!(true)
            );
        }
        // Every ReplicaSet a pod names exists and is owned by a Deployment.
        let rs: HashSet<(String, String)> = items
            .iter()
            .filter(|i| i["kind"] == "ReplicaSet")
            .map(|i| {
                assert_eq!(i["metadata"]["ownerReferences"][0]["kind"], "Deployment");
                (
                    i["metadata"]["namespace"].as_str().unwrap().to_string(),
                    i["metadata"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for p in &pods {
            let o = &p["metadata"]["ownerReferences"][0];
            if o["kind"] == "ReplicaSet" {
                let key = (
                    p["metadata"]["namespace"].as_str().unwrap().to_string(),
                    o["name"].as_str().unwrap().to_string(),
                );
                assert!(rs.contains(&key), "missing {key:?}");
            }
        }
        // Every Service type and the policy styles are there.
        let types: HashSet<String> = items
            .iter()
            .filter(|i| i["kind"] == "Service")
            .map(|i| {
                let t = i["spec"]["type"]
                    .as_str()
                    .unwrap_or("ClusterIP")
                    .to_string();
                if i["spec"]["clusterIP"] == "None" {
                    "Headless".to_string()
                } else {
                    t
                }
            })
            .collect();
        for t in ["ClusterIP", "NodePort", "LoadBalancer", "Headless"] {
            assert!(types.contains(t), "no {t} Service in {types:?}");
        }
        let text = String::from_utf8(a).unwrap();
        for needle in [
            "\"NotIn\"",
            "\"Exists\"",
            "\"DoesNotExist\"",
            "\"In\"",
            "\"except\"",
            "\"endPort\"",
            "default-deny",
            "\"k8s-app\":\"kube-dns\"",
        ] {
            assert!(text.contains(needle), "no {needle}");
        }
    }

    #[test]
    fn apportion_sums() {
        let w = [1.0, 5.0, 0.1, 3.0];
        for total in [4, 10, 101, 1000] {
            let r = apportion(total, &w);
            assert_eq!(r.iter().sum::<usize>(), total);
            assert!(r.iter().all(|&x| x >= 1));
        }
    }
}
