//! Ingest behaviour: formats, Lists, lines, defaults, ownership, and clear errors.

use std::sync::Arc;

use kubesurface_ingest::{InputText, Loaded, load_texts};

fn input(name: &str, text: &str) -> InputText {
    InputText {
        name: Arc::from(name),
        text: text.into(),
    }
}

fn load(text: &str) -> Loaded {
    load_texts(&[input("in.yaml", text)]).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn error(name: &str, text: &str) -> String {
    load_texts(&[input(name, text)])
        .map(|_| ())
        .expect_err("input should be rejected")
        .to_string()
}

#[test]
fn yaml_stream_with_helm_comments_and_empty_documents() {
    let loaded = load(
        "---\n# Source: chart/templates/a.yaml\n---\n\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  namespace: x\n---\n# empty\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n",
    );
    let names: Vec<String> = loaded
        .cluster
        .endpoints
        .iter()
        .map(|e| e.display_name())
        .collect();
    assert_eq!(names, ["default/b", "x/a"]);
    let a = loaded
        .cluster
        .endpoints
        .iter()
        .find(|e| e.name == "a")
        .unwrap();
    assert_eq!(a.source.line, 6);
}

#[test]
fn missing_namespace_is_default_and_namespaces_exist_implicitly() {
    let loaded = load(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: ys}\n",
    );
    let ns: Vec<&str> = loaded
        .cluster
        .namespaces
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(ns, ["default", "ys"]);
    for (name, n) in &loaded.cluster.namespaces {
        assert_eq!(n.labels.get("kubernetes.io/metadata.name"), Some(name));
    }
}

#[test]
fn declared_namespace_keeps_labels_and_gains_metadata_name() {
    let loaded = load("apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {team: a}}\n");
    let labels = &loaded.cluster.namespaces["x"].labels;
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        labels
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("x")
    );
}

#[test]
fn json_list_items_keep_their_lines() {
    let text = "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}},\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\"}}\n]}";
    let loaded = load_texts(&[input("dump.json", text)]).unwrap();
    let lines: Vec<u32> = loaded
        .cluster
        .endpoints
        .iter()
        .map(|e| e.source.line)
        .collect();
    assert_eq!(lines, [2, 3]);
}

#[test]
fn typed_api_lists_fill_in_item_kind() {
    let yaml =
        "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\n";
    let loaded = load(yaml);
    assert_eq!(loaded.cluster.endpoints.len(), 2);
    assert_eq!(loaded.cluster.endpoints[1].source.line, 5);
    let json = r#"{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"a"}}]}"#;
    let loaded = load_texts(&[input("pods.json", json)]).unwrap();
    assert_eq!(loaded.cluster.endpoints.len(), 1);
}

#[test]
fn unknown_kinds_are_counted_not_errors() {
    let loaded = load(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: c}\n",
    );
    assert_eq!(loaded.cluster.unknown_kinds.get("v1/ConfigMap"), Some(&2));
    assert_eq!(
        loaded
            .cluster
            .unknown_kinds
            .get("projectcalico.org/v3/GlobalNetworkSet"),
        Some(&1)
    );
    assert!(loaded.cluster.policies.is_empty());
}

#[test]
fn pods_belong_to_the_top_of_their_owner_chain() {
    let loaded = load(concat!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: x}\nspec: {template: {metadata: {labels: {app: web}}, spec: {containers: []}}}\n---\n",
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, namespace: x, ownerReferences: [{kind: Deployment, name: web, controller: true, apiVersion: apps/v1, uid: u}]}\nspec: {template: {metadata: {labels: {app: web}}, spec: {containers: []}}}\n---\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1-abc, namespace: x, labels: {app: web}, ownerReferences: [{kind: ReplicaSet, name: web-1, controller: true, apiVersion: apps/v1, uid: v}]}\n---\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: orphan-x, namespace: x, ownerReferences: [{kind: ReplicaSet, name: gone-7d, controller: true, apiVersion: apps/v1, uid: w}]}\n---\n",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: x}\nspec: {jobTemplate: {spec: {template: {metadata: {labels: {app: job}}, spec: {containers: []}}}}}\n",
    ));
    let names: Vec<(String, String, bool)> = loaded
        .cluster
        .endpoints
        .iter()
        .map(|e| (e.display_name(), e.workload_name(), e.representative))
        .collect();
    assert_eq!(
        names,
        [
            (
                "x/nightly[CronJob]".into(),
                "x/nightly[CronJob]".into(),
                true
            ),
            ("x/orphan-x".into(), "x/gone-7d[ReplicaSet]".into(), false),
            ("x/web-1-abc".into(), "x/web[Deployment]".into(), false),
        ]
    );
}

#[test]
fn workload_template_becomes_one_representative() {
    let loaded = load(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: kube-system}\nspec:\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      hostNetwork: true\n      containers:\n      - name: a\n        ports: [{containerPort: 9100, name: metrics}]\n",
    );
    let e = &loaded.cluster.endpoints[0];
    assert!(e.representative && e.host_network);
    assert_eq!(e.display_name(), "kube-system/agent[DaemonSet]");
    assert_eq!(e.ports[0].port, 9100);
}

