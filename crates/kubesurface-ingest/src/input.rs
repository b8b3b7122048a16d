//! Expands command-line paths into input texts: files, directories (recursive), stdin.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kubesurface_model::Source;

use crate::IngestError;

/// One input text and the name it is reported under.
#[derive(Debug)]
pub struct InputText {
    /// The path as the user wrote it (or `<stdin>`).
    pub name: Arc<str>,
    /// The whole content.
    pub text: Text,
}

/// The content of one input: read into memory, or, for a large regular file, mapped from
/// the page cache. Either way valid UTF-8, checked once when it was read.
pub struct Text(Content);

enum Content {
    Owned(String),
    /// Checked to be UTF-8 when mapped.
    Mapped(memmap2::Mmap),
}

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Content::Owned(text) => text,
            // SAFETY: the bytes were checked to be UTF-8 when the file was mapped, and the
            // mapping is read-only. A file rewritten while it is being read (which `read`
            // would have caught mid-way, too) is outside what the tool promises to handle.
            Content::Mapped(map) => unsafe { std::str::from_utf8_unchecked(map) },
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text(Content::Owned(text))
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text(Content::Owned(text.to_string()))
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self.0 {
            Content::Owned(_) => "read",
            Content::Mapped(_) => "mapped",
        };
        write!(f, "Text({how}, {} bytes)", self.len())
    }
}

/// File extensions read when walking a directory.
const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Reads every path: `-` is stdin, a directory is walked recursively (sorted, only
/// `.yaml`, `.yml` and `.json`), anything else is read as a file.
pub fn read_inputs(paths: &[String]) -> Result<Vec<InputText>, IngestError> {
    let mut out = Vec::new();
    for path in paths {
        if path == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                IngestError::new(source_of("<stdin>"), format!("cannot read stdin: {e}"))
            })?;
            out.push(InputText {
                name: Arc::from("<stdin>"),
                text: text.into(),
            });
            continue;
        }
        let p = Path::new(path);
        if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files)?;
            files.sort();
            for f in files {
                out.push(read_file(&f)?);
            }
        } else {
            out.push(read_file(p)?);
        }
    }
    Ok(out)
}

fn source_of(name: &str) -> Source {
    Source {
        file: Arc::from(name),
        line: 0,
    }
}

fn read_file(path: &Path) -> Result<InputText, IngestError> {
    let name = path.display().to_string();
    let text = read_text(path).map_err(|(line, e)| {
        let source = Source {
            line,
            ..source_of(&name)
        };
        IngestError::new(source, e)
    })?;
    Ok(InputText {
        name: Arc::from(name),
        text,
    })
}

/// Regular files at least this large are mapped rather than read: reading copies every
/// byte into fresh anonymous memory, which the kernel must zero first (on a virtual
/// machine that hands freed memory back to its host, the larger cost of a big dump).
const MAP_AT_LEAST: u64 = 1 << 20;

/// A file's text: mapped when it is a large regular file, read otherwise. The error comes
/// with the line it is on (0 when it is not about a line).
fn read_text(path: &Path) -> Result<Text, (u32, String)> {
    let unreadable = |e: std::io::Error| (0, format!("cannot read: {e}"));
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if meta.is_file() && meta.len() >= MAP_AT_LEAST {
        // SAFETY: the map is read-only and private to this process; its bytes are checked
        // to be UTF-8 before use. Mapping fails cleanly (and the file is then read) where
        // the file system does not support it.
        let mapped = unsafe { memmap2::MmapOptions::new().map(&file) };
        if let Ok(map) = mapped {
            check_mapped_utf8(&map).map_err(|e| not_utf8(&map, e))?;
            return Ok(Text(Content::Mapped(map)));
        }
    }
    let mut bytes = Vec::new();
    (&file).read_to_end(&mut bytes).map_err(unreadable)?;
    String::from_utf8(bytes)
        .map(Text::from)
        .map_err(|e| not_utf8(e.as_bytes(), e.utf8_error()))
}

/// The error for `bytes` that are not UTF-8: the line of the first bad byte, and the
/// message.
fn not_utf8(bytes: &[u8], e: std::str::Utf8Error) -> (u32, String) {
    let before = &bytes[..e.valid_up_to()];
    let line = 1 + memchr::memchr_iter(b'\n', before).count();
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        format!("not UTF-8 text: {e}"),
    )
}

/// Most bytes per piece when a large text is checked to be UTF-8 on several threads.
const UTF8_PIECE: usize = 4 << 20;

/// Fewest bytes per piece: below this, a thread's start costs more than its share.
const UTF8_MIN_PIECE: usize = 1 << 20;

/// Checks that a mapped file is UTF-8, in pieces on the thread pool; the error is the one a
/// check of the whole would give. Each piece first has its pages mapped in one call
/// (`MADV_POPULATE_READ`, Linux 5.14+; elsewhere, or when refused, the check's reads fault
/// them in): in parallel, unlike mapping the whole file up front, and far cheaper than a
/// page fault per 64 KiB (at 100,000 pods, 426 MB: 0.17 s slower without it).
fn check_mapped_utf8(map: &memmap2::Mmap) -> Result<(), std::str::Utf8Error> {
    let piece =
        (map.len() / (2 * rayon::current_num_threads()).max(1)).clamp(UTF8_MIN_PIECE, UTF8_PIECE);
    check_utf8_in_pieces(map, piece, |offset, len| populate(map, offset, len))
}

