//! The `v1 List` of everything read: what ingest models, and what `--dump` writes.

use std::path::Path;

use serde_json::{Map, Value};

use crate::LiveError;

/// The annotation `kubectl apply` keeps a full copy of the applied manifest in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What replaces a redacted value.
pub const REDACTED: &str = "<redacted by kubesurface>";

/// Makes one list item a complete object: fills in `apiVersion` and `kind` (list items
/// omit them), drops `metadata.managedFields` (as `kubectl get` does), and redacts what
/// may hold credentials and is never analysed: container `env[].value` and the
/// last-applied-configuration annotation (a copy of the manifest with those values).
pub(crate) fn normalize(item: &mut Map<String, Value>, api_version: &str, kind: &str) {
    item.entry("apiVersion")
        .or_insert_with(|| Value::String(api_version.to_string()));
    item.entry("kind")
        .or_insert_with(|| Value::String(kind.to_string()));
    if let Some(Value::Object(meta)) = item.get_mut("metadata") {
        meta.remove("managedFields");
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations")
            && let Some(v) = annotations.get_mut(LAST_APPLIED)
        {
            *v = Value::String(REDACTED.into());
        }
    }
    if let Some(spec) = item.get_mut("spec") {
        redact_env(spec, 0);
    }
}

/// Redacts `env[].value` in every container list under a spec (pod specs, templates, job
/// templates).
fn redact_env(v: &mut Value, depth: usize) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match (key.as_str(), child) {
                    ("containers" | "initContainers" | "ephemeralContainers", Value::Array(cs)) => {
                        for c in cs {
                            if let Some(Value::Array(env)) = c.get_mut("env") {
                                for e in env {
                                    if let Some(val) = e.get_mut("value") {
                                        *val = Value::String(REDACTED.into());
                                    }
                                }
                            }
                        }
                    }
                    (_, child @ Value::Object(_)) => redact_env(child, depth + 1),
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                redact_env(i, depth + 1);
            }
        }
        _ => {}
    }
}

/// Wraps items as `{"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [...]}`.
pub(crate) fn list(items: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert("apiVersion".into(), Value::String("v1".into()));
    m.insert("kind".into(), Value::String("List".into()));
    m.insert("metadata".into(), Value::Object(Map::new()));
    m.insert("items".into(), Value::Array(items));
    Value::Object(m)
}

/// Dump formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// JSON (for `.json`).
    Json,
    /// YAML (anything else).
    Yaml,
}

impl DumpFormat {
    /// JSON for a `.json` file name, YAML otherwise (as `kubectl get -o`, YAML is the
    /// format people diff and attach).
    pub fn for_path(path: &Path) -> DumpFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => DumpFormat::Json,
            _ => DumpFormat::Yaml,
        }
    }
}

/// `value` as pretty JSON with a final newline.
pub(crate) fn to_json(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    s.push('\n');
    s
}

/// `value` as YAML.
pub(crate) fn to_yaml(value: &Value) -> Result<String, LiveError> {
    serde_saphyr::to_string(value)
        .map_err(|e| LiveError::new(format!("cannot write the dump as YAML: {e}")))
}

/// Writes `text` to `path` through a temporary file in the same directory, so an
/// interrupted run never leaves half a dump.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<(), LiveError> {
    let fail = |e: std::io::Error| LiveError::new(format!("cannot write {}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dump".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalize_fills_and_redacts() {
        let mut item = json!({
            "metadata": {"name": "a", "managedFields": [{}],
                         "annotations": {LAST_APPLIED: "{...}", "x": "y"}},
            "spec": {"template": {"spec": {
                "containers": [{"name": "c", "env": [{"name": "P", "value": "secret"},
                                                     {"name": "Q", "valueFrom": {"fieldRef": {}}}]}],
                "initContainers": [{"name": "i", "env": [{"name": "P", "value": "s"}]}]}}}
        });
        normalize(item.as_object_mut().unwrap(), "apps/v1", "Deployment");
        assert_eq!(item["apiVersion"], "apps/v1");
        assert_eq!(item["kind"], "Deployment");
        assert!(item["metadata"].get("managedFields").is_none());
        assert_eq!(item["metadata"]["annotations"][LAST_APPLIED], REDACTED);
        assert_eq!(item["metadata"]["annotations"]["x"], "y");
        let spec = &item["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["env"][0]["value"], REDACTED);
        assert!(spec["containers"][0]["env"][1].get("value").is_none());
        assert_eq!(spec["initContainers"][0]["env"][0]["value"], REDACTED);
    }

    #[test]
    fn keeps_given_kind() {
        let mut item = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}});
        normalize(item.as_object_mut().unwrap(), "x/v9", "Other");
        assert_eq!(item["apiVersion"], "v1");
        assert_eq!(item["kind"], "Namespace");
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(DumpFormat::for_path(Path::new("a.json")), DumpFormat::Json);
        assert_eq!(DumpFormat::for_path(Path::new("a.JSON")), DumpFormat::Json);
        assert_eq!(DumpFormat::for_path(Path::new("a.yaml")), DumpFormat::Yaml);
        assert_eq!(DumpFormat::for_path(Path::new("a")), DumpFormat::Yaml);
    }

    #[test]
    fn yaml_round_trips_tricky_strings() {
        let strings = [
            "0644",
            "yes",
            "on",
            "1e3",
            "",
            "null",
            "~",
            "a: b",
            "- x",
            "#c",
            "multi\nline\n",
            " lead",
            "0x1F",
            "1_000",
            ".inf",
            "2024-01-01",
            "*alias",
            "&anchor",
            "!tag",
            "%x",
            "@x",
            "`x",
            "'q'",
            "\"dq\"",
            "{a}",
            "[a]",
            "é ü",
            "=",
            "?",
            "<<",
            "-",
            "|",
            ">",
            "0o17",
            "NO",
            "False",
            "y",
            "n",
            "012",
            "+1",
            "1.",
            "\t",
            "x\u{7}",
            "trailing ",
        ];
        let mut item = Map::new();
        for (i, s) in strings.iter().enumerate() {
            item.insert(format!("s{i}"), json!(s));
        }
        for (k, v) in [
            ("n1", json!(8080)),
            ("n2", json!(true)),
            ("n3", Value::Null),
            ("n4", json!(1.5)),
            ("n5", json!(-3)),
            ("n6", json!({})),
            ("n7", json!([])),
        ] {
            item.insert(k.into(), v);
        }
        let v = json!({"items": [item]});
        let yaml = to_yaml(&v).unwrap();
        let back: Value = serde_saphyr::from_str_with_options(
            &yaml,
            serde_saphyr::options! { legacy_octal_numbers: true },
        )
        .unwrap();
        assert_eq!(back, v, "{yaml}");
    }
}
