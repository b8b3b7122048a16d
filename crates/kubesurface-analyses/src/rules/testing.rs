//! Test support: run the audit on manifests given as YAML text.

use std::sync::Arc;

use kubesurface_engine::{Engine, Settings};
use kubesurface_ingest::{InputText, load_texts};

use crate::config::Config;
use crate::exposure::exposures;
use crate::findings::Finding;
use crate::rules::{AuditContext, HostSocket, audit};

/// Every finding for `yaml` under `config` (YAML text of a `kubesurface.yaml`).
pub fn audit_yaml(yaml: &str, config: &str) -> Vec<Finding> {
    audit_with_sockets(yaml, config, &[])
}

/// Every finding, with socket data.
pub fn audit_with_sockets(yaml: &str, config: &str, sockets: &[HostSocket]) -> Vec<Finding> {
    let loaded = load_texts(&[InputText {
        name: Arc::from("test.yaml"),
        text: yaml.into(),
    }])
    .unwrap_or_else(|e| panic!("fixture does not load: {e}"));
    let config = if config.trim().is_empty() {
        Config::default()
    } else {
        Config::parse("kubesurface.yaml", config).unwrap()
    };
    let engine = Engine::new(&loaded.cluster, Settings::default());
    let exposures = exposures(&engine, &config);
    let ctx = AuditContext::new(&engine, &config, &exposures, sockets);
    audit(&ctx)
}

/// The findings of one rule.
pub fn findings_of(code: &str, yaml: &str, config: &str) -> Vec<Finding> {
    audit_yaml(yaml, config)
        .into_iter()
        .filter(|f| f.rule == code)
        .collect()
}

/// Test support: every finding of `code` for the vendored Sock Shop corpus, read from
/// `paths` relative to `tests/corpus/sock-shop` (in that order: the first definition of a
/// duplicated object wins in ingest).
#[cfg(test)]
pub fn sock_shop_findings(paths: &[&str], code: &str) -> Vec<Finding> {
    use crate::config::Config;
    use crate::exposure::exposures;
    use kubesurface_engine::{Engine, Settings};

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/corpus/sock-shop");
    let paths: Vec<String> = paths.iter().map(|p| format!("{root}/{p}")).collect();
    let loaded = kubesurface_ingest::load_paths(&paths).expect("the Sock Shop corpus loads");
    let config = Config::default();
    let engine = Engine::new(&loaded.cluster, Settings::default());
    let exposures = exposures(&engine, &config);
    let ctx = AuditContext::new(&engine, &config, &exposures, &[]);
    audit(&ctx).into_iter().filter(|f| f.rule == code).collect()
}
