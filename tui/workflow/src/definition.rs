//! The one workflow definition, `terraform/workflow/scones.asl.json`, and its template
//! variables: Terraform renders it with `templatefile` (the function ARNs in), the local
//! engine with the local function names. Both fill exactly [`VARIABLES`]; nothing else
//! lists them.

use std::collections::HashMap;

/// The definition, exactly as Terraform renders it (with `${...}` variables).
pub const DEFINITION: &str = include_str!("../../../terraform/workflow/scones.asl.json");

/// The three workflow functions by name: the local engine's names for them and the keys of
/// Terraform's `function_arns`.
pub const SERIALIZE_IMAGE_DATA: &str = "serialize-image-data";
/// See [`SERIALIZE_IMAGE_DATA`].
pub const CLASSIFY_IMAGE: &str = "classify-image";
/// See [`SERIALIZE_IMAGE_DATA`].
pub const FILTER_LOW_CONFIDENCE: &str = "filter-low-confidence";

/// Every template variable of [`DEFINITION`], with the function whose name or ARN it takes
/// (`None`: the partition).
pub const VARIABLES: [(&str, Option<&str>); 4] = [
    ("partition", None),
    ("serialize_image_data_function", Some(SERIALIZE_IMAGE_DATA)),
    ("classify_image_function", Some(CLASSIFY_IMAGE)),
    (
        "filter_low_confidence_function",
        Some(FILTER_LOW_CONFIDENCE),
    ),
];

/// The variables rendered for `partition`, each function as `function(name)` says (its ARN
/// on AWS, its name locally).
pub fn variables(
    partition: &str,
    function: impl Fn(&str) -> String,
) -> HashMap<&'static str, String> {
    VARIABLES
        .iter()
        .map(|(var, f)| (*var, f.map_or_else(|| partition.to_owned(), &function)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `${name}` placeholders of `text`.
    fn placeholders(text: &str) -> Vec<&str> {
        let mut out: Vec<&str> = text
            .split("${")
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn the_variables_are_exactly_the_definitions_placeholders() {
        let mut listed: Vec<&str> = VARIABLES.iter().map(|(v, _)| *v).collect();
        listed.sort_unstable();
        assert_eq!(placeholders(DEFINITION), listed);
    }

    #[test]
    fn terraform_renders_every_variable() {
        let main = include_str!("../../../terraform/modules/workflow/main.tf");
        let call = main
            .split("templatefile(")
            .nth(1)
            .and_then(|rest| rest.split_once("})"))
            .map(|(args, _)| args)
            .expect("the workflow module renders the definition with templatefile");
        let mut rendered: Vec<&str> = call
            .lines()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
            .collect();
        rendered.sort_unstable();
        let mut listed: Vec<&str> = VARIABLES.iter().map(|(v, _)| *v).collect();
        listed.sort_unstable();
        assert_eq!(rendered, listed);
        for (_, function) in VARIABLES {
            if let Some(f) = function {
                assert!(main.contains(&format!("function_arns[\"{f}\"]")), "{f}");
            }
        }
    }
}
