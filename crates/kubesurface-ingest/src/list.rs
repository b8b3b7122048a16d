//! Reads one JSON `List` (`{"kind": "List", "items": […]}`, as `kubectl get -o json` writes
//! it) in parallel, each item typed as it is found, in a single pass over its bytes.
//!
//! The items are cut into byte ranges at *guessed* item starts (the next place after an even
//! cut that looks like the separator between the first two items), and each range is read on
//! its own thread. A guess counts only once the range before it, itself read from a start
//! known to be right, ends exactly there: that range read valid JSON up to an item start of
//! the `items` array, so the parser's state there is the one the guessed range assumed.
//! A wrong guess (the pattern inside a nested array) costs the re-reading of its range.
//!
//! Anything this reader does not expect (another kind, a typed `PodList`, escapes in the
//! envelope's keys, repeated keys, invalid JSON) makes it give up, and the whole input is
//! read again by [`crate::document::split`], which names the problem.

use std::sync::Arc;

use rayon::prelude::*;
use serde_json::value::RawValue;

use kubesurface_model::Source;

use crate::IngestError;
use crate::document::{Body, RawObject};
use crate::input::InputText;
use crate::objects::{self, Parsed};
use crate::scan::{plain_string, skip_value, skip_ws};

/// A List's items and what each was typed as, in input order.
pub type ListItems<'a> = (Vec<RawObject<'a>>, Vec<Result<Parsed, IngestError>>);

/// Below this many bytes of items a List is read on one thread.
const MIN_RANGE_BYTES: usize = 64 << 10;

/// Ranges per thread: more than one, so that a thread done early takes over another's.
const RANGES_PER_THREAD: usize = 4;

/// Reads `input` as one JSON `List`; `None` when it is not one, or anything is unusual.
pub fn read(input: &InputText) -> Option<ListItems<'_>> {
    let ranges = (input.text.len() / MIN_RANGE_BYTES)
        .clamp(1, RANGES_PER_THREAD * rayon::current_num_threads());
    read_in(input, ranges)
}

/// [`read`] with the items cut into at most `ranges` ranges.
fn read_in(input: &InputText, ranges: usize) -> Option<ListItems<'_>> {
    let text = input.text.as_str();
    let bytes = text.as_bytes();
    let mut envelope = Envelope::default();
    let items_start = envelope.head(text)?;
    let first = skip_ws(bytes, items_start);
    let (items, after_items) = if bytes.get(first) == Some(&b']') {
        ((Vec::new(), Vec::new()), first + 1)
    } else {
        let line = 1 + count_newlines(&bytes[..first]);
        read_items(input, first, line, ranges)?
    };
    envelope.tail(text, after_items)?;
    (envelope.kind == Some("List")).then_some(items)
}

/// The items from the first one (at `first`, on `line`) to the end of the array: the items
/// and the offset just past the closing `]`.
fn read_items(
    input: &InputText,
    first: usize,
    line: usize,
    ranges: usize,
) -> Option<(ListItems<'_>, usize)> {
    let bytes = input.text.as_bytes();
    // The first item alone: the separator after it is the pattern the guesses look for.
    let head = read_range(input, first, line, first + 1);
    let (second, second_line) = match head.end {
        End::Closed(after) => return Some((head.items, after)),
        End::Invalid => return None,
        End::Next(at, line) => (at, line),
    };
    let starts = guess_starts(bytes, head.item_end, second, ranges);
    // The line each range starts on, from the newlines of the ranges before it.
    let newlines: Vec<usize> = starts
        .par_windows(2)
        .map(|w| count_newlines(&bytes[w[0]..w[1]]))
        .collect();
    let lines: Vec<usize> = std::iter::once(second_line)
        .chain(newlines.iter().scan(second_line, |line, n| {
            *line += n;
            Some(*line)
        }))
        .collect();
    let mut read: Vec<Option<Range<'_>>> = (0..starts.len())
        .into_par_iter()
        .map(|i| {
            let limit = starts.get(i + 1).copied().unwrap_or(usize::MAX);
            Some(read_range(input, starts[i], lines[i], limit))
        })
        .collect();
    // Keep the ranges whose start is confirmed by the range before; read on from where a
    // confirmed range ended when no range started there.
    let mut kept = vec![head];
    let mut next = 0;
    let mut end = End::Next(second, second_line);
    let after = loop {
        match end {
            End::Closed(after) => break after,
            End::Invalid => return None,
            End::Next(at, line) => {
                while next < starts.len() && starts[next] < at {
                    next += 1; // a wrong guess
                }
                let range = if starts.get(next) == Some(&at) {
                    next += 1;
                    read[next - 1].take().expect("each range is kept once")
                } else {
                    let limit = starts.get(next).copied().unwrap_or(usize::MAX);
                    read_range(input, at, line, limit)
                };
                end = range.end;
                kept.push(range);
            }
        }
    };
    let total = kept.iter().map(|r| r.items.0.len()).sum();
    let mut raw = Vec::with_capacity(total);
    let mut parsed = Vec::with_capacity(total);
    for range in kept {
        raw.extend(range.items.0);
        parsed.extend(range.items.1);
    }
    Some(((raw, parsed), after))
}

