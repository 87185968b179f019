//! `${name}` substitution the way Terraform's `templatefile` does it for our definition.
//!
//! Only plain variable references are supported (`${ name }`); `$${` is Terraform's escape
//! for a literal `${` and `%%{` for a literal `%{`. Template directives (`%{ if }`,
//! `%{ for }`) and expressions are rejected rather than silently passed through, so a
//! definition that would render differently under Terraform never runs locally.

use std::collections::HashMap;

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template references a variable that was not supplied.
    #[error("template variable `{name}` (at byte {offset}) has no value")]
    MissingVariable {
        /// The variable name.
        name: String,
        /// Byte offset of the `${` in the template.
        offset: usize,
    },
    /// `${` without a matching `}`.
    #[error("unterminated `${{` at byte {offset}")]
    Unterminated {
        /// Byte offset of the `${` in the template.
        offset: usize,
    },
    /// `${ ... }` holds something other than a plain identifier.
    #[error(
        "unsupported template expression `{expression}` at byte {offset}: only `${{name}}` is supported"
    )]
    UnsupportedExpression {
        /// The text between the braces.
        expression: String,
        /// Byte offset of the `${` in the template.
        offset: usize,
    },
    /// A `%{ ... }` directive, which the local renderer does not implement.
    #[error("template directives (`%{{`) are not supported (at byte {offset})")]
    UnsupportedDirective {
        /// Byte offset of the `%{` in the template.
        offset: usize,
    },
}

/// Render `text`, replacing each `${name}` with `vars[name]`.
///
/// Values are inserted verbatim (Terraform does not JSON-escape them either), so callers
/// pass plain names/ARNs.
pub fn render_template<K, V>(text: &str, vars: &HashMap<K, V>) -> Result<String, TemplateError>
where
    K: std::borrow::Borrow<str> + std::hash::Hash + Eq,
    V: AsRef<str>,
{
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0usize;
    while let Some(pos) = rest.find(['$', '%']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let here = offset + pos;
        let consumed = if let Some(after) = tail.strip_prefix("$${") {
            let _ = after;
            out.push_str("${");
            3
        } else if tail.starts_with("%%{") {
            out.push_str("%{");
            3
        } else if tail.starts_with("%{") {
            return Err(TemplateError::UnsupportedDirective { offset: here });
        } else if let Some(after) = tail.strip_prefix("${") {
            let close = after
                .find('}')
                .ok_or(TemplateError::Unterminated { offset: here })?;
            let expression = after[..close].trim();
            let is_identifier = !expression.is_empty()
                && expression
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !expression.starts_with(|c: char| c.is_ascii_digit());
            if !is_identifier {
                return Err(TemplateError::UnsupportedExpression {
                    expression: expression.to_owned(),
                    offset: here,
                });
            }
            let value = vars
                .get(expression)
                .ok_or_else(|| TemplateError::MissingVariable {
                    name: expression.to_owned(),
                    offset: here,
                })?;
            out.push_str(value.as_ref());
            2 + close + 1
        } else {
            // A lone `$` or `%` is literal text.
            out.push_str(&tail[..1]);
            1
        };
        rest = &tail[consumed..];
        offset = here + consumed;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn substitutes_variables_with_and_without_spaces() {
        let out = render_template(
            r#"{"a": "${fn_a}", "b": "${ fn_b }"}"#,
            &vars(&[("fn_a", "A"), ("fn_b", "B")]),
        )
        .unwrap();
        assert_eq!(out, r#"{"a": "A", "b": "B"}"#);
    }

    #[test]
    fn missing_variable_is_a_typed_error() {
        let err = render_template("x ${nope} y", &vars(&[])).unwrap_err();
        assert_eq!(
            err,
            TemplateError::MissingVariable {
                name: "nope".into(),
                offset: 2
            }
        );
    }

    #[test]
    fn escapes_and_lone_dollars_are_literal() {
        let out = render_template("$$ $${x} %%{y} $.a", &vars(&[])).unwrap();
        assert_eq!(out, "$$ ${x} %{y} $.a");
    }

    #[test]
    fn expressions_and_directives_are_rejected() {
        assert!(matches!(
            render_template("${a + b}", &vars(&[("a", "1")])),
            Err(TemplateError::UnsupportedExpression { .. })
        ));
        assert!(matches!(
            render_template("%{ if x }", &vars(&[])),
            Err(TemplateError::UnsupportedDirective { offset: 0 })
        ));
        assert!(matches!(
            render_template("abc ${a", &vars(&[])),
            Err(TemplateError::Unterminated { offset: 4 })
        ));
    }

    #[test]
    fn renders_the_scones_definition_with_local_names() {
        let vars = scones_workflow::definition::variables("aws", str::to_owned);
        let out = render_template(scones_workflow::definition::DEFINITION, &vars).unwrap();
        assert!(!out.contains("${"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["States"]["ClassifyImage"]["Parameters"]["FunctionName"],
            "classify-image"
        );
    }
}
