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
    let bytes = std::fs::read(path)
        .map_err(|e| IngestError::new(source_of(&name), format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| IngestError::new(source_of(&name), format!("not UTF-8 text: {e}")))?;
    Ok(InputText {
        name: Arc::from(name),
        text,
    })
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
