//! Choice rules: every comparison operator, their `*Path` variants, `And`/`Or`/`Not` and
//! the `Is*` type tests, compiled once and evaluated against the state input.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::diagnostics::{ValidationError, ValidationErrorKind};
use crate::error::Failure;
use crate::path::{Path, PathMiss};
use crate::scope::PathResolver;
use crate::timestamp;

/// A comparison operator (without its `Path` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `StringEquals`
    StringEquals,
    /// `StringLessThan`
    StringLessThan,
    /// `StringGreaterThan`
    StringGreaterThan,
    /// `StringLessThanEquals`
    StringLessThanEquals,
    /// `StringGreaterThanEquals`
    StringGreaterThanEquals,
    /// `StringMatches` (glob with `*`)
    StringMatches,
    /// `NumericEquals`
    NumericEquals,
    /// `NumericLessThan`
    NumericLessThan,
    /// `NumericGreaterThan`
    NumericGreaterThan,
    /// `NumericLessThanEquals`
    NumericLessThanEquals,
    /// `NumericGreaterThanEquals`
    NumericGreaterThanEquals,
    /// `BooleanEquals`
    BooleanEquals,
    /// `TimestampEquals`
    TimestampEquals,
    /// `TimestampLessThan`
    TimestampLessThan,
    /// `TimestampGreaterThan`
    TimestampGreaterThan,
    /// `TimestampLessThanEquals`
    TimestampLessThanEquals,
    /// `TimestampGreaterThanEquals`
    TimestampGreaterThanEquals,
    /// `IsNull`
    IsNull,
    /// `IsPresent`
    IsPresent,
    /// `IsNumeric`
    IsNumeric,
    /// `IsString`
    IsString,
    /// `IsBoolean`
    IsBoolean,
    /// `IsTimestamp`
    IsTimestamp,
}