/// Where the ranges after the first item start: `second` (the second item, known), then the
/// first place past each even cut of the rest where the separator between the first two
/// items (`bytes[first_end..second]`) is followed by how the second item begins (up to its
/// first key). Increasing.
fn guess_starts(bytes: &[u8], first_end: usize, second: usize, ranges: usize) -> Vec<usize> {
    let separator = first_end..second;
    // How the second item begins: `{`, blanks, and its first key in quotes.
    let opening = bytes[second..]
        .iter()
        .take(64)
        .enumerate()
        .filter(|(_, b)| **b == b'"')
        .nth(1)
        .map_or(1, |(i, _)| i + 1);
    let needle = [&bytes[separator.clone()], &bytes[second..second + opening]].concat();
    let finder = memchr::memmem::Finder::new(&needle);
    let rest = bytes.len() - second;
    let mut starts = vec![second];
    for k in 1..ranges {
        let cut = second + rest / ranges * k;
        let last = *starts.last().expect("one start");
        if cut <= last {
            continue;
        }
        match finder.find(&bytes[cut..]) {
            Some(found) => starts.push(cut + found + separator.len()),
            None => break,
        }
    }
    starts.dedup();
    starts
}

/// What one range read.
struct Range<'a> {
    items: ListItems<'a>,
    /// Just past the last item read.
    item_end: usize,
    /// How the range ended.
    end: End,
}

/// How a range ended.
#[derive(Clone, Copy)]
enum End {
    /// At the start of an item at or past the range's limit, on the given line.
    Next(usize, usize),
    /// At the end of the items: the offset just past the `]`.
    Closed(usize),
    /// Not at a valid continuation of the items (for a wrong guess, expected).
    Invalid,
}

/// Reads the items from `start` (an item's first byte, on `line`) until an item starts at
/// or past `limit`, or the array ends.
fn read_range<'a>(input: &'a InputText, start: usize, mut line: usize, limit: usize) -> Range<'a> {
    let text = input.text.as_str();
    let bytes = text.as_bytes();
    let (mut raw, mut parsed) = (Vec::new(), Vec::new());
    let (mut at, mut counted_to, mut item_end) = (start, start, start);
    let end = loop {
        line += count_newlines(&bytes[counted_to..at]);
        counted_to = at;
        if at >= limit {
            break End::Next(at, line);
        }
        let source = Source {
            file: Arc::clone(&input.name),
            line: u32::try_from(line).unwrap_or(u32::MAX),
        };
        let Some((len, typed)) = read_item(&text[at..], &source) else {
            break End::Invalid;
        };
        raw.push(RawObject {
            source,
            body: Body::Raw(&text[at..at + len]),
        });
        parsed.push(typed);
        item_end = at + len;
        at = skip_ws(bytes, item_end);
        match bytes.get(at) {
            Some(b',') => at = skip_ws(bytes, at + 1),
            Some(b']') => break End::Closed(at + 1),
            _ => break End::Invalid,
        }
    };
    Range {
        items: (raw, parsed),
        item_end,
        end,
    }
}

/// Types the JSON value at the start of `text`: its length and what it was typed as.
/// `None` when it is not valid JSON.
fn read_item(text: &str, source: &Source) -> Option<(usize, Result<Parsed, IngestError>)> {
    if let Some((parsed, len)) = objects::classify_prefix(text, source) {
        return Some((len, Ok(parsed)));
    }
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    let value = values.next()?.ok()?;
    let raw = RawObject {
        source: source.clone(),
        body: Body::Raw(value.get()),
    };
    Some((values.byte_offset(), objects::classify(&raw)))
}

/// The List's own keys, read around its items.
#[derive(Default)]
struct Envelope<'a> {
    kind: Option<&'a str>,
    api_version: bool,
    items: bool,
}

