//! The complete output of every example, pinned. A blueprint change shows up here as a
//! reviewable diff (`cargo insta review`).

use bulkhead::diagnostic::Source;
use bulkhead::model::Model;
use bulkhead::render::{Blueprints, Renderer};

use crate::common::{EXAMPLES, example};

pub fn render_example(name: &str) -> bulkhead::render::Files {
    let path = example(name);
    let source = Source {
        name: path.display().to_string(),
        text: std::fs::read_to_string(&path).unwrap(),
    };
    let (spec, diagnostics) = bulkhead::spec::parse(&source);
    let spec = spec.unwrap();
    let mut all = diagnostics;
    all.extend(bulkhead::validate::validate(&spec));
    assert!(
        all.iter().all(|d| !d.is_error()),
        "{}",
        source.render(&all, false)
    );
    Renderer::new(Blueprints::builtin())
        .unwrap()
        .render(&Model::build(&spec))
        .unwrap()
}

#[test]
fn examples_output() {
    for name in EXAMPLES {
        let files = render_example(name);
        let mut text = String::new();
        for (path, content) in &files {
            text.push_str(&format!("──── {path} ────\n{content}\n"));
        }
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(*name, text);
        });
    }
}
