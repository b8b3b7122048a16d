//! A node's listening sockets across network namespaces, with the processes, containers
//! and pods that own them, read from `/proc` — the node-side half of kubesurface's question
//! "why is everything binding to 0.0.0.0?".
//!
//! What it reads (see `docs/sockets.md` for the whole story):
//!
//! - `/proc/<pid>/ns/net` of every process: the network namespaces, deduplicated by inode;
//!   the host's is PID 1's. When a link cannot be read (no CAP_SYS_PTRACE), the process is
//!   placed by the inode of its `/proc/<pid>/net/tcp`, which the kernel keeps per namespace.
//! - `/proc/<pid>/net/{tcp,tcp6,udp,udp6}` once per namespace (each process's `net/` shows
//!   its own namespace, so no `setns` is needed): TCP sockets in `LISTEN`, UDP sockets
//!   bound and unconnected.
//! - `/proc/<pid>/net/{route,if_inet6}`: the interface of a specific bind address.
//! - `/proc/<pid>/fd/*` links `socket:[inode]`: which processes hold each socket;
//!   `/proc/<pid>/comm` and `/proc/<pid>/cgroup`: their names, containers and pods.
//!
//! Parsers are small, std-only and lenient (a bad line is counted, never fatal); each takes
//! text, so the whole scan runs on a fixture tree as well as on `/proc`.
//!
//! ```no_run
//! let report = kubesurface_sockets::scan(std::path::Path::new("/proc"), "node-1").unwrap();
//! print!("{}", report.to_json());
//! let back = kubesurface_sockets::parse_report(&report.to_json()).unwrap();
//! assert_eq!(back, report);
//! ```

pub mod cgroup;
pub mod iface;
mod report;
mod scan;
pub mod tables;

pub use report::{Owner, Protocol, Report, SCHEMA, Scope, Socket, parse_report};
pub use scan::{hostname, scan};
