//! Policy dialects beyond NetworkPolicy v1, each read into the normalized
//! [`kubesurface_model::TieredPolicy`] form: admin policies (`policy.networking.k8s.io`),
//! Calico (`projectcalico.org/v3`) and Cilium (`cilium.io/v2`).

pub mod admin;
pub mod calico;
pub mod cilium;
