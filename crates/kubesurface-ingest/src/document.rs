//! Splits an input text into raw objects, each with its file and line: YAML streams
//! (multi-document, comments, empty documents), JSON documents, and `List` kinds.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use serde_saphyr::Spanned;

use kubesurface_model::Source;

use crate::IngestError;
use crate::input::InputText;
use crate::scan::{plain_string, skip_value, skip_ws};

/// The body of one object, not yet typed.
#[derive(Debug)]
pub enum Body<'a> {
    /// Parsed from YAML into a generic value.
    Value(Value),
    /// The text of one JSON value (already checked to be valid JSON), a slice of a JSON
    /// input, parsed straight into typed structs later.
    Raw(&'a str),
}

impl Body<'_> {
    /// `apiVersion` and `kind` when both are plain strings (no escapes in JSON), read from
    /// the start of the object without going through the rest: kubectl and most tools
    /// write them first. `None` when they are not found that way.
    pub fn peek_type(&self) -> Option<(&str, &str)> {
        match self {
            Body::Value(v) => Some((v.get("apiVersion")?.as_str()?, v.get("kind")?.as_str()?)),
            Body::Raw(raw) => peek_json_type(raw),
        }
    }
}

/// [`Body::peek_type`] of a JSON object's text (which may go on past the object): top-level
/// keys are read in order, other values skipped, until both are found.
pub(crate) fn peek_json_type(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let (mut api_version, mut kind) = (None, None);
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_ws(bytes, at);
        let key = plain_string(text, &mut at)?;
        at = skip_ws(bytes, at);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_ws(bytes, at + 1);
        let slot = match key {
            "apiVersion" => &mut api_version,
            "kind" => &mut kind,
            _ => {
                skip_value(text, &mut at)?;
                at = skip_ws(bytes, at);
                match bytes.get(at)? {
                    b',' => {
                        at += 1;
                        continue;
                    }
                    _ => return None,
                }
            }
        };
        if slot.is_some() {
            return None; // repeated: let the checked read report it
        }
        *slot = Some(plain_string(text, &mut at)?);
        if let (Some(a), Some(k)) = (api_version, kind) {
            return Some((a, k));
        }
        at = skip_ws(bytes, at);
        if bytes.get(at) != Some(&b',') {
            return None;
        }
        at += 1;
    }
}

/// One Kubernetes object as read, before typing.
#[derive(Debug)]
pub struct RawObject<'a> {
    /// Where it starts.
    pub source: Source,
    /// Its content.
    pub body: Body<'a>,
}

/// The most YAML aliases a document may use: real manifests use a handful; a billion-laughs
/// bomb uses millions. Refusing early keeps hostile input cheap.
const MAX_YAML_ALIASES: usize = 10_000;

/// Splits one input into raw objects (List items expanded by the caller).
pub fn split(input: &InputText) -> Result<Vec<RawObject<'_>>, IngestError> {
    let trimmed = input.text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return split_yaml(input);
    }
    // JSON is read with the fast JSON parser; a YAML stream that merely starts with a JSON
    // document (`{...}\n---\n...`) falls back to YAML, which reads JSON too.
    match split_json(input) {
        Ok(objects) => Ok(objects),
        Err(json_error) if input.name.ends_with(".json") => Err(json_error),
        Err(json_error) => split_yaml(input).map_err(|_| json_error),
    }
}

fn at(input: &InputText, line: usize) -> Source {
    Source {
        file: Arc::clone(&input.name),
        line: u32::try_from(line).unwrap_or(u32::MAX),
    }
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_aliases: MAX_YAML_ALIASES,
        },
    }
}

/// Only the `items` of a document, with their positions; used for YAML `List` documents.
#[derive(Deserialize)]
struct ItemsOnly {
    #[serde(default)]
    items: Option<Vec<Spanned<Value>>>,
}

