//! Parallel states: each branch a sub-program.

use serde_json::Value;

use super::super::*;
use super::fields::{Fields, check_sub_program_keys};
use super::{parse_program, query_language};

impl Fields<'_, '_> {
    pub(super) fn parallel(&mut self, language: QueryLanguage) -> Option<ParallelState> {
        let mut branches = Vec::new();
        match self.obj.get("Branches").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => {
                let base = self.at("Branches");
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{base}/{i}");
                    match item.as_object() {
                        Some(b) => {
                            check_sub_program_keys(b, &p, self.cx.errors, &[]);
                            let lang = query_language(b, &p, language, self.cx.errors);
                            if let Some(prog) = parse_program(b, &p, lang, self.cx.errors) {
                                branches.push(prog);
                            }
                        }
                        None => self.cx.err(
                            &p,
                            ValidationErrorKind::InvalidType,
                            "a branch must be an object",
                        ),
                    }
                }
            }
            _ => self.err(
                "Branches",
                ValidationErrorKind::MissingField,
                "a Parallel state needs a non-empty Branches array",
            ),
        }
        let parameters = self.template("Parameters");
        let result_selector = self.template("ResultSelector");
        let result_path = self.result_path("ResultPath");
        let errors = self.error_handling();
        Some(ParallelState {
            branches,
            parameters,
            result_selector,
            result_path,
            errors,
        })
    }
}
