//! `floor`: the least any reader built on serde_json can do with a generated input — map the
//! file, check that it is UTF-8, and skip every item of its `List` (validated, nothing kept)
//! on every core. Timed as a process of its own, like kubesurface, it is the floor under
//! kubesurface's end-to-end time: process start, the mapping and the JSON reading, with no
//! typing, model, analysis or output.
//!
//! With [`Skipper::Unchecked`] the items are found by a scan that follows only strings and
//! brackets and checks nothing else (`{"a":tru}` passes): the least *any* reader that finds
//! the items can do, and what a reader that left the fields it does not read unvalidated
//! would start from.

use std::path::Path;

use rayon::prelude::*;
use serde::de::IgnoredAny;

/// What [`skip_list`] saw.
#[derive(Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Items skipped.
    pub items: usize,
    /// Pieces read in parallel.
    pub pieces: usize,
}

/// How the items are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipper {
    /// serde_json, every item validated as JSON.
    Validating,
    /// Strings and brackets followed, nothing else checked.
    Unchecked,
}

/// Maps `file` and skips its List's items on all cores.
pub fn floor(file: &Path, skipper: Skipper) -> Result<Skipped, String> {
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    // SAFETY: read-only private map of a file the benchmark generated and does not change.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&f) }
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let text = check_utf8(&map).map_err(|e| format!("{}: {e}", file.display()))?;
    skip_list(text, rayon::current_num_threads(), skipper)
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// `bytes` as text, checked in pieces on all cores (as kubesurface checks its input).
fn check_utf8(bytes: &[u8]) -> Result<&str, String> {
    let piece = bytes
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1);
    // Cut only at a character's first byte, so each piece is UTF-8 exactly when the whole is.
    let mut starts = vec![0];
    let mut at = piece;
    while at < bytes.len() {
        while at < bytes.len() && bytes[at] & 0xC0 == 0x80 {
            at += 1;
        }
        starts.push(at);
        at += piece;
    }
    starts.push(bytes.len());
    starts.dedup();
    starts
        .par_windows(2)
        .try_for_each(|w| std::str::from_utf8(&bytes[w[0]..w[1]]).map(|_| ()))
        .map_err(|e| format!("not UTF-8: {e}"))?;
    // SAFETY: every piece was checked above, and pieces start at character boundaries.
    Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// Skips the items of a compact List as the generator writes it (`{"…","items":[` then one
/// item a line, `,` between them) in up to `pieces` pieces cut at item starts, each read on
/// its own thread. In compact JSON a raw newline occurs only between items, so the cuts are
/// exact.
pub fn skip_list(text: &str, pieces: usize, skipper: Skipper) -> Result<Skipped, String> {
    let open = text
        .find("\"items\":[")
        .ok_or("no \"items\" array: not a List as the generator writes it")?
        + "\"items\":[".len();
    let close = text
        .rfind(']')
        .filter(|&c| c >= open)
        .ok_or("no closing ]")?;
    let items = &text[open..close];
    let mut cuts = vec![0];
    for k in 1..pieces.max(1) {
        let even = items.len() / pieces * k;
        if even <= *cuts.last().expect("one cut") {
            continue;
        }
        match items[even..].find("\n{") {
            Some(found) => cuts.push(even + found + 1),
            None => break,
        }
    }
    cuts.push(items.len());
    cuts.dedup();
    let counts: Vec<usize> = cuts
        .par_windows(2)
        .map(|w| match skipper {
            Skipper::Validating => skip_items(&items[w[0]..w[1]]),
            Skipper::Unchecked => count_items_unchecked(&items[w[0]..w[1]]),
        })
        .collect::<Result<_, _>>()?;
    Ok(Skipped {
        items: counts.iter().sum(),
        pieces: counts.len(),
    })
}

/// Skips the comma-separated JSON values in `piece`: how many there were.
fn skip_items(piece: &str) -> Result<usize, String> {
    let bytes = piece.as_bytes();
    let (mut at, mut count) = (0, 0);
    loop {
        while bytes
            .get(at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b','))
        {
            at += 1;
        }
        if at == bytes.len() {
            return Ok(count);
        }
        let mut values = serde_json::Deserializer::from_str(&piece[at..]).into_iter::<IgnoredAny>();
        match values.next() {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("invalid JSON in item {}: {e}", count + 1)),
            None => return Ok(count),
        }
        at += values.byte_offset();
        count += 1;
    }
}

