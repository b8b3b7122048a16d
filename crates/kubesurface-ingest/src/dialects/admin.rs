//! The admin dialect (placeholder until its reader lands).

use kubesurface_model::Source;

use crate::document::Body;
use crate::objects::Parsed;

/// Types one object of this API group.
pub fn classify(
    kind: &str,
    api_version: &str,
    _body: &Body<'_>,
    _source: Source,
) -> Result<Parsed, String> {
    Ok(Parsed::Unknown(format!("{api_version}/{kind}")))
}
