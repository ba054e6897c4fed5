//! Every overlay of every example builds with the real `kubectl kustomize`, and each
//! builds exactly what it should: one service's objects in its environment's namespace.

use crate::common::{EXAMPLES, example, generate, kustomize, model_of_file};

fn name(o: &serde_yaml_ng::Value) -> &str {
    o["metadata"]["name"].as_str().unwrap()
}

#[test]
fn every_overlay_builds_and_holds_what_it_should() {
    for ex in EXAMPLES {
        let spec = example(ex);
        let out = generate(&spec);
        let model = model_of_file(&spec);
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
                let objects = kustomize(&env_dir.join(&svc.name));
                per_service += objects.len();
                for o in &objects {
                    let n = name(o);
                    assert!(
                        n == svc.name || n.starts_with(&format!("{}-", svc.name)),
                        "{ex}/{}/{}: foreign object {n}",
                        env.name,
                        svc.name
                    );
                }
                let deployment = objects
                    .iter()
                    .find(|o| o["kind"] == "Deployment" && name(o) == svc.name)
                    .expect("deployment");
                let resolved = &svc.environments[&env.name];
                assert_eq!(
                    deployment["spec"]["replicas"].as_i64(),
                    Some(resolved.replicas),
                    "{ex}/{}/{}",
                    env.name,
                    svc.name
                );
                let container = &deployment["spec"]["template"]["spec"]["containers"][0];
                assert_eq!(
                    container["image"].as_str().unwrap(),
                    format!("{}:{}", svc.image, model.platform.initial_tag)
                );
                assert_eq!(
                    container["resources"]["requests"]["memory"].as_str(),
                    Some(resolved.resources.memory.as_str())
                );
                assert_eq!(
                    container["resources"]["requests"]["cpu"].as_str(),
                    Some(resolved.resources.cpu.as_str())
                );
                let config = objects
                    .iter()
                    .find(|o| o["kind"] == "ConfigMap")
                    .expect("configmap");
                for (k, v) in &resolved.env {
                    assert_eq!(
                        config["data"][k.as_str()].as_str(),
                        Some(v.as_str()),
                        "{ex}/{}/{}: {k}",
                        env.name,
                        svc.name
                    );
                }
                let hpa = objects
                    .iter()
                    .find(|o| o["kind"] == "HorizontalPodAutoscaler");
                assert_eq!(
                    hpa.is_some(),
                    resolved.autoscale.is_some(),
                    "{ex}/{}/{}",
                    env.name,
                    svc.name
                );
                if let (Some(hpa), Some(a)) = (hpa, &resolved.autoscale) {
                    assert_eq!(hpa["spec"]["minReplicas"].as_i64(), Some(a.min));
                    assert_eq!(hpa["spec"]["maxReplicas"].as_i64(), Some(a.max));
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