const OPS: [(&str, Op); 23] = [
    ("StringEquals", Op::StringEquals),
    ("StringLessThan", Op::StringLessThan),
    ("StringGreaterThan", Op::StringGreaterThan),
    ("StringLessThanEquals", Op::StringLessThanEquals),
    ("StringGreaterThanEquals", Op::StringGreaterThanEquals),
    ("StringMatches", Op::StringMatches),
    ("NumericEquals", Op::NumericEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("BooleanEquals", Op::BooleanEquals),
    ("TimestampEquals", Op::TimestampEquals),
    ("TimestampLessThan", Op::TimestampLessThan),
    ("TimestampGreaterThan", Op::TimestampGreaterThan),
    ("TimestampLessThanEquals", Op::TimestampLessThanEquals),
    ("TimestampGreaterThanEquals", Op::TimestampGreaterThanEquals),
    ("IsNull", Op::IsNull),
    ("IsPresent", Op::IsPresent),
    ("IsNumeric", Op::IsNumeric),
    ("IsString", Op::IsString),
    ("IsBoolean", Op::IsBoolean),
    ("IsTimestamp", Op::IsTimestamp),
];

impl Op {
    fn is_type_test(self) -> bool {
        matches!(
            self,
            Op::IsNull
                | Op::IsPresent
                | Op::IsNumeric
                | Op::IsString
                | Op::IsBoolean
                | Op::IsTimestamp
        )
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub enum Operand {
    /// A literal from the definition.
    Literal(Value),
    /// A `*Path` operator's path.
    Path(Path),
}

/// A compiled Choice rule condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// All must hold.
    And(Vec<Condition>),
    /// Any must hold.
    Or(Vec<Condition>),
    /// Negation.
    Not(Box<Condition>),
    /// `Variable` compared with an operand.
    Test {
        /// The path of the value under test.
        variable: Path,
        /// The operator.
        op: Op,
        /// The operand (for `Is*` tests, the expected boolean).
        operand: Operand,
    },
}

impl Condition {
    /// Compile a rule object (the `Next` and `Assign` keys are the caller's business).
    pub fn compile(
        rule: &Map<String, Value>,
        pointer: &str,
        top_level: bool,
        errors: &mut Vec<ValidationError>,
    ) -> Option<Condition> {
        let mut found: Vec<(&str, &Value)> = Vec::new();
        for (k, v) in rule {
            let is_operator = matches!(k.as_str(), "And" | "Or" | "Not")
                || OPS
                    .iter()
                    .any(|(name, _)| k == name || k.strip_suffix("Path") == Some(*name));
            if is_operator {
                found.push((k, v));
            } else if !(matches!(k.as_str(), "Variable" | "Comment")
                || top_level && matches!(k.as_str(), "Next" | "Assign" | "Output"))
            {
                errors.push(ValidationError::new(
                    &format!("{pointer}/{k}"),
                    ValidationErrorKind::UnknownField,
                    format!("`{k}` is not a field of a Choice rule"),
                ));
            }
        }
        let [(key, value)] = found.as_slice() else {
            errors.push(ValidationError::new(
                pointer,
                ValidationErrorKind::InvalidValue,
                format!(
                    "a Choice rule needs exactly one comparison operator or And/Or/Not, found {}",
                    found.len()
                ),
            ));
            return None;
        };
        let ptr = format!("{pointer}/{key}");
        match *key {
            "And" | "Or" => {
                let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
                    errors.push(ValidationError::new(
                        &ptr,
                        ValidationErrorKind::InvalidType,
                        format!("`{key}` must be a non-empty array of rules"),
                    ));
                    return None;
                };
                let mut conds = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{ptr}/{i}");
                    match item.as_object() {
                        Some(obj) => conds.extend(Condition::compile(obj, &p, false, errors)),
                        None => errors.push(ValidationError::new(
                            &p,
                            ValidationErrorKind::InvalidType,
                            "a rule must be an object",
                        )),
                    }
                }
                Some(if *key == "And" {
                    Condition::And(conds)
                } else {
                    Condition::Or(conds)
                })
            }
            "Not" => match value.as_object() {
                Some(obj) => Condition::compile(obj, &ptr, false, errors)
                    .map(|c| Condition::Not(Box::new(c))),
                None => {
                    errors.push(ValidationError::new(
                        &ptr,
                        ValidationErrorKind::InvalidType,
                        "`Not` must be a rule object",
                    ));
                    None
                }
            },
            name => {
                let variable = match rule.get("Variable").and_then(Value::as_str) {
                    Some(v) => match Path::parse(v) {
                        Ok(p) => p,
                        Err(e) => {
                            errors.push(ValidationError::new(
                                &format!("{pointer}/Variable"),
                                ValidationErrorKind::InvalidPath,
                                e.to_string(),
                            ));
                            return None;
                        }
                    },
                    None => {
                        errors.push(ValidationError::new(
                            &format!("{pointer}/Variable"),
                            ValidationErrorKind::MissingField,
                            format!("`{name}` needs a `Variable` path"),
                        ));
                        return None;
                    }
                };
                let (op_name, is_path) = match name.strip_suffix("Path") {
                    Some(base) if OPS.iter().any(|(n, _)| *n == base) => (base, true),
                    _ => (name, false),
                };
                let op = OPS.iter().find(|(n, _)| *n == op_name).map(|(_, op)| *op)?;
                let operand = if is_path {
                    if op.is_type_test() {
                        errors.push(ValidationError::new(
                            &ptr,
                            ValidationErrorKind::UnknownField,
                            format!("`{name}` is not an operator"),
                        ));
                        return None;
                    }
                    match value.as_str().map(Path::parse) {
                        Some(Ok(p)) => Operand::Path(p),
                        Some(Err(e)) => {
                            errors.push(ValidationError::new(
                                &ptr,
                                ValidationErrorKind::InvalidPath,
                                e.to_string(),
                            ));
                            return None;
                        }
                        None => {
                            errors.push(ValidationError::new(
                                &ptr,
                                ValidationErrorKind::InvalidType,
                                format!("`{name}` must be a path string"),
                            ));
                            return None;
                        }
                    }
                } else {
                    let ok = match op {
                        Op::StringEquals
                        | Op::StringLessThan
                        | Op::StringGreaterThan
                        | Op::StringLessThanEquals
                        | Op::StringGreaterThanEquals
                        | Op::StringMatches => value.is_string(),
                        Op::NumericEquals
                        | Op::NumericLessThan
                        | Op::NumericGreaterThan
                        | Op::NumericLessThanEquals
                        | Op::NumericGreaterThanEquals => value.is_number(),
                        Op::TimestampEquals
                        | Op::TimestampLessThan
                        | Op::TimestampGreaterThan
                        | Op::TimestampLessThanEquals
                        | Op::TimestampGreaterThanEquals => {
                            value.as_str().and_then(timestamp::parse).is_some()
                        }
                        _ => value.is_boolean(),
                    };
                    if !ok {
                        errors.push(ValidationError::new(
                            &ptr,
                            ValidationErrorKind::InvalidType,
                            format!("`{name}` has an operand of the wrong type: {value}"),
                        ));
                        return None;
                    }
                    Operand::Literal((*value).clone())
                };
                Some(Condition::Test {
                    variable,
                    op,
                    operand,
                })
            }
        }
    }

    /// Evaluate against the current data.
    pub fn evaluate(&self, scope: &(impl PathResolver + ?Sized)) -> Result<bool, Failure> {
        match self {
            Condition::And(items) => {
                for c in items {
                    if !c.evaluate(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(items) => {
                for c in items {
                    if c.evaluate(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(c) => Ok(!c.evaluate(scope)?),
            Condition::Test {
                variable,
                op,
                operand,
            } => {
                let value = match scope.resolve(variable) {
                    Ok(v) => Some(v),
                    Err(_) if *op == Op::IsPresent => None,
                    Err(miss) => return Err(invalid_path(variable, &miss)),
                };
                let operand_value = match operand {
                    Operand::Literal(v) => std::borrow::Cow::Borrowed(v),
                    Operand::Path(p) => scope.resolve(p).map_err(|miss| invalid_path(p, &miss))?,
                };
                Ok(test(*op, value.as_deref(), &operand_value))
            }
        }
    }
}

fn invalid_path(path: &Path, miss: &PathMiss) -> Failure {
    Failure::runtime(format!("Invalid path '{}' : {miss}", path.text()))
}

fn test(op: Op, value: Option<&Value>, operand: &Value) -> bool {
    let expect = operand.as_bool().unwrap_or(false);
    let Some(value) = value else {
        // Only IsPresent reaches here with a missing value.
        return !expect;
    };
    match op {
        Op::IsPresent => expect,
        Op::IsNull => value.is_null() == expect,
        Op::IsNumeric => value.is_number() == expect,
        Op::IsString => value.is_string() == expect,
        Op::IsBoolean => value.is_boolean() == expect,
        Op::IsTimestamp => value.as_str().and_then(timestamp::parse).is_some() == expect,
        Op::BooleanEquals => matches!((value, operand), (Value::Bool(a), Value::Bool(b)) if a == b),
        Op::StringMatches => match (value, operand) {
            (Value::String(s), Value::String(pattern)) => glob_matches(pattern, s),
            _ => false,
        },
        Op::StringEquals
        | Op::StringLessThan
        | Op::StringGreaterThan
        | Op::StringLessThanEquals
        | Op::StringGreaterThanEquals => match (value, operand) {
            (Value::String(a), Value::String(b)) => ordering_holds(op, a.as_str().cmp(b.as_str())),
            _ => false,
        },
        Op::NumericEquals
        | Op::NumericLessThan
        | Op::NumericGreaterThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThanEquals => match (value.as_f64(), operand.as_f64()) {
            (Some(a), Some(b)) if value.is_number() => {
                a.partial_cmp(&b).is_some_and(|o| ordering_holds(op, o))
            }
            _ => false,
        },
        Op::TimestampEquals
        | Op::TimestampLessThan
        | Op::TimestampGreaterThan
        | Op::TimestampLessThanEquals
        | Op::TimestampGreaterThanEquals => {
            match (
                value.as_str().and_then(timestamp::parse),
                operand.as_str().and_then(timestamp::parse),
            ) {
                (Some(a), Some(b)) => ordering_holds(op, a.cmp(&b)),
                _ => false,
            }
        }
    }
}

fn ordering_holds(op: Op, o: Ordering) -> bool {
    match op {
        Op::StringEquals | Op::NumericEquals | Op::TimestampEquals => o == Ordering::Equal,
        Op::StringLessThan | Op::NumericLessThan | Op::TimestampLessThan => o == Ordering::Less,
        Op::StringGreaterThan | Op::NumericGreaterThan | Op::TimestampGreaterThan => {
            o == Ordering::Greater
        }
        Op::StringLessThanEquals | Op::NumericLessThanEquals | Op::TimestampLessThanEquals => {
            o != Ordering::Greater
        }
        _ => o != Ordering::Less,
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
fn glob_matches(pattern: &str, s: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => toks.push(Tok::Ch(chars.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let text: Vec<char> = s.chars().collect();
    // Classic greedy wildcard matching with backtracking to the last star.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Ch(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| *t == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ValueResolver;
    use serde_json::json;

    fn eval(rule: Value, input: Value) -> Result<bool, Failure> {
        let mut errors = Vec::new();
        let cond = Condition::compile(rule.as_object().unwrap(), "/c", true, &mut errors)
            .unwrap_or_else(|| panic!("{errors:?}"));
        cond.evaluate(&ValueResolver {
            input: &input,
            context: None,
        })
    }

    #[test]
    fn string_numeric_boolean_and_timestamp_operators() {
        let input = json!({"s": "b", "n": 5, "b": true, "t": "2024-01-01T00:00:00Z", "t2": "2024-01-02T00:00:00Z"});
        let cases = [
            (json!({"Variable": "$.s", "StringEquals": "b"}), true),
            (json!({"Variable": "$.s", "StringLessThan": "c"}), true),
            (
                json!({"Variable": "$.s", "StringGreaterThanEquals": "c"}),
                false,
            ),
            (json!({"Variable": "$.n", "NumericEquals": 5.0}), true),
            (json!({"Variable": "$.n", "NumericGreaterThan": 4}), true),
            (
                json!({"Variable": "$.n", "NumericLessThanEquals": 4}),
                false,
            ),
            (json!({"Variable": "$.s", "NumericEquals": 5}), false),
            (json!({"Variable": "$.b", "BooleanEquals": true}), true),
            (
                json!({"Variable": "$.t", "TimestampLessThan": "2024-01-01T00:00:01Z"}),
                true,
            ),
            (
                json!({"Variable": "$.t", "TimestampLessThanPath": "$.t2"}),
                true,
            ),
            (json!({"Variable": "$.n", "NumericEqualsPath": "$.n"}), true),
            (json!({"Variable": "$.s", "StringEqualsPath": "$.s"}), true),
        ];
        for (rule, want) in cases {
            assert_eq!(eval(rule.clone(), input.clone()).unwrap(), want, "{rule}");
        }
    }

    #[test]
    fn type_tests_and_presence() {
        let input = json!({"x": null, "n": 1, "t": "2024-01-01T00:00:00Z"});
        assert!(eval(json!({"Variable": "$.x", "IsNull": true}), input.clone()).unwrap());
        assert!(
            eval(
                json!({"Variable": "$.nope", "IsPresent": false}),
                input.clone()
            )
            .unwrap()
        );
        assert!(
            !eval(
                json!({"Variable": "$.nope", "IsPresent": true}),
                input.clone()
            )
            .unwrap()
        );
        assert!(eval(json!({"Variable": "$.n", "IsNumeric": true}), input.clone()).unwrap());
        assert!(
            eval(
                json!({"Variable": "$.t", "IsTimestamp": true}),
                input.clone()
            )
            .unwrap()
        );
        assert!(eval(json!({"Variable": "$.n", "IsString": false}), input.clone()).unwrap());
        assert!(eval(json!({"Variable": "$.x", "IsBoolean": false}), input).unwrap());
    }

    #[test]
    fn boolean_combinators() {
        let input = json!({"a": 1, "b": "x"});
        let rule = json!({"And": [
            {"Variable": "$.a", "NumericEquals": 1},
            {"Or": [{"Variable": "$.b", "StringEquals": "y"}, {"Not": {"Variable": "$.b", "StringEquals": "z"}}]}
        ]});
        assert!(eval(rule, input).unwrap());
    }

    #[test]
    fn a_missing_variable_is_a_runtime_error() {
        let err = eval(
            json!({"Variable": "$.nope", "StringEquals": "x"}),
            json!({}),
        )
        .unwrap_err();
        assert_eq!(err.error.as_deref(), Some("States.Runtime"));
    }

    #[test]
    fn glob_matching() {
        assert!(glob_matches("log-*.txt", "log-2024.txt"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b", "acd"));
        assert!(glob_matches(r"a\*b", "a*b"));
        assert!(!glob_matches(r"a\*b", "axb"));
    }

    #[test]
    fn invalid_rules_are_reported() {
        let mut errors = Vec::new();
        let rule = json!({"Variable": "$.a", "StringEquals": 3, "Next": "x"});
        assert!(Condition::compile(rule.as_object().unwrap(), "/r", true, &mut errors).is_none());
        assert_eq!(errors[0].pointer, "/r/StringEquals");
        errors.clear();
        let rule = json!({"Variable": "$.a", "StringEquals": "a", "NumericEquals": 1});
        assert!(Condition::compile(rule.as_object().unwrap(), "/r", true, &mut errors).is_none());
        assert_eq!(errors[0].pointer, "/r");
    }
}
