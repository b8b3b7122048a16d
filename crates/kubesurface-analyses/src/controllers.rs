//! Finding the pods that carry Ingress and Gateway traffic. Traffic from an Ingress or a
//! Gateway reaches its backends *from these pods*, so they are the source every backend's
//! policies are evaluated against.

use rayon::prelude::*;

use kubesurface_model::{Cluster, Gateway};

use crate::config::Config;
use crate::zones::{SimpleSelector, parse_selector};

/// Well-known Ingress controllers: the controller name of their IngressClass, and label
/// pairs their pods carry (any one pair identifies them).
const INGRESS_CONTROLLERS: &[(&str, &[(&str, &str)])] = &[
    (
        "k8s.io/ingress-nginx",
        &[
            ("app.kubernetes.io/name", "ingress-nginx"),
            ("app", "ingress-nginx"),
        ],
    ),
    (
        "traefik.io/ingress-controller",
        &[("app.kubernetes.io/name", "traefik"), ("app", "traefik")],
    ),
    (
        "haproxy.org/ingress-controller/haproxy",
        &[
            ("app.kubernetes.io/name", "kubernetes-ingress"),
            ("run", "haproxy-ingress"),
        ],
    ),
    (
        "haproxy-ingress.github.io/controller",
        &[
            ("app.kubernetes.io/name", "haproxy-ingress"),
            ("run", "haproxy-ingress"),
        ],
    ),
    (
        "istio.io/ingress-controller",
        &[("istio", "ingressgateway"), ("app", "istio-ingressgateway")],
    ),
];

/// How the controller pods were found, for the `source` of a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerPods {
    /// Endpoint indices.
    pub endpoints: Vec<usize>,
    /// A short description (`ingress/ingress-nginx-controller[Deployment]`, or why none).
    pub description: String,
}

/// The indices of the endpoints `pred` accepts, ascending (judged in parallel).
fn matching(
    cluster: &Cluster,
    pred: impl Fn(&kubesurface_model::Endpoint) -> bool + Sync,
) -> Vec<usize> {
    cluster
        .endpoints
        .par_iter()
        .enumerate()
        .filter(|(_, e)| pred(e))
        .map(|(i, _)| i)
        .collect()
}

fn describe(cluster: &Cluster, endpoints: &[usize]) -> String {
    let mut names: Vec<String> = endpoints
        .iter()
        .map(|&i| cluster.endpoints[i].workload_name())
        .collect();
    names.dedup();
    names.join(", ")
}

fn from_override(cluster: &Cluster, config: &Config, class: &str) -> Option<ControllerPods> {
    let o = config.controllers.iter().find(|o| o.class == class)?;
    let sel: SimpleSelector = parse_selector(&o.selector).ok()?;
    let endpoints = matching(cluster, |e| sel.matches(&e.namespace, &e.labels));
    let description = if endpoints.is_empty() {
        format!(
            "controller override {:?} for class {class} matched no pod",
            o.selector
        )
    } else {
        describe(cluster, &endpoints)
    };
    Some(ControllerPods {
        description,
        endpoints,
    })
}

/// The endpoints carrying any of the label pairs of any of the `controllers`, in one pass
/// that looks each label key up once.
fn with_labels(cluster: &Cluster, controllers: &[&(&str, &[(&str, &str)])]) -> Vec<usize> {
    let mut by_key: Vec<(&str, Vec<&str>)> = Vec::new();
    for &(key, value) in controllers.iter().flat_map(|(_, pairs)| pairs.iter()) {
        match by_key.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => by_key.push((key, vec![value])),
        }
    }
    matching(cluster, |e| {
        by_key.iter().any(|(key, values)| {
            e.labels
                .get(key)
                .is_some_and(|x| values.contains(&x.as_str()))
        })
    })
}

