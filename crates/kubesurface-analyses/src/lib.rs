//! Analyses over the engine: where traffic enters from outside (exposure), who counts as
//! untrusted or sensitive (trust zones), and the audit rules (findings).
//!
//! Everything here is pure: it takes a compiled [`kubesurface_engine::Engine`] and a
//! [`Config`], and returns sorted records.

pub mod assertions;
pub mod config;
pub mod controllers;
pub mod diff;
pub mod exposure;
pub mod findings;
pub mod query;
pub mod rules;
pub mod scheduling;
pub mod services;
pub mod zones;

pub use config::Config;
pub use exposure::{Exposure, Via, exposures};
pub use findings::{Finding, Location, Severity};
