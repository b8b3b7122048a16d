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
    pub text: String,
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
                text,
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
    let bytes = read_bytes(path)
        .map_err(|e| IngestError::new(source_of(&name), format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| IngestError::new(source_of(&name), format!("not UTF-8 text: {e}")))?;
    Ok(InputText {
        name: Arc::from(name),
        text,
    })
}

/// Files at least this large are read by two threads, each into its half of the buffer:
/// the kernel's copy and the first touch of fresh pages are most of reading a large dump.
#[cfg_attr(not(unix), allow(dead_code))]
const PARALLEL_READ: u64 = 8 << 20;

/// The bytes of a file; a large regular file is read in two halves at once.
#[cfg(unix)]
fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let len = meta.len();
    if !meta.is_file() || len < PARALLEL_READ || usize::try_from(len).is_err() {
        let mut bytes = Vec::new();
        (&file).read_to_end(&mut bytes)?;
        return Ok(bytes);
    }
    let mut bytes = vec![0u8; len as usize];
    let half = bytes.len() / 2;
    let (a, b) = bytes.split_at_mut(half);
    let (ra, rb) = rayon::join(
        || file.read_exact_at(a, 0),
        || file.read_exact_at(b, half as u64),
    );
    ra?;
    rb?;
    // A file that grew while it was read: take the rest too.
    let mut tail = &file;
    std::io::Seek::seek(&mut tail, std::io::SeekFrom::Start(len))?;
    tail.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The bytes of a file.
#[cfg(not(unix))]
fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
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
    fn large_files_read_in_halves_equal_the_file() {
        let dir = std::env::temp_dir().join(format!("kubesurface-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [
            0,
            10,
            PARALLEL_READ as usize - 1,
            PARALLEL_READ as usize + 12_345,
        ] {
            let path = dir.join(format!("{len}.json"));
            // Multi-byte characters across the middle, too.
            let text: String = "ab\u{e9}\u{1F600}\n".chars().cycle().take(len).collect();
            std::fs::write(&path, &text).unwrap();
            assert_eq!(read_bytes(&path).unwrap(), text.as_bytes(), "{len}");
            let read = read_inputs(&[path.display().to_string()]).unwrap();
            assert_eq!(read[0].text, text);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