/// Counts the top-level values in `piece` (comma-separated items) by following strings
/// (to their closing quote, past escapes) and brackets only. An unterminated string or an
/// unbalanced bracket is an error; nothing else is checked.
fn count_items_unchecked(piece: &str) -> Result<usize, String> {
    let bytes = piece.as_bytes();
    let (mut at, mut depth, mut count) = (0, 0usize, 0);
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                loop {
                    match bytes.get(at) {
                        Some(b'"') => break,
                        Some(b'\\') => at += 2,
                        Some(_) => at += 1,
                        None => return Err(format!("unterminated string in item {}", count + 1)),
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced bracket after item {count}"))?;
                if depth == 0 {
                    count += 1;
                }
            }
            _ => {}
        }
        at += 1;
    }
    if depth == 0 {
        Ok(count)
    } else {
        Err(format!("item {} is not closed", count + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> String {
        let items: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"kind":"Pod","metadata":{{"name":"p{i}","note":"a,\n{{b"}}}}"#))
            .collect();
        format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{}\n]}}\n",
            items.join(",\n")
        )
    }

    #[test]
    fn every_item_is_skipped_once_however_the_list_is_cut() {
        let text = list(1000);
        for skipper in [Skipper::Validating, Skipper::Unchecked] {
            for pieces in [1, 2, 3, 7, 64, 5000] {
                let s = skip_list(&text, pieces, skipper).expect("valid");
                assert_eq!(s.items, 1000, "{pieces} pieces, {skipper:?}");
                assert!(s.pieces <= pieces.max(1), "{s:?}");
            }
            assert_eq!(skip_list(&list(0), 4, skipper).expect("empty").items, 0);
        }
    }

    #[test]
    fn invalid_json_inside_an_item_is_an_error() {
        let text = list(100).replace(r#""p50""#, r#""p50"#);
        assert!(skip_list(&text, 4, Skipper::Validating).is_err());
        assert!(skip_list("{\"kind\":\"Pod\"}", 2, Skipper::Validating).is_err());
    }

    /// The unchecked scan sees strings and brackets only: a bad literal passes, an
    /// unterminated string or an unclosed item does not.
    #[test]
    fn the_unchecked_scan_checks_strings_and_brackets_only() {
        let bad_literal = list(100).replace(r#""p50""#, r#""p50","x":tru"#);
        assert!(skip_list(&bad_literal, 4, Skipper::Validating).is_err());
        let s = skip_list(&bad_literal, 4, Skipper::Unchecked).expect("not checked");
        assert_eq!(s.items, 100);
        let escaped_quote = list(3).replace(r#""p1""#, r#""p\"1""#);
        assert_eq!(
            skip_list(&escaped_quote, 1, Skipper::Unchecked).map(|s| s.items),
            Ok(3)
        );
        assert!(count_items_unchecked(r#"{"a":"b}"#).is_err());
        assert!(count_items_unchecked(r#"{"a":[1}"#).is_err());
        assert!(count_items_unchecked(r#"{"a":1}}"#).is_err());
    }

    #[test]
    fn utf8_is_checked_across_piece_cuts() {
        let text = "é".repeat(10_000);
        assert_eq!(check_utf8(text.as_bytes()), Ok(text.as_str()));
        let mut bad = text.clone().into_bytes();
        bad[9_999] = 0xFF;
        assert!(check_utf8(&bad).is_err());
    }
}
