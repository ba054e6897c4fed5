//! Cross-object checks of what Argo CD applies, the way `istioctl analyze` reasons: not
//! schemas, but whether the controllers reading the objects do what the platform means.
//!
//! For every examples/*/service.toml and the every-key platform (examples/synth, with and
//! without a mesh), in every environment, the objects are built as Argo CD builds them:
//! each Application of argocd/<env>/ (the folder the environment's root Application syncs)
//! through `kubectl kustomize` of its path, or the real Helm engine on its chart, release
//! and value files (tests/helm.rs), objects without a namespace landing in its destination
//! namespace. Before that, each GitHub Actions workflow runs once on paper (cluster/ci.rs):
//! the checks see the tree as it is after CI deployed one commit of every service.
//!
//! The checks (cluster/checks.rs, cluster/ci.rs) read objects, never file names: workload
//! selectors, what PodDisruptionBudgets, NetworkPolicies, Services and autoscalers select,
//! VirtualService destinations and subsets, a Rollout's references, autoscaler targets and
//! metrics, what Argo CD must leave to controllers, and the image tags CI sets in the first
//! environment. Each has a unit test that feeds it a defect and sees the finding.
//!
//! Then the NetworkPolicies are read the way the network plugin reads them
//! (cluster/network.rs, a reachability evaluator with unit tests of its own): each service
//! reaches exactly what service.toml declares (its egress ports on a public address, its
//! callees, its datastore, DNS) and nothing else (other services, other datastores, other
//! ports outside, the cluster's networks and the metadata endpoint).

mod checks;
mod ci;
mod events;
pub mod network;
mod objects;
mod tls;

use std::collections::BTreeMap;
use std::path::Path;

use bulkhead::model::Model;
use bulkhead::spec::Ci;

use crate::common::{example, generate, kustomize_text};
use objects::{Object, at, items, parse, scalar, text};

/// Kinds without a namespace: Argo CD does not put them in the destination namespace.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ClusterAnalysisTemplate",
    "PriorityClass",
    "StorageClass",
];

/// What Argo CD applies in one environment, and the Applications applying it.
struct Environment {
    name: String,
    applications: Vec<Object>,
    objects: Vec<Object>,
}

/// The Applications the root Application of `env` (argocd/root-<env>.yaml) applies, built
/// as Argo CD builds them: `kubectl kustomize` of its path, after appending the root
/// Application's own `kustomize.patches` to the kustomization there (Argo CD merges inline
/// patches into the repository's kustomization).
fn applications(tree: &Path, env: &str) -> Result<Vec<Object>, String> {
    let root_file = tree.join("argocd").join(format!("root-{env}.yaml"));
    let root = std::fs::read_to_string(&root_file)
        .map_err(|e| format!("no root Application {}: {e}", root_file.display()))?;
    let root = parse("root", &root)
        .into_iter()
        .find(|o| o.is("argoproj.io", "Application"))
        .ok_or_else(|| format!("{} holds no Application", root_file.display()))?;
    root_applications(tree, &root)
}

/// What the root Application `root` applies from `tree` (see `applications`).
pub fn root_applications(tree: &Path, root: &Object) -> Result<Vec<Object>, String> {
    let source = at(root.spec(), &["source"]);
    let dir = tree.join(text(source, &["path"]));
    let copy = tempfile::tempdir().map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_file() {
            std::fs::copy(
                &path,
                copy.path().join(path.file_name().unwrap_or_default()),
            )
            .map_err(|e| e.to_string())?;
        }
    }
    let file = copy.path().join("kustomization.yaml");
    let mut kustomization: serde_yaml_ng::Value = std::fs::read_to_string(&file)
        .map_err(|e| format!("{}: no kustomization.yaml ({e})", dir.display()))
        .and_then(|t| serde_yaml_ng::from_str(&t).map_err(|e| e.to_string()))?;
    let inline = items(source, &["kustomize", "patches"]);
    if let Some(map) = kustomization.as_mapping_mut() {
        let patches = map
            .entry("patches".into())
            .or_insert_with(|| serde_yaml_ng::Value::Sequence(Vec::new()));
        if let Some(list) = patches.as_sequence_mut() {
            list.extend(inline.iter().cloned());
        }
    }
    let text = serde_yaml_ng::to_string(&kustomization).map_err(|e| e.to_string())?;
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    Ok(parse(root.name(), &kustomize_text(copy.path())?)
        .into_iter()
        .filter(|o| o.is("argoproj.io", "Application"))
        .collect())
}