/// Checks `bytes` in pieces of about `piece` bytes on the thread pool, calling `before` with
/// each piece's offset and length first; the error is the one a check of the whole gives.
fn check_utf8_in_pieces(
    bytes: &[u8],
    piece: usize,
    before: impl Fn(usize, usize) + Sync,
) -> Result<(), std::str::Utf8Error> {
    use rayon::prelude::*;
    let valid = piece_starts(bytes, piece).par_windows(2).all(|w| {
        before(w[0], w[1] - w[0]);
        std::str::from_utf8(&bytes[w[0]..w[1]]).is_ok()
    });
    if valid {
        return Ok(());
    }
    std::str::from_utf8(bytes).map(drop)
}

/// Maps in the pages of `map[offset..offset + len]` ahead of reading them (a hint: a
/// refusal only means the reads fault them in).
fn populate(map: &memmap2::Mmap, offset: usize, len: usize) {
    #[cfg(target_os = "linux")]
    let _ = map.advise_range(memmap2::Advice::PopulateRead, offset, len);
    #[cfg(not(target_os = "linux"))]
    let _ = (map, offset, len);
}

/// Where the pieces of about `piece` bytes start, and the end: each start is a character's
/// first byte (never a continuation byte 0b10xxxxxx), so each piece is UTF-8 exactly when
/// its part of the whole is.
fn piece_starts(bytes: &[u8], piece: usize) -> Vec<usize> {
    let mut starts = vec![0];
    while let Some(&last) = starts.last() {
        let mut at = last + piece;
        if at >= bytes.len() {
            break;
        }
        while at < bytes.len() && bytes[at] & 0xC0 == 0x80 {
            at += 1;
        }
        starts.push(at);
    }
    starts.push(bytes.len());
    starts
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), IngestError> {
    let name = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| IngestError::new(source_of(&name), format!("cannot list directory: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| {
            IngestError::new(source_of(&name), format!("cannot list directory: {e}"))
        })?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e))
        {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_mapped_files_read_as_the_file() {
        let dir = std::env::temp_dir().join(format!("kubesurface-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (len, how) in [
            (0, "read"),
            (10, "read"),
            (MAP_AT_LEAST as usize - 5, "read"),
            (MAP_AT_LEAST as usize + 12_345, "mapped"),
        ] {
            let path = dir.join(format!("{len}.json"));
            // Multi-byte characters, too; `len` bytes or one character fewer.
            let mut text = String::new();
            for c in "ab\u{e9}\u{1F600}\n".chars().cycle() {
                if text.len() + c.len_utf8() > len {
                    break;
                }
                text.push(c);
            }
            std::fs::write(&path, &text).unwrap();
            let read = read_inputs(&[path.display().to_string()]).unwrap();
            assert_eq!(read[0].text.as_str(), text);
            assert!(format!("{:?}", read[0].text).contains(how), "{len}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn check_utf8(bytes: &[u8]) -> Result<(), std::str::Utf8Error> {
        check_utf8_in_pieces(bytes, UTF8_PIECE, |_, _| ())
    }

    #[test]
    fn pieces_cover_the_text_once_and_are_each_announced() {
        let text = "\u{1F600}".repeat(1000);
        let seen = std::sync::Mutex::new(Vec::new());
        let record = |offset, len| seen.lock().unwrap().push((offset, len));
        assert_eq!(check_utf8_in_pieces(text.as_bytes(), 999, record), Ok(()));
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert!(seen.len() > 3, "{seen:?}");
        let mut at = 0;
        for (offset, len) in seen {
            assert_eq!(offset, at);
            assert!(text.is_char_boundary(offset));
            at += len;
        }
        assert_eq!(at, text.len());
    }

    #[test]
    fn utf8_is_checked_in_pieces_as_a_whole() {
        // Multi-byte characters straddle every piece boundary; a bad byte anywhere, or a
        // character cut at the end, is found with the whole-text message.
        let text: String = "a\u{e9}\u{1F600}\u{20AC}".repeat(3 * UTF8_PIECE / 10 + 7);
        let bytes = text.as_bytes();
        assert_eq!(check_utf8(bytes), Ok(()));
        assert_eq!(check_utf8(&[]), Ok(()));
        for bad in [
            0,
            UTF8_PIECE - 1,
            UTF8_PIECE,
            UTF8_PIECE + 1,
            bytes.len() - 1,
        ] {
            let mut broken = bytes.to_vec();
            broken[bad] = 0xff;
            let whole = std::str::from_utf8(&broken).expect_err("broken");
            assert_eq!(check_utf8(&broken), Err(whole));
        }
        let cut = &bytes[..bytes.len() - 1];
        assert!(check_utf8(cut).is_err());
        let cut = &bytes[..UTF8_PIECE + 2];
        assert_eq!(
            check_utf8(cut).is_ok(),
            std::str::from_utf8(cut).is_ok(),
            "a piece boundary inside a character"
        );
    }

    #[test]
    fn files_that_are_not_utf8_are_refused_mapped_or_read() {
        let dir = std::env::temp_dir().join(format!("kubesurface-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [100, MAP_AT_LEAST as usize + 7] {
            let path = dir.join(format!("{len}.json"));
            // Nine spaces and a newline, over and over: the bad byte is on line len/20 + 1.
            let mut bytes: Vec<u8> = (0..len)
                .map(|i| if i % 10 == 9 { b'\n' } else { b' ' })
                .collect();
            bytes[len / 2] = 0xff;
            std::fs::write(&path, &bytes).unwrap();
            let e = read_inputs(&[path.display().to_string()]).expect_err("not UTF-8");
            assert!(e.to_string().contains("not UTF-8 text"), "{e}");
            let line = 1 + bytes[..len / 2].iter().filter(|b| **b == b'\n').count();
            assert!(
                e.to_string().contains(&format!("{len}.json:{line}: ")),
                "{e} (expected line {line})"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
