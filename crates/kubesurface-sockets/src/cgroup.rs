//! Container ID and pod UID from `/proc/<pid>/cgroup`.
//!
//! Each line is `hierarchy-ID:controllers:path` (cgroup v1: one line per hierarchy;
//! v2: a single `0::path`; hybrid systems have both). The path names the pod and the
//! container in every runtime and cgroup driver Kubernetes uses:
//!
//! | runtime, driver | path |
//! |---|---|
//! | containerd, systemd | `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope` |
//! | containerd, cgroupfs | `/kubepods/burstable/pod<uid>/<id>` |
//! | CRI-O, systemd | `/kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope` (sometimes `…/crio-<id>.scope/container`) |
//! | Docker, cri-dockerd | `/kubepods/pod<uid>/<id>`, `…/docker-<id>.scope` |
//! | Docker alone | `/docker/<id>`, `/system.slice/docker-<id>.scope` |
//! | Podman | `/machine.slice/libpod-<id>.scope` |
//!
//! The guaranteed QoS class has no `besteffort`/`burstable` level. Static pods have a
//! 32-hex-digit UID (the kubelet's config hash) instead of a UUID. With a private cgroup
//! namespace (the default for cgroup v2 containers), paths of other processes are shown
//! relative to the reader's cgroup (`/../../kubepods-…`): the components are still there,
//! so the parser looks at components, never at absolute prefixes. Runtime helpers that are
//! not the container (`crio-conmon-<id>`, `libpod-conmon-<id>`) give no container ID.

/// What a process's cgroups say about its container and pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupOwner {
    /// The 64-hex-digit container ID (as in `status.containerStatuses[].containerID`
    /// after `<runtime>://`).
    pub container_id: Option<String>,
    /// The pod UID as the kubelet knows it (`metadata.uid`, or for a static pod the
    /// `kubernetes.io/config.hash` annotation of its mirror pod).
    pub pod_uid: Option<String>,
}

/// Parses the whole `/proc/<pid>/cgroup` file; the line that says the most wins (the first
/// such line, so the result is deterministic).
pub fn parse_cgroup_file(text: &str) -> CgroupOwner {
    let mut best = CgroupOwner::default();
    let mut best_score = 0;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(_), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let owner = parse_cgroup_path(path);
        let score =
            2 * usize::from(owner.pod_uid.is_some()) + usize::from(owner.container_id.is_some());
        if score > best_score {
            best = owner;
            best_score = score;
        }
    }
    best
}

/// Parses one cgroup path.
pub fn parse_cgroup_path(path: &str) -> CgroupOwner {
    let mut owner = CgroupOwner::default();
    for component in path.split('/') {
        if let Some(uid) = pod_uid(component) {
            owner.pod_uid = Some(uid);
        }
        if let Some(id) = container_id(component) {
            owner.container_id = Some(id);
        }
    }
    owner
}

/// `pod<uid>` (cgroupfs) or `kubepods[-<qos>]-pod<uid_with_underscores>.slice` (systemd).
fn pod_uid(component: &str) -> Option<String> {
    let rest = if let Some(rest) = component.strip_prefix("pod") {
        rest
    } else if component.starts_with("kubepods") {
        let stem = component.strip_suffix(".slice")?;
        &stem[stem.rfind("-pod")? + 4..]
    } else {
        return None;
    };
    let uid = rest.replace('_', "-").to_ascii_lowercase();
    (is_uuid(&uid) || is_hex(&uid, 32)).then_some(uid)
}