#[test]
fn policy_types_default_as_the_api_server_does() {
    let loaded = load(concat!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ing}\nspec: {podSelector: {}}\n---\n",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: both}\nspec: {podSelector: {}, egress: [{}]}\n---\n",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: eg}\nspec: {podSelector: {}, policyTypes: [Egress]}\n",
    ));
    let p: Vec<(&str, bool, bool)> = loaded
        .cluster
        .policies
        .iter()
        .map(|p| (p.name.as_str(), p.affects_ingress, p.affects_egress))
        .collect();
    assert_eq!(
        p,
        [
            ("both", true, true),
            ("eg", false, true),
            ("ing", true, false)
        ]
    );
}

#[test]
fn null_selectors_mean_empty() {
    let loaded = load(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np1}\nspec:\n  podSelector:\n    matchLabels:\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n",
    );
    let p = &loaded.cluster.policies[0];
    assert!(p.pod_selector.is_empty());
    assert_eq!(p.ingress.len(), 1);
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let e = error(
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n",
    );
    assert!(e.starts_with("bad.yaml:"), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");
}

#[test]
fn malformed_json_names_file_and_line() {
    let e = error(
        "bad.json",
        "{\"kind\": \"Pod\",\n \"metadata\": {\"name\": }\n}",
    );
    assert!(e.starts_with("bad.json:2:"), "{e}");
}

#[test]
fn missing_name_is_an_error_naming_the_object_kind() {
    let e = error(
        "x.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {namespace: ns1}\n",
    );
    assert_eq!(
        e,
        "x.yaml:1: Service ns1/<no name>: missing required field `metadata.name`"
    );
}

#[test]
fn invalid_selector_operator_is_an_error() {
    let e = error(
        "np.yaml",
        "\n\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: ns1}\nspec:\n  podSelector:\n    matchExpressions: [{key: a, operator: Equals, values: [b]}]\n",
    );
    assert!(
        e.starts_with(
            "np.yaml:3: NetworkPolicy ns1/p: spec.podSelector.matchExpressions[0].operator"
        ),
        "{e}"
    );
}

#[test]
fn in_without_values_is_an_error() {
    let e = error(
        "np.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector:\n    matchExpressions: [{key: a, operator: In}]\n",
    );
    assert!(e.contains("must be non-empty"), "{e}");
}

#[test]
fn invalid_cidr_and_except_outside_are_errors() {
    let base = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: ";
    let e = error("a.yaml", &format!("{base}{{cidr: 10.0.0.0/33}}\n"));
    assert!(
        e.contains("spec.ingress[0].from[0].ipBlock.cidr") && e.contains("not a valid CIDR"),
        "{e}"
    );
    let e = error(
        "a.yaml",
        &format!("{base}{{cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}\n"),
    );
    assert!(e.contains("must be strictly within cidr"), "{e}");
}

#[test]
fn peer_with_ipblock_and_selector_is_an_error() {
    let e = error(
        "a.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8}\n      podSelector: {}\n",
    );
    assert!(
        e.contains("spec.egress[0].to[0]: ipBlock may not be combined"),
        "{e}"
    );
}

#[test]
fn bad_ports_are_errors() {
    let base = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: ";
    for (ports, needle) in [
        (
            "[{port: http, endPort: 90}]",
            "may not be used with a named port",
        ),
        ("[{port: 90, endPort: 80}]", "must be greater than or equal"),
        ("[{port: 70000}]", "not a valid port"),
        ("[{protocol: ICMP, port: 1}]", "unsupported protocol"),
        ("[{endPort: 80}]", "requires a numeric port"),
    ] {
        let e = error("a.yaml", &format!("{base}{ports}\n"));
        assert!(e.contains(needle), "{ports}: {e}");
    }
}

#[test]
fn wrong_field_type_names_the_path() {
    let e = error(
        "a.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  hostNetwork: [1]\n",
    );
    assert!(e.contains("Pod default/a: spec.hostNetwork"), "{e}");
}

#[test]
fn non_mapping_document_is_an_error() {
    let e = error("a.yaml", "- just\n- a list\n");
    assert!(e.contains("expected a Kubernetes object"), "{e}");
}

#[test]
fn yaml_alias_bombs_are_refused_quickly() {
    let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    let mut prev = 'a';
    for c in 'b'..='k' {
        text.push_str(&format!("{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = c;
    }
    let started = std::time::Instant::now();
    let result = load_texts(&[input("bomb.yaml", &text)]);
    assert!(result.is_err(), "an alias bomb must be rejected");
    assert!(started.elapsed().as_secs() < 5);
}

#[test]
fn legacy_octal_numbers_read_as_kubectl_reads_them() {
    // kubectl (YAML 1.1) reads 0644 as octal 420; numbers here must not break typing.
    let loaded = load(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 010}]\n",
    );
    assert_eq!(loaded.cluster.endpoints[0].ports[0].port, 8);
}