fn split_yaml(input: &InputText) -> Result<Vec<RawObject<'_>>, IngestError> {
    let docs: Vec<Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(&input.text, yaml_options())
            .map_err(|e| yaml_error(input, &e))?;
    let has_list = docs.iter().any(|d| is_list(&d.value));
    let item_docs: Vec<ItemsOnly> = if has_list {
        serde_saphyr::from_multiple_with_options(&input.text, yaml_options())
            .map_err(|e| yaml_error(input, &e))?
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for (index, doc) in docs.into_iter().enumerate() {
        let line = doc.referenced.line() as usize;
        match doc.value {
            Value::Null => {}
            value if is_list(&value) => {
                let (api_version, item_kind) = list_item_defaults(&value);
                let items = item_docs
                    .get(index)
                    .and_then(|d| d.items.as_ref())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for item in items {
                    let mut value = item.value.clone();
                    fill_item_type(&mut value, &api_version, &item_kind);
                    out.push(RawObject {
                        source: at(input, item.referenced.line() as usize),
                        body: Body::Value(value),
                    });
                }
            }
            value @ Value::Object(_) => out.push(RawObject {
                source: at(input, line),
                body: Body::Value(value),
            }),
            other => {
                return Err(IngestError::new(
                    at(input, line),
                    format!(
                        "expected a Kubernetes object (a mapping), found {}",
                        value_kind(&other)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn yaml_error(input: &InputText, e: &serde_saphyr::Error) -> IngestError {
    let line = e.location().map_or(0, |l| l.line() as usize);
    let message = e.to_string();
    let message = message.lines().next().unwrap_or("invalid YAML").to_string();
    IngestError::new(at(input, line), format!("invalid YAML: {message}"))
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// True for `kind: List`, `PodList`, … with an `items` field.
fn is_list(v: &Value) -> bool {
    v.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && v.get("items").is_some()
}

/// API lists (`PodList` straight from the API) omit each item's apiVersion and kind.
fn list_item_defaults(list: &Value) -> (String, String) {
    let api_version = list
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1")
        .to_string();
    let kind = list.get("kind").and_then(Value::as_str).unwrap_or("List");
    let item_kind = kind.strip_suffix("List").unwrap_or("").to_string();
    (api_version, item_kind)
}

fn fill_item_type(item: &mut Value, api_version: &str, item_kind: &str) {
    if item_kind.is_empty() {
        return;
    }
    if let Value::Object(map) = item {
        map.entry("kind")
            .or_insert_with(|| Value::String(item_kind.to_string()));
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(api_version.to_string()));
    }
}

/// Byte offsets of line starts, for turning JSON offsets into lines.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        // Most 64-byte blocks of a compact dump hold no newline: test blocks first.
        for (block, bytes) in text.as_bytes().chunks(64).enumerate() {
            if bytes.contains(&b'\n') {
                starts.extend(
                    (bytes.iter().enumerate())
                        .filter(|(_, b)| **b == b'\n')
                        .map(|(i, _)| block * 64 + i + 1),
                );
            }
        }
        LineIndex(starts)
    }

    fn line_of(&self, offset: usize) -> usize {
        self.0.partition_point(|&s| s <= offset)
    }
}

/// The envelope of a JSON document: enough to tell a List from an object.
#[derive(Deserialize)]
struct JsonEnvelope<'a> {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default, borrow)]
    items: Option<Vec<&'a RawValue>>,
}

fn split_json(input: &InputText) -> Result<Vec<RawObject<'_>>, IngestError> {
    let index = LineIndex::new(&input.text);
    let offset_of = |raw: &RawValue| raw.get().as_ptr() as usize - input.text.as_ptr() as usize;
    let json_error =
        |e: serde_json::Error| IngestError::new(at(input, e.line()), format!("invalid JSON: {e}"));
    // A single object (the usual `kubectl get -o json` dump) is read in one pass: its
    // envelope straight from the text, the whole object only when it is not a List.
    let tops: Vec<&RawValue> = if input.text.trim_start().starts_with('[') {
        serde_json::from_str(&input.text).map_err(json_error)?
    } else {
        let envelope: JsonEnvelope<'_> = serde_json::from_str(&input.text).map_err(json_error)?;
        if envelope
            .kind
            .as_deref()
            .is_some_and(|k| k.ends_with("List"))
            && envelope.items.is_some()
        {
            return list_items(input, &index, envelope);
        }
        vec![serde_json::from_str(&input.text).map_err(json_error)?]
    };
    let mut out = Vec::new();
    for doc in tops {
        let line = index.line_of(offset_of(doc));
        let envelope: JsonEnvelope<'_> = serde_json::from_str(doc.get()).map_err(|e| {
            IngestError::new(
                at(input, line),
                format!("expected a Kubernetes object: {e}"),
            )
        })?;
        if envelope
            .kind
            .as_deref()
            .is_some_and(|k| k.ends_with("List"))
            && envelope.items.is_some()
        {
            out.extend(list_items(input, &index, envelope)?);
        } else {
            out.push(RawObject {
                source: at(input, line),
                body: Body::Raw(doc.get()),
            });
        }
    }
    Ok(out)
}

/// The items of a JSON `List`, each with its line; typed API lists (`PodList`) get their
/// items' kind filled in.
fn list_items<'a>(
    input: &'a InputText,
    index: &LineIndex,
    envelope: JsonEnvelope<'a>,
) -> Result<Vec<RawObject<'a>>, IngestError> {
    let offset_of = |raw: &RawValue| raw.get().as_ptr() as usize - input.text.as_ptr() as usize;
    let kind = envelope.kind.as_deref().unwrap_or("List");
    let item_kind = kind.strip_suffix("List").unwrap_or("");
    let mut out = Vec::new();
    for item in envelope.items.unwrap_or_default() {
        let source = at(input, index.line_of(offset_of(item)));
        if item_kind.is_empty() {
            out.push(RawObject {
                source,
                body: Body::Raw(item.get()),
            });
        } else {
            // Typed API lists omit the items' kind: fill it in.
            let mut value: Value = serde_json::from_str(item.get())
                .map_err(|e| IngestError::new(source.clone(), format!("invalid JSON: {e}")))?;
            fill_item_type(
                &mut value,
                envelope.api_version.as_deref().unwrap_or("v1"),
                item_kind,
            );
            out.push(RawObject {
                source,
                body: Body::Value(value),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(text: &str) -> Option<(String, String)> {
        Body::Raw(text)
            .peek_type()
            .map(|(a, k)| (a.to_string(), k.to_string()))
    }

    fn typed(a: &str, k: &str) -> Option<(String, String)> {
        Some((a.to_string(), k.to_string()))
    }

    #[test]
    fn peek_reads_api_version_and_kind_in_any_order_past_other_keys() {
        assert_eq!(
            peek(r#"{"apiVersion":"v1","kind":"Pod"}"#),
            typed("v1", "Pod")
        );
        assert_eq!(
            peek(r#" { "kind" : "Deployment" ,"apiVersion":"apps/v1","spec":{}} "#),
            typed("apps/v1", "Deployment")
        );
        assert_eq!(
            peek(
                r#"{"metadata":{"name":"a","labels":{"x":"}\"{"}},"spec":[1,{"a":"b"}],
                    "apiVersion":"v1","status":null,"kind":"Service"}"#
            ),
            typed("v1", "Service")
        );
    }

    #[test]
    fn peek_gives_up_on_anything_unusual() {
        // Escapes, non-strings, a repeated key, missing keys, not an object.
        assert_eq!(peek(r#"{"apiVersion":"v\u0031","kind":"Pod"}"#), None);
        assert_eq!(peek(r#"{"api\u0056ersion":"v1","kind":"Pod"}"#), None);
        assert_eq!(peek(r#"{"apiVersion":1,"kind":"Pod"}"#), None);
        assert_eq!(peek(r#"{"kind":null,"apiVersion":"v1"}"#), None);
        assert_eq!(
            peek(r#"{"kind":"Pod","kind":"Pod","apiVersion":"v1"}"#),
            None
        );
        assert_eq!(peek(r#"{"apiVersion":"v1"}"#), None);
        assert_eq!(peek(r#"{}"#), None);
        assert_eq!(peek(r#"["v1","Pod"]"#), None);
        assert_eq!(peek(r#""Pod""#), None);
    }

    #[test]
    fn peek_reads_yaml_values_by_key() {
        let v: Value = serde_json::json!({"kind": "Pod", "apiVersion": "v1"});
        assert_eq!(Body::Value(v).peek_type(), Some(("v1", "Pod")));
        let v: Value = serde_json::json!({"kind": "Pod", "apiVersion": 1});
        assert_eq!(Body::Value(v).peek_type(), None);
    }

    #[test]
    fn line_index_finds_every_line_start() {
        let text = format!("a\n{}\nb\n\n{}", "x".repeat(100), "y".repeat(70));
        let index = LineIndex::new(&text);
        for (offset, _) in text.char_indices() {
            let expected = 1 + text[..offset].matches('\n').count();
            assert_eq!(index.line_of(offset), expected, "offset {offset}");
        }
    }
}
