//! The complete output of every example, pinned. A blueprint change shows up here as a
//! reviewable diff (`cargo insta review`).

use bulkhead::render::{Blueprints, Renderer};

use crate::common::{EXAMPLES, example, model_of_file};

pub fn render_example(name: &str) -> bulkhead::render::Files {
    let model = model_of_file(&example(name));
    Renderer::new(Blueprints::builtin())
        .unwrap()
        .render(&model)
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