/// The YAML each Application of each environment builds (key `env/application`), or why not.
fn build_sources(
    tree: &Path,
    envs: &[(String, Vec<Object>)],
) -> BTreeMap<String, Result<String, String>> {
    let mut built = BTreeMap::new();
    // Helm releases by chart: one Helm process renders all of a chart's.
    let mut charts: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for (env, apps) in envs {
        for app in apps {
            let key = format!("{env}/{}", app.name());
            let source = at(app.spec(), &["source"]);
            let path = tree.join(text(source, &["path"]));
            if source.is_null() {
                built.insert(key, Err("has no single `source` to build".into()));
                continue;
            }
            let helm = at(source, &["helm"]);
            if helm.is_null() {
                built.insert(key, kustomize_text(&path));
                continue;
            }
            let release = match text(helm, &["releaseName"]) {
                "" => app.name(),
                name => name,
            };
            charts
                .entry(path.display().to_string())
                .or_default()
                .push(serde_json::json!({
                    "key": key,
                    "release": release,
                    "namespace": text(app.spec(), &["destination", "namespace"]),
                    "values": items(helm, &["valueFiles"])
                        .iter()
                        .map(|f| path.join(scalar(f)))
                        .collect::<Vec<_>>(),
                }));
        }
    }
    for (chart, jobs) in charts {
        let keys: Vec<String> = jobs
            .iter()
            .map(|j| j["key"].as_str().unwrap_or_default().to_string())
            .collect();
        let rendered = crate::helm::render_and_lint(&serde_json::json!({
            "chart": chart,
            "kube_version": crate::helm::KUBE_VERSION,
            "jobs": jobs,
        }));
        for key in keys {
            let result = &rendered[&key];
            let text = match result["error"].as_str() {
                Some(e) => Err(format!("helm cannot render it: {e}")),
                None => Ok(result["manifests"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, yaml)| yaml.as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n---\n")),
            };
            built.insert(key, text);
        }
    }
    built
}

/// Every environment of `model` as Argo CD builds it from `tree`, and what could not be built.
fn build(tree: &Path, model: &Model) -> (Vec<Environment>, Vec<String>) {
    let mut problems = Vec::new();
    let envs: Vec<(String, Vec<Object>)> = model
        .environments
        .iter()
        .map(|e| {
            let apps = applications(tree, &e.name).unwrap_or_else(|err| {
                problems.push(format!("{}: {err}", e.name));
                Vec::new()
            });
            (e.name.clone(), apps)
        })
        .collect();
    let mut built = build_sources(tree, &envs);
    let mut out = Vec::new();
    for (env, apps) in envs {
        if apps.is_empty() {
            problems.push(format!("{env}: no Application in argocd/{env}/"));
        }
        let mut objects = Vec::new();
        for app in &apps {
            let key = format!("{env}/{}", app.name());
            let yaml = match built.remove(&key) {
                Some(Ok(yaml)) => yaml,
                Some(Err(e)) => {
                    problems.push(format!("{env}: Application {}: {e}", app.name()));
                    continue;
                }
                None => continue,
            };
            let namespace = text(app.spec(), &["destination", "namespace"]).to_string();
            let mine = parse(app.name(), &yaml);
            if mine.is_empty() {
                problems.push(format!("{env}: Application {} applies nothing", app.name()));
            }
            for mut o in mine {
                if o.namespace().is_empty() && !CLUSTER_SCOPED.contains(&o.kind()) {
                    if let Some(meta) = o.value.get_mut("metadata").and_then(|m| m.as_mapping_mut())
                    {
                        meta.insert("namespace".into(), namespace.as_str().into());
                    }
                }
                objects.push(o);
            }
        }
        out.push(Environment {
            name: env,
            applications: apps,
            objects,
        });
    }
    (out, problems)
}

/// The Kustomization each Kustomize Application of `env` builds: (Application, Kustomization).
fn kustomizations(tree: &Path, env: &Environment) -> Vec<(String, serde_yaml_ng::Value)> {
    env.applications
        .iter()
        .filter(|a| at(a.spec(), &["source", "helm"]).is_null())
        .filter_map(|a| {
            let dir = tree.join(text(a.spec(), &["source", "path"]));
            ["kustomization.yaml", "kustomization.yml", "Kustomization"]
                .iter()
                .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
                .and_then(|t| serde_yaml_ng::from_str(&t).ok())
                .map(|k| (a.name().to_string(), k))
        })
        .collect()
}

/// What the checks found on one platform: a summary line per environment, and the findings.
#[derive(Default)]
struct Outcome {
    summary: Vec<String>,
    findings: Vec<String>,
}

/// Generates `spec` and runs every check on every environment.
fn check(label: &str, spec: &Path) -> Outcome {
    let model = crate::common::model_of_file(spec);
    let out = generate(spec);
    let tree = out.path();
    let mut outcome = Outcome::default();
    let ci = model.platform.ci != Ci::None;
    // First, so that everything below sees the tree as CI leaves it.
    let runs = if ci {
        let (runs, problems) = ci::run_workflows(tree);
        outcome
            .findings
            .extend(problems.into_iter().map(|p| format!("{label}: {p}")));
        runs
    } else {
        Vec::new()
    };
    // What service.toml declares, read apart from the model's derived relations.
    let declared: Vec<events::Declared> = model
        .services
        .iter()
        .map(|s| events::Declared {
            name: s.name.clone(),
            publishes: s.publishes.clone(),
            consumes: s.consumes.clone(),
        })
        .collect();
    // The public prefixes as service.toml declares them.
    let apis: Vec<(String, Vec<String>)> = model
        .services
        .iter()
        .filter(|s| !s.apis.is_empty())
        .map(|s| (s.name.clone(), s.apis.clone()))
        .collect();
    let (envs, problems) = build(tree, &model);
    outcome
        .findings
        .extend(problems.into_iter().map(|p| format!("{label} {p}")));
    for env in &envs {
        let count = |kind: &str| env.objects.iter().filter(|o| o.kind() == kind).count();
        let namespace = model
            .environments
            .iter()
            .find(|e| e.name == env.name)
            .map_or("", |e| e.namespace.as_str());
        let (judged, reach) = network::declared_traffic(&model, namespace, &env.objects);
        outcome.findings.extend(
            reach
                .into_iter()
                .map(|f| format!("{label} {}: {f}", env.name)),
        );
        outcome.summary.push(format!(
            "{label} {}: {} Applications, {} objects ({} workloads, {} Rollouts, {} Services, {} VirtualServices, {} autoscalers), {judged} connections judged",
            env.name,
            env.applications.len(),
            env.objects.len(),
            env.objects.iter().filter(|o| o.is_workload()).count(),
            count("Rollout"),
            count("Service"),
            count("VirtualService"),
            count("HorizontalPodAutoscaler"),
        ));
        outcome.findings.extend(
            checks::applications_stay_in_the_project(
                &env.applications,
                &project_of(&model, &env.name),
            )
            .into_iter()
            .chain(checks::all(&env.applications, &env.objects))
            .map(|f| format!("{label} {}: {f}", env.name)),
        );
        if let Some(host) = model
            .environments
            .iter()
            .find(|e| e.name == env.name)
            .and_then(|e| e.host.as_deref())
            .filter(|_| model.platform.mesh == bulkhead::spec::Mesh::Istio)
        {
            outcome.findings.extend(
                checks::public_paths_reach_their_service(&env.objects, host, &apis)
                    .into_iter()
                    .map(|f| format!("{label} {} (gateway): {f}", env.name)),
            );
        }
        outcome.findings.extend(
            events::all(&declared, &model.platform.external_topics, &env.objects)
                .into_iter()
                .map(|f| format!("{label} {} (event broker): {f}", env.name)),
        );
    }
    // The certificates, as the gateways and cert-manager read them.
    let gateway = model.platform.addons.gateway.namespace.as_str();
    let mut per_cluster = Vec::new();
    for env in &envs {
        if model.platform.tls.issuer.is_some() {
            outcome.findings.extend(
                tls::certificates_fill_what_entrances_read(&env.objects, gateway)
                    .into_iter()
                    .map(|f| format!("{label} {}: {f}", env.name)),
            );
        }
        let cluster = model
            .environments
            .iter()
            .find(|e| e.name == env.name)
            .map_or("", |e| e.cluster.as_str());
        per_cluster.push((env.name.as_str(), cluster, env.objects.as_slice()));
    }
    outcome.findings.extend(
        tls::environments_do_not_share_a_secret(&per_cluster, gateway)
            .into_iter()
            .map(|f| format!("{label}: {f}")),
    );
    match envs.first() {
        _ if !ci => outcome
            .summary
            .push(format!("{label}: no CI, so no image tag to check")),
        None => {}
        Some(first) => {
            let found = ci::images_ci_does_not_set(&first.objects, &runs, &model.platform.registry)
                .into_iter()
                .chain(ci::image_entries_ci_does_not_set(
                    &kustomizations(tree, first),
                    &runs,
                ));
            outcome
                .findings
                .extend(found.map(|f| format!("{label} {}: {f}", first.name)));
        }
    }
    outcome
}

fn assert_clean(outcomes: Vec<Outcome>) {
    let summary: Vec<String> = outcomes.iter().flat_map(|o| o.summary.clone()).collect();
    println!("{}", summary.join("\n"));
    let findings: Vec<String> = outcomes.into_iter().flat_map(|o| o.findings).collect();
    assert!(
        findings.is_empty(),
        "{} findings on what Argo CD applies:\n  {}\n\nchecked:\n  {}",
        findings.len(),
        findings.join("\n  "),
        summary.join("\n  ")
    );
}

#[test]
fn every_example_passes_the_cluster_checks() {
    assert_clean(
        crate::helm::all_examples()
            .iter()
            .map(|ex| check(ex, &example(ex)))
            .collect(),
    );
}

/// Every key of service.toml: every strategy, per-environment overrides, Helm with Istio;
/// then Kustomize without a mesh (and without CI).
#[test]
fn the_every_key_platform_passes_the_cluster_checks() {
    let outcomes = crate::synth::every_key_platforms()
        .iter()
        .map(|(label, dir)| check(label, &dir.path().join("service.toml")))
        .collect();
    assert_clean(outcomes);
}

/// The project each Application of `env` belongs in, by its name: the platform's, but the
/// environment certificate's Application in the certificate project.
fn project_of(model: &Model, env: &str) -> impl Fn(&str) -> String {
    let platform = model.platform.name.clone();
    let certificate = model
        .environments
        .iter()
        .find(|e| e.name == env && e.certificate.is_some())
        .map(|e| format!("{platform}-{}-tls", e.name));
    move |name: &str| {
        if certificate.as_deref() == Some(name) {
            format!("{platform}-tls")
        } else {
            platform.clone()
        }
    }
}

/// An Application file added under argocd/<env>/ that names another project (here
/// `default`, which may deploy anywhere) still runs in the platform's project once the
/// root Application applies it; without the root Application's patch it would not.
#[test]
fn the_repository_cannot_widen_its_own_permissions() {
    let spec = example("shop");
    let model = crate::common::model_of_file(&spec);
    let out = generate(&spec);
    let tree = out.path();
    let env = &model.environments[0].name;
    let dir = tree.join("argocd").join(env);
    std::fs::write(
        dir.join("rogue.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: rogue\n  namespace: argocd\nspec:\n  project: default\n  source: {repoURL: https://example.com/x.git, path: ., targetRevision: main}\n  destination: {server: https://kubernetes.default.svc, namespace: kube-system}\n",
    )
    .unwrap();
    let kustomization = dir.join("kustomization.yaml");
    let listed = std::fs::read_to_string(&kustomization).unwrap() + "  - rogue.yaml\n";
    std::fs::write(&kustomization, listed).unwrap();

    let root_file = tree.join("argocd").join(format!("root-{env}.yaml"));
    let root = objects::parse("root", &std::fs::read_to_string(&root_file).unwrap()).remove(0);
    let apps = root_applications(tree, &root).unwrap();
    assert!(
        apps.iter().any(|a| a.name() == "rogue"),
        "the added Application is applied"
    );
    let found = checks::applications_stay_in_the_project(&apps, &project_of(&model, env));
    assert!(found.is_empty(), "{found:?}");

    // The same files under a root Application without its patch.
    let mut bare = root.clone();
    if let Some(source) = bare.value["spec"]["source"].as_mapping_mut() {
        source.remove("kustomize");
    }
    let apps = root_applications(tree, &bare).unwrap();
    let found = checks::applications_stay_in_the_project(&apps, &project_of(&model, env));
    assert_eq!(found.len(), 1, "{found:?}");
}
