//! Input errors: every one names the file, the line and (when known) the object.

use std::fmt;

use kubesurface_model::Source;

/// An error in the input. Displayed as `file:line: Kind ns/name: problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestError {
    /// Where the problem is.
    pub source: Source,
    /// `Kind namespace/name` of the object, when it could be read.
    pub object: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl IngestError {
    /// An error at `source`, not yet tied to an object.
    pub fn new(source: Source, message: impl Into<String>) -> Self {
        IngestError {
            source,
            object: None,
            message: message.into(),
        }
    }

    /// Names the object the error is about.
    pub fn with_object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(object) = &self.object {
            write!(f, ": {object}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for IngestError {}