#[test]
fn yaml_booleans_where_strings_belong_are_errors() {
    // `namespace: y` is a boolean to kubectl's YAML 1.1 reader too: say so, never default.
    let e = error(
        "a.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: y}\n",
    );
    assert!(e.contains("metadata.namespace: expected a string"), "{e}");
}

#[test]
fn invalid_label_keys_and_values_in_selectors_are_errors() {
    let base = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: ";
    let e = error("a.yaml", &format!("{base}{{matchLabels: {{app@b: x}}}}\n"));
    assert!(
        e.contains("spec.podSelector.matchLabels: \"app@b\" is not a valid label key"),
        "{e}"
    );
    let e = error(
        "a.yaml",
        &format!("{base}{{matchLabels: {{app: $backend}}}}\n"),
    );
    assert!(e.contains("is not a valid label value"), "{e}");
    let e = error(
        "a.yaml",
        &format!("{base}{{matchExpressions: [{{key: Example.com/app, operator: Exists}}]}}\n"),
    );
    assert!(e.contains("not a valid label key"), "{e}");
    // Valid prefixed keys and empty values pass.
    load(&format!(
        "{base}{{matchLabels: {{app.kubernetes.io/name: web, tier: ''}}}}\n"
    ));
}

#[test]
fn duplicate_objects_are_errors_but_namespaces_merge() {
    let e = error(
        "a.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}, ingress: [{}]}\n",
    );
    assert_eq!(
        e,
        "a.yaml:6: NetworkPolicy default/p: defined twice (also at a.yaml:1); which one applies depends on apply order"
    );
    let loaded = load(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: a}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop, annotations: {note: x}}\n",
    );
    let ns = &loaded.cluster.namespaces["shop"];
    assert_eq!(ns.labels["team"], "a");
    assert_eq!(ns.annotations["note"], "x");
}

#[test]
fn a_yaml_stream_may_start_with_a_json_document() {
    let loaded = load_texts(&[input("x.yaml", "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\n")]).unwrap();
    assert!(loaded.cluster.namespaces.contains_key("a"));
    assert_eq!(loaded.cluster.endpoints.len(), 1);
    // A .json file must be JSON.
    assert!(load_texts(&[input("x.json", "{\"a\":1}\n---\n")]).is_err());
}

#[test]
fn bad_container_ports_name_their_field() {
    let pod = |ports: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: a}}\nspec:\n  containers:\n  - name: c\n  initContainers:\n  - name: i\n    ports: [{{containerPort: 80}}, {ports}]\n"
        )
    };
    for (ports, field) in [
        (
            "{containerPort: 0}",
            "spec.initContainers[0].ports[1].containerPort: 0 is not a valid port (1-65535)",
        ),
        (
            "{containerPort: 70000}",
            "spec.initContainers[0].ports[1].containerPort: 70000 is not a valid port",
        ),
        (
            "{containerPort: 80, hostPort: -1}",
            "spec.initContainers[0].ports[1].hostPort: -1 is not a valid port",
        ),
        (
            "{containerPort: 80, protocol: tcp}",
            "spec.initContainers[0].ports[1].protocol: ",
        ),
    ] {
        let e = error("pod.yaml", &pod(ports));
        assert!(e.contains(field), "{ports}: {e}");
        assert!(e.contains("Pod a/p"), "{e}");
    }
    // hostPort 0 means none; valid ports load.
    let loaded = load(&pod("{containerPort: 8080, hostPort: 0, protocol: UDP}"));
    let ports = &loaded.cluster.endpoints[0].ports;
    assert_eq!(ports.len(), 2);
    assert!(ports.iter().all(|p| p.host_port.is_none()));
}

/// A pod's annotations are its workload template's, overridden by its own: a pod that
/// carries all of the template's keys keeps exactly its own; one missing some gains them.
#[test]
fn pods_inherit_their_workloads_template_annotations_their_own_win() {
    let pod = |name: &str, annotations: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: x, annotations: {annotations}, ownerReferences: [{{kind: Deployment, name: web, controller: true, apiVersion: apps/v1, uid: u}}]}}\n---\n"
        )
    };
    let loaded = load(&[
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: x}\nspec: {template: {metadata: {annotations: {a: '1', b: '2'}}, spec: {containers: []}}}\n---\n".to_string(),
        pod("some", "{a: '9'}"),
        pod("all", "{a: '9', b: '8', c: '7'}"),
        pod("none", "{}"),
    ]
    .concat());
    let annotations = |name: &str| -> Vec<(String, String)> {
        let e = loaded
            .cluster
            .endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        e.annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(annotations("some"), pairs(&[("a", "9"), ("b", "2")]));
    assert_eq!(
        annotations("all"),
        pairs(&[("a", "9"), ("b", "8"), ("c", "7")])
    );
    assert_eq!(annotations("none"), pairs(&[("a", "1"), ("b", "2")]));
}