impl<'a> Envelope<'a> {
    /// Reads from the opening `{` to the `[` of `items`: the offset past the `[`.
    fn head(&mut self, text: &'a str) -> Option<usize> {
        let bytes = text.as_bytes();
        let mut at = skip_ws(bytes, 0);
        if bytes.get(at) != Some(&b'{') {
            return None;
        }
        at = skip_ws(bytes, at + 1);
        loop {
            if let Some(items) = self.member(text, &mut at)? {
                return Some(items);
            }
            at = skip_ws(bytes, at);
            match bytes.get(at) {
                Some(b',') => at = skip_ws(bytes, at + 1),
                _ => return None, // the object ends without items, or is invalid
            }
        }
    }

    /// Reads from just past the items' `]` to the end of the text.
    fn tail(&mut self, text: &'a str, mut at: usize) -> Option<()> {
        let bytes = text.as_bytes();
        loop {
            at = skip_ws(bytes, at);
            match bytes.get(at) {
                Some(b',') => at = skip_ws(bytes, at + 1),
                Some(b'}') => break,
                _ => return None,
            }
            if self.member(text, &mut at)?.is_some() {
                return None; // a second `items`
            }
        }
        (skip_ws(bytes, at + 1) == bytes.len()).then_some(())
    }

    /// Reads one `"key": value` at `at`; for `items`, only up to its `[`, whose end it
    /// returns. `None` for anything unusual.
    fn member(&mut self, text: &'a str, at: &mut usize) -> Option<Option<usize>> {
        let bytes = text.as_bytes();
        let key = plain_string(text, at)?;
        *at = skip_ws(bytes, *at);
        if bytes.get(*at) != Some(&b':') {
            return None;
        }
        *at = skip_ws(bytes, *at + 1);
        match key {
            "items" if !self.items => {
                self.items = true;
                if bytes.get(*at) != Some(&b'[') {
                    return None;
                }
                return Some(Some(*at + 1));
            }
            "kind" if self.kind.is_none() => self.kind = Some(plain_string(text, at)?),
            "apiVersion" if !self.api_version => {
                self.api_version = true;
                if text[*at..].starts_with("null") {
                    *at += 4;
                } else {
                    plain_string(text, at)?;
                }
            }
            "items" | "kind" | "apiVersion" => return None,
            _ => skip_value(text, at)?,
        }
        Some(None)
    }
}

