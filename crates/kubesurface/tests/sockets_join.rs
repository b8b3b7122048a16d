//! A node socket report joined with the bundled example: the founding note's case.

use std::path::PathBuf;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .current_dir(repo)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

const REPORT: &str = "crates/kubesurface-sockets/tests/fixtures/expected.json";

#[test]
fn novncproxy_wildcard_bind_is_ks106() {
    let (code, out) = run(&[
        "audit",
        "examples/openstack",
        "--sockets",
        REPORT,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ks106: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "KS106")
        .collect();
    let vnc = ks106
        .iter()
        .find(|f| {
            f["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o.as_str().unwrap().contains("nova-novncproxy"))
        })
        .expect("KS106 on the novncproxy pod");
    let message = vnc["message"].as_str().unwrap();
    assert!(
        message.contains("on node ctl-1") && message.contains("0.0.0.0:6080/TCP (nova-novncproxy)"),
        "{message}"
    );
    // sshd in the host namespace is a host process: node exposure.
    assert!(ks106.iter().any(|f| {
        f["message"]
            .as_str()
            .unwrap()
            .contains("a host process (not a pod)")
    }));
    // Without the report there is nothing to say.
    let (_, plain) = run(&["audit", "examples/openstack", "-o", "json"]);
    assert!(!plain.contains("\"KS106\""));
}

#[test]
fn real_listeners_replace_declared_ports_in_exposure() {
    let (code, out) = run(&[
        "exposure",
        "examples/openstack",
        "--sockets",
        REPORT,
        "-o",
        "csv",
    ]);
    assert_eq!(code, 0);
    let vnc: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("HostNetwork") && l.contains("nova-novncproxy"))
        .collect();
    assert!(
        vnc.iter()
            .any(|l| l.contains("node:ctl-1:6080 (every interface, bound 0.0.0.0)")),
        "{vnc:?}"
    );
    assert!(
        !vnc.iter()
            .any(|l| l.starts_with("HostNetwork,node:ctl-1:6080,")),
        "declared entry replaced: {vnc:?}"
    );
}

#[test]
fn a_bad_report_is_an_input_error() {
    let dir = std::env::temp_dir().join(format!("ks-sock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"schema\":\"something/else\"}").unwrap();
    let (code, _) = run(&[
        "audit",
        "examples/openstack",
        "--sockets",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
}
