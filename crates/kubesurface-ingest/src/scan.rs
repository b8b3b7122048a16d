//! Small scanners over JSON text, for the few places that read a JSON object's top-level
//! keys by hand (the `apiVersion`/`kind` peek, a `List`'s envelope). Each gives up
//! (`None`) on anything it does not expect; the caller then reads the text with serde_json.

use serde::de::IgnoredAny;

/// The first offset from `at` that is not JSON whitespace.
pub fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// The string at `at` (its opening quote), moving `at` past it; `None` when there is no
/// string there, or it has an escape or a control character (invalid in JSON strings).
pub fn plain_string<'a>(text: &'a str, at: &mut usize) -> Option<&'a str> {
    let bytes = text.as_bytes();
    if bytes.get(*at) != Some(&b'"') {
        return None;
    }
    let start = *at + 1;
    let len = memchr::memchr2(b'"', b'\\', &bytes[start..])?;
    if bytes[start + len] != b'"' || bytes[start..start + len].iter().any(|b| *b < 0x20) {
        return None;
    }
    *at = start + len + 1;
    text.get(start..start + len)
}

/// Moves `at` past the JSON value that starts there (checked, skipped); `None` when it is
/// not a valid value.
pub fn skip_value(text: &str, at: &mut usize) -> Option<()> {
    let mut values = serde_json::Deserializer::from_str(text.get(*at..)?).into_iter::<IgnoredAny>();
    values.next()?.ok()?;
    *at += values.byte_offset();
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_and_values_are_read_or_refused() {
        let text = r#" "kind" : {"a":[1,"}"]} , "es\"c" "ctl	x" "#;
        let at = skip_ws(text.as_bytes(), 0);
        assert_eq!(at, 1);
        let mut at = at;
        assert_eq!(plain_string(text, &mut at), Some("kind"));
        at = skip_ws(text.as_bytes(), at) + 1; // the colon
        at = skip_ws(text.as_bytes(), at);
        assert_eq!(skip_value(text, &mut at), Some(()));
        assert_eq!(&text[at..at + 2], " ,");
        at = skip_ws(text.as_bytes(), at + 2);
        assert_eq!(plain_string(text, &mut at), None, "an escape");
        let mut at = text.find("\"ctl").expect("in text");
        assert_eq!(plain_string(text, &mut at), None, "a tab inside");
        let mut at = 0;
        assert_eq!(skip_value("{\"a\":", &mut at), None);
    }
}
