//! Every overlay of every example builds with the real `kubectl kustomize`, and each
//! builds exactly what it should: one service's objects in its environment's namespace,
//! one workload each (a Deployment where the service rolls, an Argo Rollouts Rollout where
//! it is released canary or blue-green) with its analysis, autoscaler and image.

use serde_yaml_ng::Value;

use bulkhead::spec::Strategy;

use crate::common::{EXAMPLES, example, generate, has_key, kustomize, model_of_file, yaml_docs};

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap()
}

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap()
}

#[test]
fn every_overlay_builds_and_holds_what_it_should() {
    for ex in EXAMPLES {
        let spec = example(ex);
        let out = generate(&spec);
        let model = model_of_file(&spec);
        for svc in &model.services {
            // The base holds the workload only when every environment rolls it.
            let rolls_everywhere = svc
                .environments
                .values()
                .all(|e| e.release.strategy == Strategy::Rolling);
            let base = kustomize(&out.path().join("deploy/base").join(&svc.name));
            assert_eq!(
                base.iter()
                    .any(|o| o["kind"] == "Deployment" && name(o) == svc.name),
                rolls_everywhere,
                "{ex}/base/{}: a Deployment in the base iff it rolls everywhere",
                svc.name
            );
            assert!(
                !base.iter().any(|o| o["kind"] == "Rollout"),
                "{ex}/base/{}: Rollouts live in the overlays",
                svc.name
            );
        }
        for env in &model.environments {
            let env_dir = out.path().join("deploy/overlays").join(&env.name);
            let all = kustomize(&env_dir);
            for o in &all {
                if o["kind"] != "Namespace" {
                    assert_eq!(
                        o["metadata"]["namespace"].as_str(),
                        Some(env.namespace.as_str()),
                        "{ex}/{}: {}",
                        env.name,
                        name(o)
                    );
                }
                assert!(
                    !has_key(o, "app.kubernetes.io/track"),
                    "{ex}/{}: {} still labels release tracks",
                    env.name,
                    name(o)
                );
            }
            let platform = kustomize(&env_dir.join("_platform"));
            assert!(
                platform
                    .iter()
                    .any(|o| o["kind"] == "Namespace" && name(o) == env.namespace)
            );
            assert!(
                platform
                    .iter()
                    .any(|o| o["kind"] == "NetworkPolicy" && name(o) == "default-deny")
            );

            let mut per_service = platform.len();
            for svc in &model.services {
                let at = format!("{ex}/{}/{}", env.name, svc.name);
                let dir = env_dir.join(&svc.name);
                let objects = kustomize(&dir);
                per_service += objects.len();
                for o in &objects {
                    let n = name(o);
                    assert!(
                        n == svc.name || n.starts_with(&format!("{}-", svc.name)),
                        "{at}: foreign object {n}"
                    );
                }
                let resolved = &svc.environments[&env.name];
                let strategy = resolved.release.strategy;
                let (api_version, kind) = match strategy {
                    Strategy::Rolling => ("apps/v1", "Deployment"),
                    Strategy::Canary | Strategy::BlueGreen => ("argoproj.io/v1alpha1", "Rollout"),
                };
                // One workload: no second Deployment for a canary or a green stack.
                let workloads: Vec<&Value> = objects
                    .iter()
                    .filter(|o| matches!(o["kind"].as_str(), Some("Deployment" | "Rollout")))
                    .collect();
                assert_eq!(
                    workloads.iter().map(|w| name(w)).collect::<Vec<_>>(),
                    [svc.name.as_str()],
                    "{at}: exactly one workload"
                );
                let workload = workloads[0];
                assert_eq!(workload["kind"].as_str(), Some(kind), "{at}");
                assert_eq!(workload["apiVersion"].as_str(), Some(api_version), "{at}");
                assert_eq!(
                    workload["spec"]["replicas"].as_i64(),
                    Some(resolved.replicas),
                    "{at}"
                );
                let selector = &workload["spec"]["selector"]["matchLabels"];
                assert_eq!(
                    selector,
                    &yaml(&format!("{{app.kubernetes.io/name: {}}}", svc.name)),
                    "{at}"
                );
                assert_eq!(
                    workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
                    selector["app.kubernetes.io/name"],
                    "{at}: the workload selects its own pods"
                );
                let container = &workload["spec"]["template"]["spec"]["containers"][0];
                assert_eq!(
                    container["image"].as_str().unwrap(),
                    format!("{}:{}", svc.image, model.platform.initial_tag),
                    "{at}"
                );
                assert_eq!(
                    container["resources"]["requests"]["memory"].as_str(),
                    Some(resolved.resources.memory.as_str()),
                    "{at}"
                );
                assert_eq!(
                    container["resources"]["requests"]["cpu"].as_str(),
                    Some(resolved.resources.cpu.as_str()),
                    "{at}"
                );
                // The overlay sets the image once, by its name without a tag (Kustomize's
                // image transformer reaches Rollouts too); a Rollout's count is in the
                // Rollout itself, never a `replicas:` entry (which targets Deployments).
                let kustomization =
                    &yaml_docs(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
                        [0];
                assert_eq!(
                    kustomization["images"],
                    yaml(&format!(
                        "[{{name: {}, newTag: \"{}\"}}]",
                        svc.image, model.platform.initial_tag
                    )),
                    "{at}: one image entry"
                );
                if strategy != Strategy::Rolling {
                    assert!(
                        kustomization.get("replicas").is_none(),
                        "{at}: no replicas entry for a Rollout"
                    );
                    // What CI does on a release: a new tag in that entry reaches the Rollout.
                    let file = dir.join("kustomization.yaml");
                    let text = std::fs::read_to_string(&file).unwrap();
                    let tag = format!("newTag: \"{}\"", model.platform.initial_tag);
                    assert_eq!(text.matches(&tag).count(), 1, "{at}");
                    std::fs::write(&file, text.replace(&tag, "newTag: \"9.9.9-next\"")).unwrap();
                    let released = kustomize(&dir);
                    std::fs::write(&file, text).unwrap();
                    let images: Vec<&str> = released
                        .iter()
                        .filter(|o| o["kind"] == "Rollout")
                        .filter_map(|o| {
                            o["spec"]["template"]["spec"]["containers"][0]["image"].as_str()
                        })
                        .collect();
                    assert_eq!(
                        images,
                        [format!("{}:9.9.9-next", svc.image)],
                        "{at}: the image entry retags the Rollout"
                    );
                }

                let config = objects
                    .iter()
                    .find(|o| o["kind"] == "ConfigMap")
                    .expect("configmap");
                for (k, v) in &resolved.env {
                    assert_eq!(
                        config["data"][k.as_str()].as_str(),
                        Some(v.as_str()),
                        "{at}: {k}"
                    );
                }
                let hpas: Vec<&Value> = objects
                    .iter()
                    .filter(|o| o["kind"] == "HorizontalPodAutoscaler")
                    .collect();
                let scalers: Vec<&Value> = objects
                    .iter()
                    .filter(|o| o["kind"] == "ScaledObject")
                    .collect();
                let on_backlog = resolved
                    .autoscale
                    .as_ref()
                    .is_some_and(|a| a.backlog.is_some());
                // A backlog makes KEDA's ScaledObject the autoscaler (it manages the HPA):
                // never both, which would fight over the replicas.
                assert_eq!(
                    (hpas.len(), scalers.len()),
                    match (&resolved.autoscale, on_backlog) {
                        (None, _) => (0, 0),
                        (Some(_), false) => (1, 0),
                        (Some(_), true) => (0, 1),
                    },
                    "{at}: one HPA or (on a backlog) one ScaledObject where it autoscales, none elsewhere"
                );
                if let (Some(so), Some(a)) = (scalers.first(), &resolved.autoscale) {
                    assert_eq!(so["spec"]["minReplicaCount"].as_i64(), Some(a.min), "{at}");
                    assert_eq!(so["spec"]["maxReplicaCount"].as_i64(), Some(a.max), "{at}");
                    let streams: Vec<&str> = so["spec"]["triggers"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .filter(|t| t["type"] == "nats-jetstream")
                        .map(|t| t["metadata"]["stream"].as_str().unwrap())
                        .collect();
                    let consumed: Vec<String> = svc
                        .consumes
                        .iter()
                        .map(|t| bulkhead::model::events::stream_name(t))
                        .collect();
                    assert_eq!(streams, consumed, "{at}: one trigger per consumed stream");
                }
                if let (Some(hpa), Some(a)) = (hpas.first(), &resolved.autoscale) {
                    assert_eq!(hpa["spec"]["minReplicas"].as_i64(), Some(a.min), "{at}");
                    assert_eq!(hpa["spec"]["maxReplicas"].as_i64(), Some(a.max), "{at}");
                    assert_eq!(
                        hpa["spec"]["scaleTargetRef"],
                        yaml(&format!(
                            "{{apiVersion: {api_version}, kind: {kind}, name: {}}}",
                            svc.name
                        )),
                        "{at}: the HPA scales this environment's workload"
                    );
                }

                // A Rollout brings the analysis it runs; blue-green its preview Service.
                let analysis = format!("{}-slo", svc.name);
                let templates: Vec<&str> = objects
                    .iter()
                    .filter(|o| o["kind"] == "AnalysisTemplate")
                    .map(name)
                    .collect();
                if strategy == Strategy::Rolling {
                    assert!(templates.is_empty(), "{at}: {templates:?}");
                } else {
                    assert_eq!(templates, [analysis.as_str()], "{at}");
                }
                let preview = format!("{}-preview", svc.name);
                let service = |n: &str| {
                    objects
                        .iter()
                        .find(|o| o["kind"] == "Service" && name(o) == n)
                };
                match (strategy, service(&preview)) {
                    (Strategy::BlueGreen, Some(p)) => {
                        let active = service(&svc.name).expect("the service's Service");
                        assert_eq!(
                            p["spec"]["ports"], active["spec"]["ports"],
                            "{at}: the preview has the service's ports"
                        );
                        assert_eq!(
                            p["spec"]["selector"], active["spec"]["selector"],
                            "{at}: and its selector"
                        );
                    }
                    (Strategy::BlueGreen, None) => panic!("{at}: no Service {preview}"),
                    (_, p) => assert!(p.is_none(), "{at}: {preview} without blue-green"),
                }
            }
            assert_eq!(
                all.len(),
                per_service,
                "{ex}/{}: the environment overlay is exactly its parts",
                env.name
            );
        }
    }
}