/// The number of newlines in `bytes`.
fn count_newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(text: &str) -> InputText {
        InputText {
            name: Arc::from("list.json"),
            text: text.into(),
        }
    }

    /// Each item as (line, text, what it was typed as).
    fn described(items: ListItems<'_>) -> Vec<(u32, String, String)> {
        let (raw, parsed) = items;
        raw.iter()
            .zip(parsed)
            .map(|(object, typed)| {
                let Body::Raw(text) = object.body else {
                    panic!("a List item is raw JSON")
                };
                let typed = match typed {
                    Ok(parsed) => format!("{parsed:?}"),
                    Err(e) => format!("error: {e}"),
                };
                (object.source.line, text.to_string(), typed)
            })
            .collect()
    }

    /// What the whole-input reader makes of the same text, typed one by one.
    fn reference(text: &str) -> Vec<(u32, String, String)> {
        let input = input(text);
        let raw = crate::document::split(&input).expect("valid");
        let parsed = raw.iter().map(objects::classify).collect();
        described((raw, parsed))
    }

    fn pod(i: usize, owners: usize) -> serde_json::Value {
        let owners: Vec<serde_json::Value> = (0..owners)
            .map(|o| {
                serde_json::json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": format!("rs{o}"), "uid": "u", "controller": o == 0})
            })
            .collect();
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("p{i}"), "namespace": "a",
                "labels": {"app": format!("a{}", i % 3), "note": "},{\"apiVersion\":\"v1\"" },
                "ownerReferences": owners},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080, "name": "http"}]},
                                    {"name": "d", "ports": [{"containerPort": 9090}]}]},
            "status": {"podIP": format!("10.0.{}.{}", i / 200, i % 200 + 1)}
        })
    }

    fn items(n: usize, owners: usize) -> Vec<serde_json::Value> {
        let mut items: Vec<serde_json::Value> = (0..n).map(|i| pod(i, owners)).collect();
        // Kinds read by the checked path, an unknown kind, and an item that is an error.
        items.insert(
            3,
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        );
        items.insert(
            7,
            serde_json::json!({"kind": "Ingress", "apiVersion": "networking.k8s.io/v1",
            "metadata": {"name": "i", "namespace": "a"}, "spec": {}}),
        );
        items.insert(
            11,
            serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ""}}),
        );
        items
    }

    /// The same Lists in the layouts tools write: kubectl's indented JSON (kind after the
    /// items), one item a line, and all on one line.
    fn layouts(n: usize, owners: usize) -> Vec<String> {
        let items = items(n, owners);
        let list = serde_json::json!({"apiVersion": "v1", "items": items, "kind": "List",
            "metadata": {"resourceVersion": ""}});
        let one_a_line: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        vec![
            serde_json::to_string_pretty(&list).expect("JSON"),
            format!(
                "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{}\n]}}\n",
                one_a_line.join(",\n")
            ),
            list.to_string(),
        ]
    }

    #[test]
    fn any_cut_reads_what_the_whole_input_reader_reads() {
        for text in layouts(40, 2) {
            let expected = reference(&text);
            assert_eq!(expected.len(), 43);
            let whole = input(&text);
            for ranges in 1..=24 {
                let read = read_in(&whole, ranges).expect("a List");
                assert_eq!(described(read), expected, "{ranges} ranges:\n{text}");
            }
        }
    }

    #[test]
    fn wrong_guesses_are_found_and_read_over() {
        // All on one line, the separator `,` before `{"apiVersion"` also comes between a
        // pod's two owner references: some cuts guess wrong.
        let text = layouts(40, 2).pop().expect("one-line layout");
        let input = input(&text);
        let item_starts: Vec<usize> = read_in(&input, 1)
            .expect("a List")
            .0
            .iter()
            .map(|o| {
                let Body::Raw(item) = o.body else {
                    panic!("raw")
                };
                item.as_ptr() as usize - input.text.as_ptr() as usize
            })
            .collect();
        let bytes = input.text.as_bytes();
        let first_end = item_starts[0] + reference(&text)[0].1.len();
        let guesses = guess_starts(bytes, first_end, item_starts[1], 24);
        assert!(guesses.len() > 10, "{guesses:?}");
        assert!(
            guesses.iter().any(|g| !item_starts.contains(g)),
            "no wrong guess: {guesses:?}"
        );
        assert_eq!(
            described(read_in(&input, 24).expect("a List")),
            reference(&text)
        );
    }

    #[test]
    fn lines_are_those_of_the_items_first_bytes() {
        let text = "{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n    {\"kind\":\"A\"},\n\n    {\"kind\":\"B\"}\n  ],\n  \"kind\": \"List\",\n  \"metadata\": {}\n}\n";
        let read = described(read_in(&input(text), 4).expect("a List"));
        let lines: Vec<(u32, &str)> = read.iter().map(|(l, t, _)| (*l, t.as_str())).collect();
        assert_eq!(lines, vec![(4, r#"{"kind":"A"}"#), (6, r#"{"kind":"B"}"#)]);
        assert_eq!(read, reference(text));
    }

    #[test]
    fn an_empty_list_has_no_items() {
        for text in [
            r#"{"kind":"List","items":[]}"#,
            "{\"apiVersion\": null, \"items\": [ ],\n \"kind\": \"List\"}\n",
        ] {
            let whole = input(text);
            let (raw, parsed) = read_in(&whole, 4).expect("a List");
            assert!(raw.is_empty() && parsed.is_empty(), "{text}");
        }
    }

    #[test]
    fn anything_but_a_plain_untyped_list_is_left_to_the_whole_input_reader() {
        for text in [
            r#"{"kind":"PodList","items":[{"metadata":{"name":"a"}}]}"#,
            r#"{"kind":"Pod","apiVersion":"v1"}"#,
            r#"{"kind":"List","items":null}"#,
            r#"{"kind":"List"}"#,
            r#"{"items":[{}]}"#,
            r#"{"kind":null,"items":[{}]}"#,
            r#"{"kind":"List","items":[{}],"kind":"List"}"#,
            r#"{"kind":"List","items":[{}],"items":[]}"#,
            r#"{"kind":"List","apiVersion":"v1","apiVersion":"v1","items":[]}"#,
            r#"{"kind":"List","apiVersion":1,"items":[]}"#,
            r#"{"ki\u006ed":"List","items":[]}"#,
            r#"{"kind":"L\u0069st","items":[]}"#,
            "{\"kind\":\"List\",\"ite\tms\":[],\"items\":[]}",
            r#"{"kind":"List","items":[{}]} trailing"#,
            r#"{"kind":"List","items":[{},]}"#,
            r#"{"kind":"List","items":[,{}]}"#,
            r#"{"kind":"List","items":[{}{}]}"#,
            r#"{"kind":"List","items":[{}],}"#,
            r#"{"kind":"List","items":[{"a":}]}"#,
            r#"{"kind":"List","items":[{}]"#,
            r#"[{"kind":"List","items":[]}]"#,
            "kind: List\nitems: []\n",
        ] {
            for ranges in [1, 4] {
                assert!(read_in(&input(text), ranges).is_none(), "{text}");
            }
        }
    }
}
