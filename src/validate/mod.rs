//! Every rule of service.toml that relates values to each other or bounds them. One rule
//! per function, each appending diagnostics with spans; all rules always run, so a user
//! sees every problem at once. Type and key checks happen earlier, in `spec`.

mod egress;
mod graph;
mod names;
mod steps;
mod tls;
mod values;

pub(crate) use values::SECRET_WORDS;

use crate::diagnostic::Diagnostic;
use crate::spec::Spec;

type Rule = fn(&Spec, &mut Vec<Diagnostic>);

/// The rules in the order of service-toml.md (output is sorted by position anyway).
const RULES: &[Rule] = &[
    names::names_are_dns_labels,
    names::paths_and_identifiers,
    tls::tls_certificates,
    egress::egress_names_hosts_outside_the_cluster,
    graph::single_owner,
    graph::calls_known_services,
    graph::topics_have_one_publisher,
    graph::broker_names_are_free,
    graph::api_prefixes_unambiguous,
    graph::overrides_name_environments,
    values::numbers_and_quantities,
    steps::canary_steps,
    values::something_declared,
    graph::no_call_cycles,
    values::datastore_matches_owns,
    graph::services_have_a_role,
    values::probes_differ,
    values::production_is_redundant,
    values::plain_settings_are_not_secrets,
];

pub fn validate(spec: &Spec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in RULES {
        rule(spec, &mut out);
    }
    out
}
