//! Choice states: the rules (compiled by `crate::choice_rules`) and the default.

use serde_json::Value;

use super::super::*;
use super::fields::Fields;

impl Fields<'_, '_> {
    pub(super) fn choice(&mut self) -> Option<ChoiceState> {
        let mut choices = Vec::new();
        match self.obj.get("Choices").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => {
                let base = self.at("Choices");
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{base}/{i}");
                    let Some(rule) = item.as_object() else {
                        self.cx.err(
                            &p,
                            ValidationErrorKind::InvalidType,
                            "a Choice rule must be an object",
                        );
                        continue;
                    };
                    let jsonata_condition = if self.language == QueryLanguage::Jsonata {
                        match rule.get("Condition") {
                            Some(c) => Some(JTemplate::compile(
                                c,
                                &format!("{p}/Condition"),
                                self.cx.errors,
                            )),
                            None => {
                                self.cx.err(
                                    &format!("{p}/Condition"),
                                    ValidationErrorKind::MissingField,
                                    "a JSONata Choice rule needs Condition",
                                );
                                continue;
                            }
                        }
                    } else {
                        None
                    };
                    let condition = if jsonata_condition.is_some() {
                        Some(crate::choice_rules::Condition::And(Vec::new()))
                    } else {
                        crate::choice_rules::Condition::compile(rule, &p, true, self.cx.errors)
                    };
                    let jsonata_assign = rule
                        .get("Assign")
                        .filter(|_| self.language == QueryLanguage::Jsonata)
                        .map(|v| JTemplate::compile(v, &format!("{p}/Assign"), self.cx.errors));
                    let jsonata_output = rule
                        .get("Output")
                        .filter(|_| self.language == QueryLanguage::Jsonata)
                        .map(|v| JTemplate::compile(v, &format!("{p}/Output"), self.cx.errors));
                    let next = match rule.get("Next") {
                        Some(n) => self.cx.target(n, &format!("{p}/Next")),
                        None => {
                            self.cx.err(
                                &format!("{p}/Next"),
                                ValidationErrorKind::MissingField,
                                "a Choice rule needs Next",
                            );
                            None
                        }
                    };
                    let assign = rule
                        .get("Assign")
                        .filter(|_| self.language == QueryLanguage::JsonPath)
                        .map(|v| Template::compile(v, &format!("{p}/Assign"), self.cx.errors));
                    if let (Some(condition), Some(next)) = (condition, next) {
                        choices.push(ChoiceRule {
                            condition,
                            next,
                            assign,
                            jsonata_condition,
                            jsonata_assign,
                            jsonata_output,
                        });
                    }
                }
            }
            _ => self.err(
                "Choices",
                ValidationErrorKind::MissingField,
                "a Choice state needs a non-empty Choices array",
            ),
        }
        let default = match self.obj.get("Default") {
            Some(d) => {
                let p = self.at("Default");
                self.cx.target(d, &p)
            }
            None => None,
        };
        Some(ChoiceState { choices, default })
    }
}
