//! sparkhub's generated files and the checks of the IAM inventory. Not part
//! of any function or of the CLI: `make generate` runs this crate's binary,
//! which writes every file [`generated`] returns; its tests compare them with
//! the checked-in files.

pub mod golden;
pub mod iam;
pub mod implied;
pub mod infra;

use golden::{Generated, workspace_root};
use sparkhub_core::render::{self, Deployment, RunOptions};
use sparkhub_core::workflow;

/// The profile the golden renderings show (`shared/tests/golden/`).
const GOLDEN_PROFILE: &str = "tutorial";

/// The README's profile key reference, generated from the profile model
/// (`sparkhub_core::profile::keys`), between these markers.
pub const KEYS_BEGIN: &str = "<!-- BEGIN generated: profile keys (make generate) -->";
pub const KEYS_END: &str = "<!-- END generated: profile keys -->";

/// `readme` with the key reference between [`KEYS_BEGIN`] and [`KEYS_END`].
pub fn with_key_reference(readme: &str) -> Option<String> {
    let begin = readme.find(KEYS_BEGIN)?;
    let end = readme.find(KEYS_END)?;
    Some(format!(
        "{}{KEYS_BEGIN}\n{}{}",
        &readme[..begin],
        sparkhub_core::profile::keys::reference_markdown(),
        &readme[end..]
    ))
}

/// Every generated file with what the code makes of it now.
pub fn generated() -> Result<Vec<Generated>, String> {
    let root = workspace_root();
    let read =
        |path: &str| std::fs::read_to_string(root.join(path)).map_err(|e| format!("{path}: {e}"));
    let mut out = Vec::new();
    let mut add = |path: String, content: String| out.push(Generated { path, content });

    for (file, json) in workflow::generated_definitions() {
        add(format!("infra/statemachines/{file}"), json);
    }
    add(
        "README.md".into(),
        workflow::with_readme_diagram(&read("README.md")?)
            .ok_or("README.md lacks the cluster-workflow diagram markers")
            .and_then(|readme| {
                implied::with_readme_table(&readme)
                    .ok_or("README.md lacks the markers of the table of permissions AWS checks beside the named action")
            })
            .and_then(|readme| {
                with_key_reference(&readme).ok_or("README.md lacks the profile key reference markers")
            })
            .and_then(|readme| {
                iam::with_operator_permissions(&readme)
                    .ok_or("README.md lacks the operator permissions markers")
            })?,
    );

    let profiles = infra::repo_profiles();
    let tutorial = profiles
        .iter()
        .find(|p| p.name.as_str() == GOLDEN_PROFILE)
        .ok_or("profiles/tutorial.toml is missing")?;
    let plan = render::plan(
        tutorial,
        &Deployment::with_default_roles("sparkhub-example"),
        &RunOptions {
            run_id: "example".into(),
            ..Default::default()
        },
    );
    add(
        "shared/tests/golden/tutorial-input.json".into(),
        sparkhub_core::json::canonical(&plan.input),
    );
    for script in &plan.scripts {
        add(
            format!("shared/tests/golden/tutorial-{}", script.file_name),
            script.body.clone(),
        );
    }

    add(
        "tests/iam/inventory.json".into(),
        iam::inventory_json(&profiles),
    );
    add(
        "infra/template.yaml".into(),
        infra::generated_template(&read("infra/template.yaml")?, &profiles)?,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_file_is_current() {
        let files = generated().unwrap();
        assert!(files.len() >= 6, "{files:?}");
        let stale: Vec<String> = files
            .iter()
            .filter_map(|f| golden::check(f).err())
            .collect();
        assert!(stale.is_empty(), "{}", stale.join("\n\n"));
    }
}
