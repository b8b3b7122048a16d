//! `deploy/rbac.yaml` grants exactly what the code reads, and `deploy/krew.yaml` installs
//! the binary as `kubectl-surface`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use kubesurface_live::RESOURCES;
use serde_json::Value;

fn deploy(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_string()
        })
        .collect()
}

#[test]
fn cluster_role_grants_exactly_what_the_code_reads() {
    let docs = deploy("rbac.yaml");
    let roles: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "ClusterRole").collect();
    assert_eq!(roles.len(), 1);
    let role = roles[0];
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(
            strings(&rule["verbs"]),
            ["get", "list"],
            "only get and list: {rule}"
        );
        assert!(rule.get("resourceNames").is_none() && rule.get("nonResourceURLs").is_none());
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                assert!(
                    !group.contains('*') && !resource.contains('*'),
                    "no wildcards"
                );
                assert!(
                    !matches!(resource.as_str(), "secrets" | "configmaps"),
                    "never Secrets or ConfigMaps"
                );
                assert!(
                    granted.insert((group.clone(), resource)),
                    "granted twice: {rule}"
                );
            }
        }
    }
    let read: BTreeSet<(String, String)> = RESOURCES
        .iter()
        .map(|r| (r.group.to_string(), r.plural.to_string()))
        .collect();
    assert_eq!(
        granted.difference(&read).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "granted but never read"
    );
    assert_eq!(
        read.difference(&granted).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "read but not granted"
    );
}

#[test]
fn binding_gives_the_role_to_the_service_account() {
    let docs = deploy("rbac.yaml");
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind}"))
    };
    let role = find("ClusterRole");
    let sa = find("ServiceAccount");
    let binding = find("ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let subject = &binding["subjects"][0];
    assert_eq!(subject["kind"], "ServiceAccount");
    assert_eq!(subject["name"], sa["metadata"]["name"]);
    assert_eq!(subject["namespace"], sa["metadata"]["namespace"]);
    // No other grants in the file.
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"] == "Role" || d["kind"] == "RoleBinding")
    );
}

#[test]
fn krew_manifest_installs_kubectl_surface() {
    let docs = deploy("krew.yaml");
    assert_eq!(docs.len(), 1);
    let plugin = &docs[0];
    assert_eq!(
        plugin["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(plugin["kind"], "Plugin");
    assert_eq!(plugin["metadata"]["name"], "surface");
    let version = plugin["spec"]["version"].as_str().unwrap();
    assert!(
        version.starts_with('v'),
        "krew versions are semver with a v: {version}"
    );
    let platforms = plugin["spec"]["platforms"].as_array().unwrap();
    let mut seen = BTreeSet::new();
    for p in platforms {
        let labels = &p["selector"]["matchLabels"];
        let os = labels["os"].as_str().unwrap();
        seen.insert(format!("{os}/{}", labels["arch"].as_str().unwrap()));
        let exe = if os == "windows" { ".exe" } else { "" };
        assert_eq!(p["bin"], format!("kubectl-surface{exe}"));
        let files = p["files"].as_array().unwrap();
        assert!(
            files
                .iter()
                .any(|f| f["from"] == format!("kubesurface{exe}")
                    && f["to"] == format!("kubectl-surface{exe}"))
        );
        let uri = p["uri"].as_str().unwrap();
        assert!(
            uri.starts_with("https://") && uri.contains(&format!("/{version}/")),
            "{uri}"
        );
        let sha = p["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{sha}"
        );
    }
    assert_eq!(seen.len(), platforms.len(), "one entry per platform");
    assert!(seen.contains("linux/amd64") && seen.contains("darwin/arm64"));
}
