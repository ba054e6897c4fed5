//! Delivery: the Argo CD objects and GitHub Actions workflows of every example, read back as
//! data and held against the model they came from. The real judges run in
//! scripts/conformance: the Argo CD CRD schemas (crd-schema) and actionlint on every
//! workflow (actionlint), for every example.

use std::collections::{BTreeMap, BTreeSet};

use bulkhead::model::{Environment, Model, Service};
use bulkhead::render::Files;
use bulkhead::spec::{Deploy, Mesh, Runtime, Strategy};
use serde_yaml_ng::Value;

use crate::common::{EXAMPLES, example, model_of, render_model};

struct Generated {
    model: Model,
    files: Files,
}

fn render_text(name: &str, text: String) -> Generated {
    let model = model_of(name, &text);
    let files = render_model(&model, None);
    Generated { model, files }
}

fn generated(name: &str) -> Generated {
    let path = example(name);
    render_text(
        &path.display().to_string(),
        std::fs::read_to_string(&path).unwrap(),
    )
}

impl Generated {
    fn yaml(&self, path: &str) -> Value {
        let text = self
            .files
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not generated"));
        serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"))
    }

    fn first_env(&self) -> &Environment {
        &self.model.environments[0]
    }
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {v:?}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|x| x.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn yaml_from(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap()
}

/// `(server, namespace)` of a destination.
fn destination(v: &Value) -> (String, String) {
    (
        str_of(&v["server"], "destination server").to_string(),
        str_of(&v["namespace"], "destination namespace").to_string(),
    )
}

fn destinations(project: &Value) -> BTreeSet<(String, String)> {
    project["spec"]["destinations"]
        .as_sequence()
        .expect("destinations")
        .iter()
        .map(destination)
        .collect()
}

fn sync_wave(app: &Value) -> i64 {
    str_of(
        &app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
        "sync-wave",
    )
    .parse()
    .unwrap()
}

/// What every Application of a platform shares: its place, repository, sync policy.
fn check_application(g: &Generated, path: &str, app: &Value, env: &Environment, auto: bool) {
    let p = &g.model.platform;
    assert_eq!(
        app["apiVersion"],
        yaml_from("argoproj.io/v1alpha1"),
        "{path}"
    );
    assert_eq!(app["kind"], yaml_from("Application"), "{path}");
    assert_eq!(app["metadata"]["namespace"], yaml_from("argocd"), "{path}");
    assert_eq!(
        app["metadata"]["labels"]["app.kubernetes.io/part-of"].as_str(),
        Some(p.name.as_str()),
        "{path}"
    );
    assert_eq!(
        app["metadata"]["labels"]["bulkhead.dev/environment"].as_str(),
        Some(env.name.as_str()),
        "{path}"
    );
    let source = &app["spec"]["source"];
    assert_eq!(
        source["repoURL"].as_str(),
        Some(p.repository.as_str()),
        "{path}"
    );
    assert_eq!(
        source["targetRevision"].as_str(),
        Some(p.revision.as_str()),
        "{path}"
    );

    let policy = &app["spec"]["syncPolicy"];
    if auto {
        assert_eq!(
            policy["automated"],
            yaml_from("{prune: true, selfHeal: true}"),
            "{path}: automated sync with prune and self-heal where auto_sync"
        );
    } else {
        assert!(
            policy.get("automated").is_none(),
            "{path}: manual sync where auto_sync = false, found {:?}",
            policy["automated"]
        );
    }
    assert_eq!(
        policy["retry"],
        yaml_from("{limit: 5, backoff: {duration: 10s, factor: 2, maxDuration: 3m}}"),
        "{path}: retry with backoff"
    );
}

fn sync_options(app: &Value) -> Vec<String> {
    strings(&app["spec"]["syncPolicy"]["syncOptions"])
}

const FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

#[test]
fn argocd_project_restricts_sources_and_destinations() {
    for name in EXAMPLES {
        let g = generated(name);
        let p = &g.model.platform;
        let project = g.yaml("argocd/project.yaml");
        assert_eq!(project["kind"], yaml_from("AppProject"), "{name}");
        assert_eq!(project["metadata"]["name"].as_str(), Some(p.name.as_str()));
        assert_eq!(project["metadata"]["namespace"], yaml_from("argocd"));
        assert_eq!(
            strings(&project["spec"]["sourceRepos"]),
            vec![p.repository.clone()],
            "{name}: sources only from the platform repository"
        );
        let wanted: BTreeSet<(String, String)> = g
            .model
            .environments
            .iter()
            .map(|e| (e.cluster.clone(), e.namespace.clone()))
            .collect();
        assert_eq!(destinations(&project), wanted, "{name}");
        assert_eq!(
            project["spec"]["clusterResourceWhitelist"],
            yaml_from(r#"[{group: "", kind: Namespace}]"#),
            "{name}: no cluster-scoped objects but Namespaces"
        );
        assert!(project["spec"].get("namespaceResourceWhitelist").is_none());
        assert_eq!(
            project["spec"]["orphanedResources"],
            yaml_from("{warn: true}")
        );

        // The root Applications' own project: Applications in argocd, nothing else.
        let root = g.yaml("argocd/project-root.yaml");
        assert_eq!(root["kind"], yaml_from("AppProject"));
        assert_eq!(
            root["metadata"]["name"].as_str(),
            Some(format!("{}-root", p.name).as_str())
        );
        assert_eq!(
            strings(&root["spec"]["sourceRepos"]),
            vec![p.repository.clone()]
        );
        assert_eq!(
            destinations(&root),
            BTreeSet::from([(
                "https://kubernetes.default.svc".to_string(),
                "argocd".to_string()
            )])
        );
        assert!(root["spec"].get("clusterResourceWhitelist").is_none());
        assert_eq!(
            root["spec"]["namespaceResourceWhitelist"],
            yaml_from("[{group: argoproj.io, kind: Application}]")
        );
    }
}

#[test]
fn argocd_application_per_service_and_environment() {
    // Without a mesh a canary shifts pods, not weights: nothing of Istio to ignore.
    let fleet = std::fs::read_to_string(example("fleet")).unwrap();
    let without_mesh = render_text(
        "fleet (mesh = none)",
        fleet.replacen("[platform]\n", "[platform]\nmesh = \"none\"\n", 1),
    );
    assert_eq!(without_mesh.model.platform.mesh, Mesh::None);
    for g in EXAMPLES
        .iter()
        .map(|name| generated(name))
        .chain([without_mesh])
    {
        let p = &g.model.platform;
        let name = &p.name;
        let project = g.yaml("argocd/project.yaml");
        let allowed = destinations(&project);
        let mut names = BTreeSet::new();
        for env in &g.model.environments {
            let platform_path = format!("argocd/{}/_platform.yaml", env.name);
            let platform_app = g.yaml(&platform_path);
            check_application(&g, &platform_path, &platform_app, env, env.auto_sync);
            assert_eq!(
                platform_app["metadata"]["name"].as_str(),
                Some(format!("{}-{}-platform", p.name, env.name).as_str())
            );
            let overlay = format!("deploy/overlays/{}/_platform", env.name);
            assert_eq!(
                platform_app["spec"]["source"]["path"].as_str(),
                Some(overlay.as_str())
            );
            assert!(
                g.files
                    .contains_key(&format!("{overlay}/kustomization.yaml"))
            );
            assert!(sync_options(&platform_app).contains(&"CreateNamespace=true".to_string()));
            assert_eq!(
                platform_app["spec"]["project"].as_str(),
                Some(p.name.as_str())
            );
            assert!(allowed.contains(&destination(&platform_app["spec"]["destination"])));
            assert!(strings(&platform_app["metadata"]["finalizers"]).contains(&FINALIZER.into()));
            names.insert(
                platform_app["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );

            for service in &g.model.services {
                let path = format!("argocd/{}/{}.yaml", env.name, service.name);
                let app = g.yaml(&path);
                check_service_application(&g, &path, &app, service, env, &allowed);
                assert!(
                    sync_wave(&platform_app) < sync_wave(&app),
                    "{path}: the platform objects sync first"
                );
                assert!(names.insert(app["metadata"]["name"].as_str().unwrap().to_string()));
            }
        }
        assert_eq!(
            names.len(),
            g.model.environments.len() * (g.model.services.len() + 1),
            "{name}: Application names are unique"
        );
    }
}

fn check_service_application(
    g: &Generated,
    path: &str,
    app: &Value,
    service: &Service,
    env: &Environment,
    allowed: &BTreeSet<(String, String)>,
) {
    let p = &g.model.platform;
    check_application(g, path, app, env, env.auto_sync);
    assert_eq!(
        app["metadata"]["name"].as_str(),
        Some(format!("{}-{}", service.name, env.name).as_str()),
        "{path}"
    );
    assert_eq!(
        app["spec"]["project"].as_str(),
        Some(p.name.as_str()),
        "{path}"
    );
    let dest = destination(&app["spec"]["destination"]);
    assert_eq!(dest, (env.cluster.clone(), env.namespace.clone()), "{path}");
    assert!(
        allowed.contains(&dest),
        "{path}: destination outside the project"
    );
    assert!(strings(&app["metadata"]["finalizers"]).contains(&FINALIZER.into()));

    let source = &app["spec"]["source"];
    match p.deploy {
        Deploy::Kustomize => {
            let overlay = format!("deploy/overlays/{}/{}", env.name, service.name);
            assert_eq!(source["path"].as_str(), Some(overlay.as_str()), "{path}");
            assert!(source.get("helm").is_none(), "{path}");
            assert!(
                g.files
                    .contains_key(&format!("{overlay}/kustomization.yaml")),
                "{path}: {overlay} is generated"
            );
        }
        Deploy::Helm => {
            assert_eq!(source["path"].as_str(), Some("helm/chart"), "{path}");
            let helm = &source["helm"];
            assert_eq!(
                helm["releaseName"].as_str(),
                Some(service.name.as_str()),
                "{path}"
            );
            let files = strings(&helm["valueFiles"]);
            assert_eq!(
                files,
                vec![
                    format!("../{}/values.yaml", service.name),
                    format!("../{}/values-{}.yaml", service.name, env.name),
                ],
                "{path}: the service's values, then the environment's, relative to the chart"
            );
            // Relative to the chart folder they are the per-service values files.
            for (file, wanted) in files.iter().zip([
                format!("helm/{}/values.yaml", service.name),
                format!("helm/{}/values-{}.yaml", service.name, env.name),
            ]) {
                let resolved = format!("helm/chart/{file}").replace("/chart/../", "/");
                assert_eq!(resolved, wanted, "{path}");
            }
        }
    }

    // The platform Application creates the namespace with its labels; a service's never
    // does (it would create it bare: no Pod Security, no sidecars).
    let options = sync_options(app);
    assert!(
        !options.iter().any(|o| o.starts_with("CreateNamespace")),
        "{path}"
    );
    let here = &service.environments[&env.name];
    let hpa = here.autoscale.is_some();
    // What Argo CD must leave to other controllers: the HPA owns the replica count of the
    // workload it scales (a Rollout wherever the release is canary or blue-green), and
    // Argo Rollouts sets a mesh canary's weights in the VirtualServices while it runs.
    let (group, kind) = match here.release.strategy {
        Strategy::Rolling => ("apps", "Deployment"),
        Strategy::Canary | Strategy::BlueGreen => ("argoproj.io", "Rollout"),
    };
    let weights = here.release.strategy == Strategy::Canary && p.mesh == Mesh::Istio;
    let mut wanted = Vec::new();
    if hpa {
        wanted.push(format!(
            "{{group: {group}, kind: {kind}, name: {}, jsonPointers: [/spec/replicas]}}",
            service.name
        ));
    }
    if weights {
        wanted.push(
            "{group: networking.istio.io, kind: VirtualService, jqPathExpressions: ['.spec.http[].route[].weight']}"
                .to_string(),
        );
    }
    let ignored = app["spec"].get("ignoreDifferences");
    if wanted.is_empty() {
        assert!(
            ignored.is_none(),
            "{path}: no HPA and no canary weights, nothing to ignore"
        );
        assert!(
            !options.contains(&"RespectIgnoreDifferences=true".into()),
            "{path}"
        );
    } else {
        assert_eq!(
            ignored,
            Some(&yaml_from(&format!("[{}]", wanted.join(", ")))),
            "{path}: the HPA owns the {kind}'s replica count (autoscaled: {hpa}); the \
             Rollouts controller owns the canary weights (mesh canary: {weights})"
        );
        assert!(
            options.contains(&"RespectIgnoreDifferences=true".into()),
            "{path}"
        );
    }
}

#[test]
fn argocd_root_application_per_environment() {
    for name in EXAMPLES {
        let g = generated(name);
        let p = &g.model.platform;
        let root_project = g.yaml("argocd/project-root.yaml");
        let mut expected_files: BTreeSet<String> = BTreeSet::from([
            "argocd/project.yaml".into(),
            "argocd/project-root.yaml".into(),
        ]);
        for env in &g.model.environments {
            let path = format!("argocd/root-{}.yaml", env.name);
            let root = g.yaml(&path);
            check_application(&g, &path, &root, env, env.auto_sync);
            assert_eq!(
                root["metadata"]["name"].as_str(),
                Some(format!("{}-{}", p.name, env.name).as_str())
            );
            assert_eq!(
                root["spec"]["project"].as_str(),
                Some(format!("{}-root", p.name).as_str())
            );
            let folder = format!("argocd/{}", env.name);
            assert_eq!(
                root["spec"]["source"]["path"].as_str(),
                Some(folder.as_str())
            );
            assert!(
                destinations(&root_project).contains(&destination(&root["spec"]["destination"])),
                "{path}"
            );
            // The folder holds exactly the environment's Applications and the kustomization
            // listing them, not the root itself.
            let children: BTreeSet<&String> = g
                .files
                .keys()
                .filter(|f| f.starts_with(&format!("{folder}/")))
                .collect();
            let mut wanted: BTreeSet<String> = g
                .model
                .services
                .iter()
                .map(|s| format!("{folder}/{}.yaml", s.name))
                .collect();
            wanted.insert(format!("{folder}/_platform.yaml"));
            wanted.insert(format!("{folder}/kustomization.yaml"));
            // With cert-manager, the environment's certificate has an Application of its own.
            if env.certificate.is_some() {
                wanted.insert(format!("{folder}/_tls.yaml"));
            }
            assert_eq!(children, wanted.iter().collect(), "{path}");
            assert!(!path.starts_with(&format!("{folder}/")));
            expected_files.insert(path);
            expected_files.extend(wanted);
        }
        let argocd: BTreeSet<String> = g
            .files
            .keys()
            .filter(|f| f.starts_with("argocd/"))
            .cloned()
            .collect();
        if !p.tls.destinations.is_empty() {
            expected_files.insert("argocd/project-tls.yaml".into());
        }
        assert_eq!(argocd, expected_files, "{name}: nothing else under argocd/");
    }
}

// --- GitHub Actions -------------------------------------------------------------------

fn jobs(workflow: &Value) -> &serde_yaml_ng::Mapping {
    workflow["jobs"].as_mapping().expect("jobs")
}

fn job<'a>(workflow: &'a Value, id: &str) -> &'a Value {
    &workflow["jobs"][id]
}

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_sequence().expect("steps")
}

/// The steps of a job using `action` (`owner/name`, any version).
fn using<'a>(job: &'a Value, action: &str) -> Vec<&'a Value> {
    steps(job)
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.split('@').next() == Some(action))
        })
        .collect()
}

