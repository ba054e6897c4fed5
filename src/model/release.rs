//! A canary's steps as the Argo Rollouts controller takes them: declared in service.toml or
//! the defaults. Only the steps themselves; merging a service's release settings with an
//! environment's is `model::release`'s, and the analysis template is the blueprints'.

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::spec::StepSpec;
use crate::spec::defaults;

/// One step of a canary, serialized as a step of an Argo Rollouts canary strategy is
/// written, except the analysis, which the blueprint expands into the service's template.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    /// `{"setWeight": 10}`: percent of traffic (or pods, without a mesh) to the new version.
    SetWeight(i64),
    /// `{"pause": {"duration": "5m"}}`: wait before the next step.
    Pause(Pause),
    /// `{"analysis": true}`: run the service's SLO analysis; a failure aborts the rollout.
    #[serde(serialize_with = "always_true")]
    #[schemars(with = "bool")]
    Analysis,
}

/// How long a pause step waits.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Pause {
    /// A duration as written in service.toml, e.g. `30s`, `5m`, `1h` (Argo Rollouts reads
    /// the same units).
    pub duration: String,
}

fn always_true<S: Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(true)
}

impl Step {
    pub fn pause(duration: &str) -> Self {
        Step::Pause(Pause {
            duration: duration.to_string(),
        })
    }
}

/// The steps of a canary that declares none: its weight, a pause, the analysis; the
/// controller promotes fully after the last step.
pub fn default_steps(weight: i64) -> Vec<Step> {
    vec![
        Step::SetWeight(weight),
        Step::pause(defaults::STEP_PAUSE),
        Step::Analysis,
    ]
}

/// Steps as declared. Validation left each entry exactly one key, so the first found is it.
pub fn declared(steps: &[StepSpec]) -> Vec<Step> {
    steps
        .iter()
        .filter_map(|s| {
            s.weight
                .as_ref()
                .map(|w| Step::SetWeight(w.value))
                .or_else(|| s.pause.as_ref().map(|p| Step::pause(&p.value)))
                .or_else(|| s.analysis.as_ref().map(|_| Step::Analysis))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;
    use crate::model::Model;

    fn model(services: &str) -> Model {
        let source = Source {
            name: "service.toml".into(),
            text: format!(
                "[platform]\nname = \"demo\"\nregistry = \"ghcr.io/acme\"\n\
                 repository = \"https://github.com/acme/demo.git\"\n\n\
                 [environments.dev]\n\n[environments.staging]\n\n[environments.prod]\n\n{services}"
            ),
        };
        let checked = crate::load::load(&source);
        checked
            .model
            .unwrap_or_else(|| panic!("{}", source.render(&checked.diagnostics, false)))
    }

    fn weight_pause_analysis(weight: i64, pause: &str) -> Vec<Step> {
        vec![Step::SetWeight(weight), Step::pause(pause), Step::Analysis]
    }

    #[test]
    fn steps_serialize_as_argo_rollouts_writes_them() {
        let json = serde_json::to_value(default_steps(10)).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"setWeight": 10},
                {"pause": {"duration": "5m"}},
                {"analysis": true},
            ])
        );
    }

    #[test]
    fn declared_steps_replace_the_defaults_and_environments_replace_the_services() {
        let m = model(
            "[services.api]\nruntime = \"go\"\n\
             release = { strategy = \"canary\", weight = 20, steps = [{ weight = 20 }, { pause = \"1m\" }, { analysis = true }, { weight = 60 }] }\n\n\
             [services.api.environments.dev]\nrelease = { strategy = \"rolling\" }\n\n\
             [services.api.environments.staging]\nrelease = { steps = [{ weight = 50 }, { analysis = true }] }\n\n\
             [services.api.environments.prod]\nrelease = { weight = 30 }\n",
        );
        let api = m.service("api").unwrap();
        let declared = vec![
            Step::SetWeight(20),
            Step::pause("1m"),
            Step::Analysis,
            Step::SetWeight(60),
        ];
        assert_eq!(api.release.steps, declared);
        let here = |env: &str| &api.environments[env];
        // Leaving the canary leaves its steps.
        assert!(here("dev").release.steps.is_empty());
        assert!(here("dev").changed.release);
        // Only the steps differ: still a change.
        assert_eq!(here("staging").release.weight, Some(20));
        assert_eq!(
            here("staging").release.steps,
            vec![Step::SetWeight(50), Step::Analysis]
        );
        assert!(here("staging").changed.release);
        // Declared steps are inherited like the weight.
        assert_eq!(here("prod").release.weight, Some(30));
        assert_eq!(here("prod").release.steps, declared);

        let json = serde_json::to_value(&here("staging").release).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "strategy": "canary",
                "weight": 20,
                "steps": [{"setWeight": 50}, {"analysis": true}],
            })
        );
    }

    #[test]
    fn default_steps_follow_the_weight_in_effect() {
        let m = model(
            "[services.api]\nruntime = \"go\"\nrelease = { strategy = \"canary\" }\n\n\
             [services.api.environments.staging]\nrelease = { strategy = \"canary\" }\n\n\
             [services.api.environments.prod]\nrelease = { weight = 40 }\n\n\
             [services.web]\nruntime = \"go\"\nrelease = { strategy = \"blue-green\" }\n\n\
             [services.web.environments.staging]\nrelease = { strategy = \"canary\", steps = [{ analysis = true }] }\n\n\
             [services.web.environments.prod]\nrelease = { strategy = \"canary\" }\n",
        );
        let api = m.service("api").unwrap();
        let pause = defaults::STEP_PAUSE;
        let default = weight_pause_analysis(defaults::WEIGHT.default, pause);
        assert_eq!(api.release.steps, default);
        assert_eq!(api.environments["dev"].release.steps, default);
        assert!(!api.environments["dev"].changed.release);
        assert_eq!(api.environments["staging"].release.steps, default);
        assert!(!api.environments["staging"].changed.release);
        assert_eq!(
            api.environments["prod"].release.steps,
            weight_pause_analysis(40, pause)
        );

        let web = m.service("web").unwrap();
        assert!(web.release.steps.is_empty());
        assert!(web.environments["dev"].release.steps.is_empty());
        assert_eq!(
            web.environments["staging"].release.steps,
            vec![Step::Analysis]
        );
        assert_eq!(web.environments["prod"].release.steps, default);
    }
}