/// `<id>`, `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`,
/// `libpod-<id>.scope`, `crio-<id>` (cgroupfs), with a 64-hex-digit id.
fn container_id(component: &str) -> Option<String> {
    let stem = component.strip_suffix(".scope").unwrap_or(component);
    let id = [
        "cri-containerd-",
        "crio-",
        "docker-",
        "libpod-",
        "containerd-",
    ]
    .iter()
    .find_map(|p| stem.strip_prefix(p))
    .unwrap_or(stem);
    let id = id.to_ascii_lowercase();
    is_hex(&id, 64).then_some(id)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "6c2f0e4a-8b1d-4f3e-9a7c-2d5b8e1f0a93";
    const CID: &str = "3f9a1c7e5b2d4f608a1e9c3b7d5f2a4e6c8b0d1f3a5e7c9b2d4f6a8c0e1b3d5f";

    fn owner(path: &str) -> (Option<String>, Option<String>) {
        let o = parse_cgroup_path(path);
        (o.container_id, o.pod_uid)
    }

    fn both() -> (Option<String>, Option<String>) {
        (Some(CID.into()), Some(UID.into()))
    }

    // Recorded line shapes (IDs replaced by the fixed ones above).

    #[test]
    fn containerd_cgroup_v2_systemd() {
        let file = format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{CID}.scope\n",
            UID.replace('-', "_")
        );
        let o = parse_cgroup_file(&file);
        assert_eq!((o.container_id, o.pod_uid), both());
    }

    #[test]
    fn containerd_cgroup_v1_cgroupfs() {
        let file = format!(
            "12:pids:/kubepods/burstable/pod{UID}/{CID}\n\
             11:memory:/kubepods/burstable/pod{UID}/{CID}\n\
             1:name=systemd:/kubepods/burstable/pod{UID}/{CID}\n\
             0::/\n"
        );
        let o = parse_cgroup_file(&file);
        assert_eq!((o.container_id, o.pod_uid), both());
    }

    #[test]
    fn containerd_cgroup_v1_systemd_guaranteed() {
        let u = UID.replace('-', "_");
        let file = format!(
            "10:cpu,cpuacct:/kubepods.slice/kubepods-pod{u}.slice/cri-containerd-{CID}.scope\n\
             0::/\n"
        );
        let o = parse_cgroup_file(&file);
        assert_eq!((o.container_id, o.pod_uid), both());
    }

    #[test]
    fn crio_systemd_v2_and_nested_container_group() {
        let u = UID.replace('-', "_");
        assert_eq!(
            owner(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u}.slice/crio-{CID}.scope"
            )),
            both()
        );
        assert_eq!(
            owner(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u}.slice/crio-{CID}.scope/container"
            )),
            both()
        );
        // conmon is the runtime's monitor, not the container.
        assert_eq!(
            owner(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u}.slice/crio-conmon-{CID}.scope"
            )),
            (None, Some(UID.into()))
        );
    }

    #[test]
    fn crio_cgroupfs() {
        assert_eq!(
            owner(&format!("/kubepods/besteffort/pod{UID}/crio-{CID}")),
            both()
        );
    }

    #[test]
    fn docker() {
        assert_eq!(owner(&format!("/docker/{CID}")), (Some(CID.into()), None));
        assert_eq!(
            owner(&format!("/system.slice/docker-{CID}.scope")),
            (Some(CID.into()), None)
        );
        // dockershim / cri-dockerd with the systemd driver.
        let u = UID.replace('-', "_");
        assert_eq!(
            owner(&format!(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{u}.slice/docker-{CID}.scope"
            )),
            both()
        );
    }

    #[test]
    fn podman() {
        assert_eq!(
            owner(&format!("/machine.slice/libpod-{CID}.scope/container")),
            (Some(CID.into()), None)
        );
        assert_eq!(
            owner(&format!("/machine.slice/libpod-conmon-{CID}.scope")),
            (None, None)
        );
    }

    #[test]
    fn relative_to_a_private_cgroup_namespace() {
        let u = UID.replace('-', "_");
        assert_eq!(
            owner(&format!(
                "/../../../kubepods-burstable.slice/kubepods-burstable-pod{u}.slice/cri-containerd-{CID}.scope"
            )),
            both()
        );
    }

    #[test]
    fn static_pod_hash_uid() {
        let hash = "d4a5e8f8f0f4e3b9b8c0a2d1e6f7a8b9";
        assert_eq!(
            owner(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{hash}.slice/cri-containerd-{CID}.scope"
            )),
            (Some(CID.into()), Some(hash.into()))
        );
        assert_eq!(
            owner(&format!("/kubepods/burstable/pod{hash}/{CID}")),
            (Some(CID.into()), Some(hash.into()))
        );
    }

    #[test]
    fn pod_level_cgroup_without_container() {
        assert_eq!(
            owner(&format!("/kubepods/besteffort/pod{UID}")),
            (None, Some(UID.into()))
        );
    }

    #[test]
    fn host_processes() {
        for path in [
            "/",
            "/init.scope",
            "/system.slice/kubelet.service",
            "/system.slice/containerd.service",
            "/user.slice/user-1000.slice/session-3.scope",
            "/kubepods.slice",
            "/kubepods.slice/kubepods-besteffort.slice",
            "/process_api/57b181e129aa32ecef200fde166abc61",
            "/podcast/not-a-uid",
        ] {
            assert_eq!(owner(path), (None, None), "{path}");
        }
        let o = parse_cgroup_file(
            "12:pids:/system.slice/sshd.service\n0::/system.slice/sshd.service\n",
        );
        assert_eq!(o, CgroupOwner::default());
        assert_eq!(parse_cgroup_file("garbage\n\n"), CgroupOwner::default());
    }
}