/// `on:` (a YAML 1.1 reader would make the key `true`; ours reads YAML 1.2).
fn triggers(workflow: &Value) -> &Value {
    let on = &workflow["on"];
    assert!(!on.is_null(), "the workflow has triggers");
    on
}

fn check_workflow_basics(path: &str, workflow: &Value, default_branch: &str) {
    assert_eq!(
        workflow["permissions"],
        yaml_from("{contents: read}"),
        "{path}: read-only by default"
    );
    let concurrency = &workflow["concurrency"];
    assert!(
        str_of(&concurrency["group"], "concurrency group").contains("github.ref"),
        "{path}"
    );
    assert_eq!(
        concurrency["cancel-in-progress"].as_str(),
        Some("${{ github.event_name == 'pull_request' }}"),
        "{path}: only pull request runs are cancelled"
    );
    let on = triggers(workflow);
    assert_eq!(
        strings(&on["push"]["branches"]),
        vec![default_branch.to_string()],
        "{path}"
    );
    assert!(on.get("pull_request").is_some(), "{path}");
    assert_eq!(
        on["push"]["paths"], on["pull_request"]["paths"],
        "{path}: the same paths for pushes and pull requests"
    );
    for (id, job) in jobs(workflow) {
        for step in steps(job) {
            // Every action pinned: a major version tag or a full commit.
            if let Some(uses) = step["uses"].as_str() {
                let (_, version) = uses.split_once('@').expect("uses has a version");
                let major = version
                    .strip_prefix('v')
                    .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()));
                let commit = version.len() == 40 && version.chars().all(|c| c.is_ascii_hexdigit());
                assert!(major || commit, "{path}: job {id:?} uses {uses}");
            }
            // Scripts never contain expressions: values reach them through `env:`.
            if let Some(run) = step["run"].as_str() {
                assert!(!run.contains("${{"), "{path}: job {id:?} runs {run:?}");
            }
        }
    }
}