/// The controller pods for an Ingress of `class` (`None`: the default IngressClass).
pub fn ingress_controllers(
    cluster: &Cluster,
    config: &Config,
    class: Option<&str>,
) -> ControllerPods {
    let class_obj = match class {
        Some(c) => cluster.ingress_classes.iter().find(|ic| ic.name == c),
        None => cluster.ingress_classes.iter().find(|ic| ic.is_default),
    };
    let class_name = class
        .map(str::to_string)
        .or_else(|| class_obj.map(|c| c.name.clone()));
    if let Some(found) = class_name
        .as_deref()
        .and_then(|c| from_override(cluster, config, c))
    {
        return found;
    }
    let known: Vec<&(&str, &[(&str, &str)])> = match class_obj {
        Some(c) => INGRESS_CONTROLLERS
            .iter()
            .filter(|(name, _)| *name == c.controller)
            .collect(),
        None => INGRESS_CONTROLLERS.iter().collect(),
    };
    let endpoints = with_labels(cluster, &known);
    if endpoints.is_empty() {
        return ControllerPods {
            endpoints,
            description: format!(
                "ingress controller for class {} not found in the input",
                class_name.as_deref().unwrap_or("<default>")
            ),
        };
    }
    ControllerPods {
        description: describe(cluster, &endpoints),
        endpoints,
    }
}

/// The pods serving a Gateway: the config override for its class, else pods labelled with
/// the Gateway's name as Gateway API implementations label their data planes
/// (`gateway.networking.k8s.io/gateway-name`, Envoy Gateway's `owning-gateway-name`).
pub fn gateway_controllers(
    cluster: &Cluster,
    config: &Config,
    gateway: &Gateway,
) -> ControllerPods {
    if let Some(found) = from_override(cluster, config, &gateway.class) {
        return found;
    }
    let endpoints = matching(cluster, |e| {
        let named = |k: &str| e.labels.get(k).is_some_and(|v| v == &gateway.name);
        ((named("gateway.networking.k8s.io/gateway-name") || named("istio.io/gateway-name"))
            && e.namespace == gateway.namespace)
            || (named("gateway.envoyproxy.io/owning-gateway-name")
                && e.labels
                    .get("gateway.envoyproxy.io/owning-gateway-namespace")
                    == Some(&gateway.namespace))
    });
    if endpoints.is_empty() {
        return ControllerPods {
            endpoints,
            description: format!(
                "data plane of Gateway {}/{} (class {}) not found in the input",
                gateway.namespace, gateway.name, gateway.class
            ),
        };
    }
    ControllerPods {
        description: describe(cluster, &endpoints),
        endpoints,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kubesurface_ingest::{InputText, load_texts};

    use super::*;

    fn cluster(yaml: &str) -> Cluster {
        load_texts(&[InputText {
            name: Arc::from("test.yaml"),
            text: yaml.into(),
        }])
        .expect("fixture")
        .cluster
    }

    fn pod(name: &str, labels: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: ingress, labels: {{{labels}}}}}\n---\n"
        )
    }

    fn names(cluster: &Cluster, pods: &ControllerPods) -> Vec<String> {
        pods.endpoints
            .iter()
            .map(|&i| cluster.endpoints[i].name.clone())
            .collect()
    }

    #[test]
    fn known_controllers_are_found_by_any_of_their_labels_once_each() {
        let yaml = [
            pod("nginx-a", "app.kubernetes.io/name: ingress-nginx"),
            pod("nginx-b", "app: ingress-nginx"),
            // Both of nginx's labels, and one of traefik's: found once.
            pod(
                "both",
                "app.kubernetes.io/name: ingress-nginx, app: traefik",
            ),
            pod("traefik", "app.kubernetes.io/name: traefik"),
            pod("web", "app: web"),
        ]
        .concat();
        let with_class = format!(
            "{yaml}apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: t}}\nspec: {{controller: traefik.io/ingress-controller}}\n"
        );
        let config = Config::default();
        // No IngressClass: every known controller's pods, in endpoint order.
        let c = cluster(&yaml);
        let any = ingress_controllers(&c, &config, None);
        assert_eq!(names(&c, &any), ["both", "nginx-a", "nginx-b", "traefik"]);
        // A class naming traefik's controller: traefik's pods only.
        let c = cluster(&with_class);
        let traefik = ingress_controllers(&c, &config, Some("t"));
        assert_eq!(names(&c, &traefik), ["both", "traefik"]);
        // Nothing known: said so.
        let c = cluster(&pod("web", "app: web"));
        let none = ingress_controllers(&c, &config, None);
        assert!(none.endpoints.is_empty());
        assert!(
            none.description.contains("not found"),
            "{}",
            none.description
        );
    }
}
