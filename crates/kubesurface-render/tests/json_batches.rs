//! The JSON renderer's batch path (parallel pieces, cached name literals) writes exactly
//! what its one-connection-at-a-time path writes, across windows and batches.

use std::sync::Arc;

use kubesurface_engine::connectivity::{
    Granularity, for_each_connection_batch, for_each_connection_with_ids,
};
use kubesurface_engine::{Engine, Settings};
use kubesurface_ingest::{InputText, load_texts};
use kubesurface_render::{ConnectivityRenderer, JsonRenderer};

/// `pods` pods (named `{prefix}{i}`) in two namespaces, some ports; one policy so verdicts
/// differ.
fn cluster(prefix: &str, pods: usize) -> String {
    let mut items = Vec::new();
    for i in 0..pods {
        let ns = if i % 3 == 0 { "b" } else { "a" };
        items.push(format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{prefix}{i}","namespace":"{ns}","labels":{{"app":"x{}"}}}},"spec":{{"containers":[{{"name":"c","ports":[{{"containerPort":{},"name":"web"}}]}}]}},"status":{{"podIP":"10.{}.{}.{}"}}}}"#,
            i % 5,
            8000 + i % 7,
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    items.push(
        r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"web","namespace":"a"},"spec":{"podSelector":{"matchLabels":{"app":"x1"}},"ingress":[{"from":[{"podSelector":{}}],"ports":[{"port":"web"}]}]}}"#
            .to_string(),
    );
    format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        items.join(",")
    )
}

#[test]
fn batches_render_the_same_bytes_as_single_connections() {
    // 520 pods: about 270,000 pod pairs, more than one window and one batch (of 512
    // sources).
    let loaded = load_texts(&[InputText {
        name: Arc::from("cluster.json"),
        text: cluster("p", 520).into(),
    }])
    .expect("valid cluster");
    let engine = Engine::new(&loaded.cluster, Settings::default());
    for granularity in [
        Granularity::Pod,
        Granularity::Workload,
        Granularity::Namespace,
    ] {
        let mut single = Vec::new();
        let mut r = JsonRenderer::default();
        r.begin(&mut single, granularity).unwrap();
        let a = for_each_connection_with_ids(&engine, granularity, |src, dst, id, allowed| {
            r.connection(&mut single, src, dst, id, allowed).unwrap()
        });
        r.end(&mut single).unwrap();

        let mut batched = Vec::new();
        let mut r = JsonRenderer::default();
        r.begin(&mut batched, granularity).unwrap();
        let mut batches = 0;
        let b = for_each_connection_batch(&engine, granularity, |batch| {
            batches += 1;
            r.connections(&mut batched, batch).unwrap()
        });
        r.end(&mut batched).unwrap();

        assert_eq!(a.allowed_pairs, b.allowed_pairs);
        assert!(single == batched, "{granularity:?} differs");
        let parsed: serde_json::Value = serde_json::from_slice(&batched).unwrap();
        let rows = parsed["connections"].as_array().unwrap().len();
        assert_eq!(rows, a.allowed_pairs, "{granularity:?}");
        if granularity == Granularity::Pod {
            assert!(
                rows > 65_536 && batches > 1,
                "{rows} rows in {batches} batches"
            );
        }
    }
}

#[test]
fn a_renderer_used_again_names_the_new_run_s_groups() {
    let load = |prefix: &str| {
        load_texts(&[InputText {
            name: Arc::from("cluster.json"),
            text: cluster(prefix, 20).into(),
        }])
        .expect("valid cluster")
    };
    let (first, second) = (load("p"), load("q"));
    let mut r = JsonRenderer::default();
    let mut outputs = Vec::new();
    for loaded in [&first, &second] {
        let engine = Engine::new(&loaded.cluster, Settings::default());
        let mut out = Vec::new();
        r.begin(&mut out, Granularity::Pod).unwrap();
        for_each_connection_batch(&engine, Granularity::Pod, |batch| {
            r.connections(&mut out, batch).unwrap()
        });
        r.end(&mut out).unwrap();
        outputs.push(String::from_utf8(out).unwrap());
    }
    assert!(outputs[0].contains("\"a/p1\"") && !outputs[0].contains("\"a/q1\""));
    assert!(outputs[1].contains("\"a/q1\"") && !outputs[1].contains("\"a/p1\""));
}
