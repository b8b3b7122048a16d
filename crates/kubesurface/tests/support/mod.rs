//! Helpers shared by the data-driven CLI tests (`upstream_e2e.rs`, `admin_conformance.rs`,
//! `calico.rs`): reading the `kubesurface.connectivity/v1` port-set form.

use serde_json::Value;

/// Whether `port` lies in one of the inclusive `[lo, hi]` ranges listed for
/// `protocol`; an absent protocol key means nothing is allowed on it.
pub fn port_allowed(allowed: &Value, protocol: &str, port: u64) -> Result<bool, String> {
    let Some(ranges) = allowed.get(protocol) else {
        return Ok(false);
    };
    let ranges = ranges
        .as_array()
        .ok_or_else(|| format!("{protocol} ranges are not a list"))?;
    for range in ranges {
        match range.as_array().map(Vec::as_slice) {
            Some([lo, hi]) => match (lo.as_u64(), hi.as_u64()) {
                (Some(lo), Some(hi)) if lo <= port && port <= hi => return Ok(true),
                (Some(_), Some(_)) => {}
                _ => return Err(format!("{protocol} range {range} is not numeric")),
            },
            _ => return Err(format!("{protocol} range {range} is not [lo, hi]")),
        }
    }
    Ok(false)
}