/// Job id → its write permissions.
fn write_permissions(workflow: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (id, job) in jobs(workflow) {
        let Some(perms) = job.get("permissions") else {
            continue;
        };
        let writes: BTreeSet<String> = perms
            .as_mapping()
            .expect("permissions as a map")
            .iter()
            .filter(|(_, level)| level.as_str() == Some("write"))
            .map(|(scope, _)| scope.as_str().unwrap().to_string())
            .collect();
        if !writes.is_empty() {
            out.insert(id.as_str().unwrap().to_string(), writes);
        }
    }
    out
}

fn setup_action(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Rust => "actions-rust-lang/setup-rust-toolchain",
        Runtime::Go => "actions/setup-go",
        Runtime::Node => "actions/setup-node",
        Runtime::Python => "actions/setup-python",
        Runtime::Java => "actions/setup-java",
    }
}

const TRIVY: &str = "aquasecurity/trivy-action";

#[test]
fn service_workflows_test_build_scan_push_and_deploy() {
    for name in EXAMPLES {
        let g = generated(name);
        let p = &g.model.platform;
        let on_default_branch = format!(
            "github.event_name == 'push' && github.ref == 'refs/heads/{}'",
            p.revision
        );
        for service in &g.model.services {
            let svc = &service.name;
            let path = format!(".github/workflows/{svc}.yaml");
            let wf = g.yaml(&path);
            check_workflow_basics(&path, &wf, &p.revision);
            assert_eq!(wf["name"].as_str(), Some(svc.as_str()));
            assert_eq!(wf["env"]["IMAGE"].as_str(), Some(service.image.as_str()));

            // Path-filtered to the service's own folders.
            let paths = strings(&triggers(&wf)["pull_request"]["paths"]);
            for wanted in [
                format!("services/{svc}/**"),
                format!("deploy/base/{svc}/**"),
                format!("deploy/overlays/*/{svc}/**"),
                format!("helm/{svc}/**"),
                path.clone(),
            ] {
                assert!(
                    paths.contains(&wanted),
                    "{path}: paths lack {wanted}: {paths:?}"
                );
            }
            assert!(
                paths.iter().all(|p| p.contains(svc.as_str())),
                "{path}: only the service's paths: {paths:?}"
            );

            // Write permissions only where a job needs them.
            let ghcr = service.image.starts_with("ghcr.io/");
            let mut wanted = BTreeMap::from([
                (
                    "build".to_string(),
                    BTreeSet::from(["security-events".to_string()]),
                ),
                (
                    "deploy".to_string(),
                    BTreeSet::from(["contents".to_string()]),
                ),
            ]);
            if ghcr {
                wanted.insert("push".into(), BTreeSet::from(["packages".to_string()]));
            }
            assert_eq!(write_permissions(&wf), wanted, "{path}");

            // Tests, by runtime, in the service's folder.
            let test = job(&wf, "test");
            assert_eq!(
                test["defaults"]["run"]["working-directory"].as_str(),
                Some(format!("services/{svc}").as_str())
            );
            assert_eq!(
                using(test, setup_action(service.runtime)).len(),
                1,
                "{path}"
            );
            assert!(steps(test).iter().any(|s| s.get("run").is_some()), "{path}");

            // Build with Buildx and its cache into an OCI layout, then the image scan with
            // SARIF upload (tests/cluster/ci.rs follows the image from build to push).
            let build = job(&wf, "build");
            assert_eq!(using(build, "docker/setup-buildx-action").len(), 1);
            let [image] = using(build, "docker/build-push-action")[..] else {
                panic!("{path}: one image build")
            };
            assert_eq!(
                image["with"]["context"].as_str(),
                Some(format!("services/{svc}").as_str())
            );
            assert_eq!(image["with"]["push"].as_bool(), Some(false));
            assert!(str_of(&image["with"]["cache-from"], "cache-from").starts_with("type=gha"));
            assert!(str_of(&image["with"]["cache-to"], "cache-to").starts_with("type=gha"));
            let tag = "${{ env.IMAGE }}:${{ github.sha }}";
            assert_eq!(image["with"]["tags"].as_str(), Some(tag));
            let layout = str_of(&image["with"]["outputs"], "outputs")
                .strip_prefix("type=oci,dest=")
                .and_then(|o| o.strip_suffix(",tar=false"))
                .expect("an OCI layout");

            let [scan] = using(build, TRIVY)[..] else {
                panic!("{path}: one image scan")
            };
            let with = &scan["with"];
            assert_eq!(
                with["input"].as_str(),
                Some(layout),
                "{path}: the built image"
            );
            assert_eq!(with["severity"].as_str(), Some("HIGH,CRITICAL"));
            assert_eq!(with["exit-code"].as_str(), Some("1"));
            assert_eq!(with["ignore-unfixed"].as_bool(), Some(true));
            assert_eq!(with["format"].as_str(), Some("sarif"));
            assert_eq!(with["limit-severities-for-sarif"].as_bool(), Some(true));
            let report = str_of(&with["output"], "trivy output");
            let [upload] = using(build, "github/codeql-action/upload-sarif")[..] else {
                panic!("{path}: one SARIF upload")
            };
            assert_eq!(upload["with"]["sarif_file"].as_str(), Some(report));
            assert!(
                str_of(&upload["if"], "upload if").starts_with("always()"),
                "{path}: the report is uploaded also when the scan fails"
            );
            let order = |s: &Value| steps(build).iter().position(|x| x == s).unwrap();
            assert!(order(image) < order(scan) && order(scan) < order(upload));

            // Configuration scan of the service's deploy and source folders.
            let config = job(&wf, "config-scan");
            let [config_scan] = using(config, TRIVY)[..] else {
                panic!("{path}: one config scan step")
            };
            let with = &config_scan["with"];
            assert_eq!(with["scan-type"].as_str(), Some("config"));
            assert_eq!(with["scan-ref"].as_str(), Some("${{ matrix.path }}"));
            assert_eq!(with["severity"].as_str(), Some("HIGH,CRITICAL"));
            assert_eq!(with["exit-code"].as_str(), Some("1"));
            assert_eq!(
                strings(&config["strategy"]["matrix"]["path"]),
                vec![format!("deploy/base/{svc}"), format!("services/{svc}")]
            );
            // Every Trivy step pinned to a commit.
            for step in using(build, TRIVY).into_iter().chain(using(config, TRIVY)) {
                let version = str_of(&step["uses"], "uses").split_once('@').unwrap().1;
                assert_eq!(version.len(), 40, "{path}: trivy-action pinned to a commit");
            }

            // Push: after everything passed, on the default branch only, tagged by commit:
            // the scanned layout, by skopeo, no build.
            let push = job(&wf, "push");
            assert_eq!(
                push["if"].as_str(),
                Some(on_default_branch.as_str()),
                "{path}"
            );
            assert_eq!(
                push["needs"],
                yaml_from("[test, build, config-scan]"),
                "{path}"
            );
            assert!(using(push, "docker/build-push-action").is_empty(), "{path}");
            let [download] = using(push, "actions/download-artifact")[..] else {
                panic!("{path}: the scanned image taken from the build job")
            };
            assert_eq!(download["with"]["path"].as_str(), Some(layout));
            let pushed = steps(push)
                .iter()
                .filter_map(|s| s["run"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                pushed.contains(
                    "skopeo copy --preserve-digests \"oci:$LAYOUT\" \"docker://$IMAGE:$TAG\""
                ),
                "{path}: {pushed}"
            );
            assert_eq!(push["env"]["TAG"].as_str(), Some("${{ github.sha }}"));
            assert_eq!(
                push["env"]["DIGEST"].as_str(),
                Some("${{ needs.build.outputs.digest }}")
            );
            assert_eq!(
                build["outputs"]["digest"].as_str(),
                Some("${{ steps.image.outputs.digest }}")
            );
            assert_eq!(image["id"].as_str(), Some("image"));
            assert_eq!(using(push, "docker/login-action").len(), 1);

            // GitOps: the new tag goes into the first environment's overlay (or values).
            let deploy = job(&wf, "deploy");
            assert_eq!(deploy["if"].as_str(), Some(on_default_branch.as_str()));
            assert_eq!(deploy["needs"].as_str(), Some("push"));
            let first = &g.first_env().name;
            let file = match p.deploy {
                Deploy::Kustomize => format!("deploy/overlays/{first}/{svc}/kustomization.yaml"),
                Deploy::Helm => format!("helm/{svc}/values-{first}.yaml"),
            };
            assert_eq!(
                deploy["env"]["FILE"].as_str(),
                Some(file.as_str()),
                "{path}"
            );
            if p.deploy == Deploy::Kustomize {
                let kustomization = g.yaml(&file);
                let images = kustomization["images"].as_sequence().expect("images");
                assert!(
                    images
                        .iter()
                        .any(|i| i["name"].as_str() == Some(&service.image)),
                    "{file} sets the image the deploy job bumps"
                );
            }
            assert_eq!(deploy["env"]["TAG"].as_str(), Some("${{ github.sha }}"));
            assert_eq!(deploy["env"]["BRANCH"].as_str(), Some(p.revision.as_str()));

            // Every job that can write, except the scan report, runs on the default branch only.
            for (id, _) in write_permissions(&wf) {
                if id != "build" {
                    assert_eq!(
                        job(&wf, &id)["if"].as_str(),
                        Some(on_default_branch.as_str()),
                        "{path}: job {id}"
                    );
                }
            }
        }
    }
}

#[test]
fn platform_workflow_checks_the_generated_tree() {
    for name in EXAMPLES {
        let g = generated(name);
        let path = ".github/workflows/platform.yaml";
        let wf = g.yaml(path);
        check_workflow_basics(path, &wf, &g.model.platform.revision);
        assert!(write_permissions(&wf).is_empty(), "{name}: read-only");
        let paths = strings(&triggers(&wf)["push"]["paths"]);
        for wanted in ["service.toml", "deploy/**", "helm/**", "argocd/**"] {
            assert!(paths.contains(&wanted.to_string()), "{name}: {paths:?}");
        }
        let runs = |id: &str| -> String {
            steps(job(&wf, id))
                .iter()
                .filter_map(|s| s["run"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        // Green on a new repository: without `bulkhead_git` the plan check says it is
        // skipped (a notice) and cannot fail; with it, it installs bulkhead and checks.
        if g.model.vars.contains_key("bulkhead_git") {
            assert!(runs("plan").contains("bulkhead plan --check"), "{name}");
        } else {
            assert!(
                runs("plan").starts_with("echo \"::notice "),
                "{name}: {}",
                runs("plan")
            );
            assert!(runs("plan").contains("bulkhead_git"), "{name}");
            assert!(!runs("plan").contains("exit"), "{name}");
        }
        assert!(runs("kustomize").contains("kubectl kustomize"));
        // With Helm delivery the chart lints and renders with every values file.
        let helm = g.model.platform.deploy == bulkhead::spec::Deploy::Helm;
        assert_eq!(jobs(&wf).contains_key("helm"), helm, "{name}");
        if helm {
            assert!(runs("helm").contains("helm lint helm/chart"), "{name}");
            assert!(runs("helm").contains("helm template"), "{name}");
            assert_eq!(using(job(&wf, "helm"), "azure/setup-helm").len(), 1);
        }
        assert_eq!(using(job(&wf, "kustomize"), "azure/setup-kubectl").len(), 1);
        // Exactly one workflow per service plus this one.
        let workflows: BTreeSet<&String> = g
            .files
            .keys()
            .filter(|f| f.starts_with(".github/"))
            .collect();
        assert_eq!(workflows.len(), g.model.services.len() + 1, "{name}");
    }
}

const PLATFORM: &str = r#"[platform]
name = "demo"
registry = "registry.example.com:5000/team"
repository = "https://github.com/acme/demo.git"
revision = "trunk"
deploy = "helm"
blueprints = "./ci/blueprints/"
"#;

const REST: &str = r#"
[environments.dev]

[environments.prod]
auto_sync = false

[services.api]
runtime = "java"

[services.api.environments.prod]
autoscale = { min = 2, max = 4, cpu = 70 }
"#;

#[test]
fn no_workflows_without_github_actions() {
    let text = format!("{PLATFORM}ci = \"none\"\n{REST}");
    let g = render_text("service.toml", text);
    assert!(
        g.files.keys().all(|f| !f.starts_with(".github/")),
        "{:?}",
        g.files.keys().collect::<Vec<_>>()
    );
    // Argo CD does not depend on the CI system.
    assert!(g.files.contains_key("argocd/dev/api.yaml"));
}

#[test]
fn other_registries_branches_and_blueprint_folders() {
    let text = format!("{PLATFORM}{REST}");
    let g = render_text("service.toml", text);
    let wf = g.yaml(".github/workflows/api.yaml");
    // No GitHub packages: no packages permission, credentials from repository secrets.
    assert!(!write_permissions(&wf).contains_key("push"));
    let [login] = using(job(&wf, "push"), "docker/login-action")[..] else {
        panic!("one login")
    };
    assert_eq!(
        login["with"]["registry"].as_str(),
        Some("registry.example.com:5000")
    );
    assert_eq!(
        login["with"]["password"].as_str(),
        Some("${{ secrets.REGISTRY_PASSWORD }}")
    );
    assert_eq!(
        job(&wf, "push")["if"].as_str(),
        Some("github.event_name == 'push' && github.ref == 'refs/heads/trunk'")
    );
    assert_eq!(strings(&triggers(&wf)["push"]["branches"]), vec!["trunk"]);
    assert_eq!(
        job(&wf, "deploy")["env"]["FILE"].as_str(),
        Some("helm/api/values-dev.yaml")
    );
    // The platform's own blueprints trigger the platform workflow.
    let platform = g.yaml(".github/workflows/platform.yaml");
    assert!(strings(&triggers(&platform)["push"]["paths"]).contains(&"ci/blueprints/**".into()));

    // Helm: an HPA only in prod, manual sync there.
    let prod = g.yaml("argocd/prod/api.yaml");
    assert!(prod["spec"].get("ignoreDifferences").is_some());
    assert!(prod["spec"]["syncPolicy"].get("automated").is_none());
    let dev = g.yaml("argocd/dev/api.yaml");
    assert!(dev["spec"].get("ignoreDifferences").is_none());
    assert_eq!(dev["spec"]["source"]["path"].as_str(), Some("helm/chart"));
}

#[test]
fn bulkhead_source_for_the_platform_workflow_stays_data() {
    let hostile = "https://x.example/b.git\n${{ secrets.GITHUB_TOKEN }}'\"$(id)";
    let text = format!(
        "{PLATFORM}vars = {{ bulkhead_git = {} }}\n{REST}",
        toml_edit::Value::from(hostile)
    );
    let g = render_text("service.toml", text);
    let wf = g.yaml(".github/workflows/platform.yaml");
    let install = steps(job(&wf, "plan"))
        .iter()
        .find(|s| s["name"].as_str() == Some("Install bulkhead"))
        .expect("install step");
    let value = str_of(&install["env"]["BULKHEAD_GIT"], "BULKHEAD_GIT");
    // GitHub evaluates the guard `${{ '${{' }}` to the literal `${{`.
    assert_eq!(value.replace("${{ '${{' }}", "${{"), hostile);
    assert!(!str_of(&install["run"], "run").contains("example"));
}

/// One service of each runtime.
const EVERY_RUNTIME: &str = r#"[platform]
name = "poly"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/poly.git"

[environments.dev]

[services.rs]
runtime = "rust"

[services.go]
runtime = "go"

[services.js]
runtime = "node"

[services.py]
runtime = "python"

[services.jv]
runtime = "java"
"#;

/// The examples and a platform with every runtime.
fn every_platform() -> Vec<(String, Generated)> {
    let mut out: Vec<(String, Generated)> = EXAMPLES
        .iter()
        .map(|name| (name.to_string(), generated(name)))
        .collect();
    out.push((
        "every runtime".into(),
        render_text("service.toml", EVERY_RUNTIME.into()),
    ));
    out
}

/// `owner/repo[/path]@<40 hex> # v<release>`, the form of every `uses:`.
fn pinned_to_a_release_commit(uses: &str) -> bool {
    let Some((reference, release)) = uses.split_once(" # ") else {
        return false;
    };
    let Some((action, commit)) = reference.split_once('@') else {
        return false;
    };
    let parts: Vec<&str> = action.split('/').collect();
    let names = parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    let commit = commit.len() == 40
        && commit
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    let release = release.strip_prefix('v').is_some_and(|v| {
        v.split('.')
            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    names && commit && release
}

#[test]
fn every_action_is_pinned_to_the_commit_of_a_release() {
    assert!(pinned_to_a_release_commit(
        "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
    ));
    assert!(!pinned_to_a_release_commit("actions/checkout@v4"));
    assert!(!pinned_to_a_release_commit(
        "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
    ));
    for (name, g) in every_platform() {
        for (path, text) in g.files.iter().filter(|(p, _)| p.starts_with(".github/")) {
            // The text, for the release comment the YAML reader drops.
            let lines: Vec<&str> = text
                .lines()
                .filter_map(|l| {
                    let l = l.trim_start();
                    l.strip_prefix("- ").unwrap_or(l).strip_prefix("uses: ")
                })
                .collect();
            for uses in &lines {
                assert!(
                    pinned_to_a_release_commit(uses),
                    "{name} {path}: uses: {uses}"
                );
            }
            // Every step's `uses` is one of those lines.
            let wf = g.yaml(path);
            let parsed: Vec<&str> = jobs(&wf)
                .iter()
                .flat_map(|(_, job)| steps(job))
                .filter_map(|s| s["uses"].as_str())
                .collect();
            assert!(!parsed.is_empty(), "{name} {path}");
            assert_eq!(
                parsed,
                lines
                    .iter()
                    .map(|l| l.split(" # ").next().unwrap())
                    .collect::<Vec<_>>(),
                "{name} {path}"
            );
        }
    }
}

#[test]
fn checkout_keeps_credentials_only_in_a_job_that_pushes_to_git() {
    for (name, g) in every_platform() {
        let mut pushing = 0;
        for (path, _) in g.files.iter().filter(|(p, _)| p.starts_with(".github/")) {
            let wf = g.yaml(path);
            for (id, job) in jobs(&wf) {
                let pushes_to_git = steps(job)
                    .iter()
                    .filter_map(|s| s["run"].as_str())
                    .any(|r| r.contains("git push"));
                pushing += usize::from(pushes_to_git);
                for checkout in using(job, "actions/checkout") {
                    let keep = &checkout["with"]["persist-credentials"];
                    assert_eq!(
                        keep.as_bool(),
                        Some(pushes_to_git),
                        "{name} {path} job {id:?}: persist-credentials {keep:?}"
                    );
                }
            }
        }
        // The deploy job of each service commits the new tag.
        assert_eq!(pushing, g.model.services.len(), "{name}");
    }
}

/// The version in a builder image's tag: `golang:1.25-bookworm` → `1.25`; Maven's images
/// are tagged by Maven, their Java after `temurin-`.
fn image_version(image: &str) -> &str {
    let tag = image.split_once(':').map_or("", |(_, t)| t);
    match tag.split_once("temurin-") {
        Some((_, java)) => java,
        None => tag.split('-').next().unwrap_or(tag),
    }
}

#[test]
fn ci_tests_with_the_toolchain_the_dockerfile_builds_with() {
    let g = render_text("service.toml", EVERY_RUNTIME.into());
    let mut seen = BTreeSet::new();
    for service in &g.model.services {
        let svc = &service.name;
        let dockerfile = &g.files[&format!("services/{svc}/Dockerfile")];
        let builder = dockerfile
            .lines()
            .find_map(|l| l.strip_prefix("FROM "))
            .and_then(|l| l.strip_suffix(" AS build"))
            .unwrap_or_else(|| panic!("{svc}: a build stage first"));
        let wf = g.yaml(&format!(".github/workflows/{svc}.yaml"));
        let test = job(&wf, "test");
        let [setup] = using(test, setup_action(service.runtime))[..] else {
            panic!("{svc}: one setup step")
        };
        let input = match service.runtime {
            Runtime::Rust => "toolchain",
            Runtime::Go => "go-version",
            Runtime::Node => "node-version",
            Runtime::Python => "python-version",
            Runtime::Java => "java-version",
        };
        assert_eq!(
            setup["with"][input].as_str(),
            Some(image_version(builder)),
            "{svc}: CI sets up {input} {:?}, the Dockerfile builds in {builder}",
            setup["with"][input]
        );
        if service.runtime == Runtime::Go {
            // Neither downloads a newer Go than that one for go.mod.
            assert!(dockerfile.contains("ENV GOTOOLCHAIN=local"), "{dockerfile}");
            assert_eq!(test["env"]["GOTOOLCHAIN"].as_str(), Some("local"));
        }
        if service.runtime == Runtime::Node {
            // The dependency layer runs no install script (the project's own need its
            // sources); they run once the sources are copied.
            let lines: Vec<&str> = dockerfile.lines().map(str::trim).collect();
            let position = |what: &str| lines.iter().position(|l| l.starts_with(what));
            for l in lines.iter().filter(|l| l.contains("npm ci")) {
                assert!(l.contains("--ignore-scripts"), "{svc}: {l}");
            }
            let copy = position("COPY . .").expect("sources copied");
            let rebuild = position("RUN npm rebuild").expect("install scripts run");
            assert!(
                position("npm ci").unwrap() < copy && copy < rebuild,
                "{dockerfile}"
            );
        }
        seen.insert(format!("{:?}", service.runtime));
    }
    assert_eq!(seen.len(), 5, "every runtime: {seen:?}");
}
