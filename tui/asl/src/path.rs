//! JSONPath as Step Functions speaks it, compiled once at parse time.
//!
//! AWS evaluates paths with the Jayway JSONPath library, which differs from RFC 9535 (what
//! `serde_json_path` implements) in ways that are observable in results and errors. The
//! differences handled here, explicitly:
//!
//! 1. **Roots.** `$` is the state input, `$$` the context object, and `$name` a workflow
//!    variable (JSONPath `Assign`). RFC 9535 only knows `$`.
//! 2. **Dotted names.** Jayway accepts any character except `.` and `[` after a dot
//!    (`$.delivery-partner`, `$.sub-values`); RFC 9535 shorthand does not, so every name is
//!    re-emitted in bracket form before handing a path to `serde_json_path`.
//! 3. **Quoted names.** Inside `['...']` Jayway only unescapes `\'`; a backslash before any
//!    other character is kept literally (AWS-recorded: `$['Test\""Name"']` selects the key
//!    `Test\""Name"`).
//! 4. **Definite vs indefinite.** A path made only of names and single indexes is *definite*
//!    and yields one value (a miss is an error). Any wildcard, slice, filter, union or deep
//!    scan makes it *indefinite*: the result is always an array of the matches, possibly
//!    empty, never an error. Definite paths are evaluated natively by borrowing (no clone,
//!    no allocation); only indefinite ones go through `serde_json_path`.
//! 5. **Error text.** A miss on the last step reports `No results for path: $['a']['b']`;
//!    a miss on an intermediate step reports `Missing property in path $['a']` (Jayway's two
//!    messages, which AWS copies into `States.Runtime` causes).
//! 6. **Reference paths** (`ResultPath`) may only use names and indexes of the input (`$`),
//!    see [`ReferencePath`].

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Value;

/// What a path starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRoot {
    /// `$`: the current state input (or result, depending on the field).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(Arc<str>),
}

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object member.
    Name(Arc<str>),
    /// An array element; negative counts from the end (Jayway semantics).
    Index(i64),
}

#[derive(Debug, Clone)]
enum Query {
    Definite(Vec<Step>),
    Indefinite(Box<serde_json_path::JsonPath>),
}

/// A compiled JSONPath expression (AWS dialect).
#[derive(Debug, Clone)]
pub struct Path {
    text: Arc<str>,
    root: PathRoot,
    query: Query,
    /// A trailing JSONPath function (`.length()`, `.max()`...): the service accepts such a
    /// definition and fails when the path is evaluated, so it is kept and refused then.
    function: Option<Arc<str>>,
}

/// A path that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath `{path}`: {reason}")]
pub struct PathSyntaxError {
    /// The path text.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A definite path that selected nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathMiss {
    /// The final step was missing: Jayway's `No results for path: ...`.
    #[error("No results for path: {normalized}")]
    NoResults {
        /// The whole path in bracket notation, e.g. `$['a']['b']`.
        normalized: String,
    },
    /// An intermediate step was missing: Jayway's `Missing property in path ...`.
    #[error("Missing property in path {normalized}")]
    MissingProperty {
        /// The path up to and including the missing step.
        normalized: String,
    },
    /// The path ends in a JSONPath function, which the service does not evaluate.
    #[error("the JSONPath function {function}() is not supported")]
    Function {
        /// The function's name.
        function: String,
    },
}

impl Path {
    /// Compile `text` (which must start with `$`).
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        let err = |reason: &str| PathSyntaxError {
            path: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (root, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (PathRoot::Context, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            let name_len = rest.find(['.', '[']).unwrap_or(rest.len());
            if name_len == 0 {
                (PathRoot::Input, rest)
            } else {
                let name = &rest[..name_len];
                if !is_variable_name(name) {
                    return Err(err("expected `.`, `[` or a variable name after `$`"));
                }
                (PathRoot::Variable(Arc::from(name)), &rest[name_len..])
            }
        } else {
            return Err(err("a path must start with `$`"));
        };
        let (rest, function) = split_function(rest);
        let segments = parse_segments(rest).map_err(|reason| err(&reason))?;
        let query = if segments.iter().all(Segment::is_definite) {
            Query::Definite(
                segments
                    .into_iter()
                    .filter_map(|s| match s {
                        Segment::Name(n) => Some(Step::Name(n)),
                        Segment::Index(i) => Some(Step::Index(i)),
                        _ => None,
                    })
                    .collect(),
            )
        } else {
            let mut rfc = String::from("$");
            for s in &segments {
                s.write_rfc9535(&mut rfc);
            }
            let compiled = serde_json_path::JsonPath::parse(&rfc)
                .map_err(|e| err(&format!("unsupported expression ({e})")))?;
            Query::Indefinite(Box::new(compiled))
        };
        Ok(Self {
            text: Arc::from(text),
            root,
            query,
            function,
        })
    }

    /// The path as written in the definition.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Which root the path reads.
    pub fn root(&self) -> &PathRoot {
        &self.root
    }

    /// True for `$` alone (selects the whole input).
    pub fn is_root_only(&self) -> bool {
        self.root == PathRoot::Input
            && self.function.is_none()
            && matches!(&self.query, Query::Definite(steps) if steps.is_empty())
    }

    /// True when the path yields a single value (no wildcard, slice, filter, deep scan).
    pub fn is_definite(&self) -> bool {
        matches!(self.query, Query::Definite(_))
    }

    /// The steps of a definite path (`None` for indefinite paths).
    pub fn steps(&self) -> Option<&[Step]> {
        match &self.query {
            Query::Definite(steps) => Some(steps),
            Query::Indefinite(_) => None,
        }
    }

    /// Apply the path to the value its root designates. Definite paths borrow; indefinite
    /// paths build the array of matches.
    pub fn select<'v>(&self, root: &'v Value) -> Result<Cow<'v, Value>, PathMiss> {
        if let Some(function) = &self.function {
            return Err(PathMiss::Function {
                function: function.to_string(),
            });
        }
        match &self.query {
            Query::Definite(steps) => select_steps(root, steps).map(Cow::Borrowed),
            Query::Indefinite(path) => Ok(Cow::Owned(Value::Array(
                path.query(root).all().into_iter().cloned().collect(),
            ))),
        }
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn select_steps<'v>(root: &'v Value, steps: &[Step]) -> Result<&'v Value, PathMiss> {
    let mut current = root;
    for (i, step) in steps.iter().enumerate() {
        let next = match (step, current) {
            (Step::Name(name), Value::Object(map)) => map.get(&**name),
            (Step::Index(idx), Value::Array(items)) => {
                let len = items.len() as i64;
                let at = if *idx < 0 { len + idx } else { *idx };
                usize::try_from(at).ok().and_then(|at| items.get(at))
            }
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => {
                let normalized = normalize(&steps[..=i]);
                return Err(if i + 1 == steps.len() {
                    PathMiss::NoResults { normalized }
                } else {
                    PathMiss::MissingProperty { normalized }
                });
            }
        }
    }
    Ok(current)
}

/// Bracket notation of definite steps, as Jayway prints paths in its errors.
pub fn normalize(steps: &[Step]) -> String {
    let mut out = String::from("$");
    for s in steps {
        match s {
            Step::Name(n) => {
                let _ = write!(out, "['{n}']");
            }
            Step::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// A valid variable name: a letter or `_` followed by letters, digits or `_`.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[derive(Debug, Clone)]
enum Segment {
    Name(Arc<str>),
    Index(i64),
    Wildcard,
    /// Raw slice text between the brackets, e.g. `1:5`.
    Slice(String),
    /// Raw union text between the brackets, e.g. `0,2`.
    Union(String),
    /// Raw filter text after `?`, e.g. `(@.status == 0)`.
    Filter(String),
    DeepName(Arc<str>),
    DeepWildcard,
    DeepIndex(i64),
}

impl Segment {
    fn is_definite(&self) -> bool {
        matches!(self, Segment::Name(_) | Segment::Index(_))
    }

    fn write_rfc9535(&self, out: &mut String) {
        let quote = |out: &mut String, name: &str| {
            out.push_str("['");
            for c in name.chars() {
                match c {
                    '\'' => out.push_str("\\'"),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    }
                    c => out.push(c),
                }
            }
            out.push_str("']");
        };
        match self {
            Segment::Name(n) => quote(out, n),
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Segment::Wildcard => out.push_str("[*]"),
            Segment::Slice(s) => {
                let _ = write!(out, "[{s}]");
            }
            Segment::Union(s) => {
                let _ = write!(out, "[{s}]");
            }
            Segment::Filter(f) => {
                let _ = write!(out, "[?{f}]");
            }
            Segment::DeepName(n) => {
                out.push_str("..");
                quote(out, n);
            }
            Segment::DeepWildcard => out.push_str("..[*]"),
            Segment::DeepIndex(i) => {
                let _ = write!(out, "..[{i}]");
            }
        }
    }
}

/// Splits a trailing `.name()` (a JSONPath function call such as `length()`) off the steps.
fn split_function(rest: &str) -> (&str, Option<Arc<str>>) {
    let Some(head) = rest.strip_suffix("()") else {
        return (rest, None);
    };
    match head.rfind('.') {
        Some(dot) if is_variable_name(&head[dot + 1..]) => {
            (&head[..dot], Some(Arc::from(&head[dot + 1..])))
        }
        _ => (rest, None),
    }
}

fn parse_segments(mut rest: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("..") {
            if let Some(after_bracket) = after.strip_prefix('[') {
                let (inner, tail) = split_bracket(after_bracket)?;
                match parse_bracket(inner)? {
                    Segment::Name(n) => segments.push(Segment::DeepName(n)),
                    Segment::Wildcard => segments.push(Segment::DeepWildcard),
                    Segment::Index(i) => segments.push(Segment::DeepIndex(i)),
                    _ => return Err("unsupported selector after `..`".into()),
                }
                rest = tail;
            } else {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err("empty name after `..`".into());
                }
                segments.push(if name == "*" {
                    Segment::DeepWildcard
                } else {
                    Segment::DeepName(Arc::from(name))
                });
                rest = &after[end..];
            }
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() {
                return Err("empty name after `.`".into());
            }
            if name.contains(['(', ')']) {
                return Err(format!("unsupported function or character in `{name}`"));
            }
            segments.push(if name == "*" {
                Segment::Wildcard
            } else {
                Segment::Name(Arc::from(name))
            });
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (inner, tail) = split_bracket(after)?;
            segments.push(parse_bracket(inner)?);
            rest = tail;
        } else {
            return Err(format!("unexpected text `{rest}`"));
        }
    }
    Ok(segments)
}

/// Split `inner]tail` at the closing bracket, honouring quotes and nested parentheses.
fn split_bracket(s: &str) -> Result<(&str, &str), String> {
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' => depth += 1,
            ')' => depth -= 1,
            '[' => depth += 1,
            ']' if depth == 0 => return Ok((&s[..i], &s[i + 1..])),
            ']' => depth -= 1,
            _ => {}
        }
    }
    Err("unterminated `[`".into())
}

fn parse_bracket(inner: &str) -> Result<Segment, String> {
    let t = inner.trim();
    if t == "*" {
        return Ok(Segment::Wildcard);
    }
    if let Some(filter) = t.strip_prefix('?') {
        return Ok(Segment::Filter(filter.trim().to_owned()));
    }
    if let Some(q) = t.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let body = &t[1..];
        let Some(end) = find_closing_quote(body, q) else {
            return Err("unterminated quoted name".into());
        };
        if body[end + 1..].trim().is_empty() {
            // Jayway only unescapes the quote character itself.
            let name = body[..end].replace(&format!("\\{q}"), &q.to_string());
            return Ok(Segment::Name(Arc::from(name)));
        }
        return Err("unions of names are not supported".into());
    }
    if t.contains(':') {
        let ok = t
            .split(':')
            .all(|p| p.trim().is_empty() || p.trim().parse::<i64>().is_ok());
        return if ok && t.split(':').count() <= 3 {
            Ok(Segment::Slice(t.to_owned()))
        } else {
            Err(format!("invalid slice `{t}`"))
        };
    }
    if t.contains(',') {
        return if t.split(',').all(|p| p.trim().parse::<i64>().is_ok()) {
            Ok(Segment::Union(t.to_owned()))
        } else {
            Err(format!("invalid union `{t}`"))
        };
    }
    t.parse::<i64>()
        .map(Segment::Index)
        .map_err(|_| format!("invalid selector `[{inner}]`"))
}

fn find_closing_quote(body: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == q {
            return Some(i);
        }
    }
    None
}

/// A `ResultPath`: where in the state input a result is placed.
///
/// Reference paths may only address a single node of the input with names and indexes
/// (`$`, `$.a.b`, `$.a[0]`), never `$$`, variables, wildcards, slices or filters.
#[derive(Debug, Clone)]
pub struct ReferencePath {
    text: Arc<str>,
    steps: Vec<Step>,
}

impl ReferencePath {
    /// Compile a reference path.
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        let path = Path::parse(text)?;
        let err = |reason: &str| PathSyntaxError {
            path: text.to_owned(),
            reason: reason.to_owned(),
        };
        if path.root != PathRoot::Input {
            return Err(err("a reference path must start with `$.` or be `$`"));
        }
        if path.function.is_some() {
            return Err(err("a reference path cannot call a function"));
        }
        match path.query {
            Query::Definite(steps) => Ok(Self {
                text: path.text,
                steps,
            }),
            Query::Indefinite(_) => Err(err(
                "a reference path may only use names and indexes (no wildcards, slices, filters or `..`)",
            )),
        }
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Place `result` into `input` at this path, creating the objects that are missing on
    /// the way, and return the combined value. `$` replaces the input entirely.
    ///
    /// A name step on a value that is there but is not an object (the input `5` for
    /// `$.x`, a string at `$.a` for `$.a.b`) cannot be applied: the States Language's
    /// `States.ResultPathMatchFailure` ([`PlaceError::NotAnObject`]).
    pub fn place(&self, input: Value, result: Value) -> Result<Value, PlaceError> {
        if self.steps.is_empty() {
            return Ok(result);
        }
        let mut root = input;
        let mut slot = &mut root;
        for (i, step) in self.steps.iter().enumerate() {
            let last = i + 1 == self.steps.len();
            match step {
                Step::Name(name) => {
                    let map = match slot {
                        Value::Object(map) => map,
                        other => {
                            return Err(PlaceError::NotAnObject {
                                normalized: normalize(&self.steps[..i]),
                                found: json_type(other),
                            });
                        }
                    };
                    if last {
                        map.insert(name.to_string(), result);
                        return Ok(root);
                    }
                    slot = map
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Object(serde_json::Map::new()));
                }
                Step::Index(idx) => {
                    let normalized = normalize(&self.steps[..=i]);
                    let Value::Array(items) = slot else {
                        return Err(PlaceError::Missing(PathMiss::MissingProperty {
                            normalized,
                        }));
                    };
                    let len = items.len() as i64;
                    let at = if *idx < 0 { len + idx } else { *idx };
                    let Some(item) = usize::try_from(at).ok().and_then(|at| items.get_mut(at))
                    else {
                        return Err(PlaceError::Missing(PathMiss::MissingProperty {
                            normalized,
                        }));
                    };
                    if last {
                        *item = result;
                        return Ok(root);
                    }
                    slot = item;
                }
            }
        }
        Ok(root)
    }
}

/// Why a ResultPath could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// A name step met a value that is not an object.
    #[error("the value at {normalized} is {found}, not an object")]
    NotAnObject {
        /// The path up to that value.
        normalized: String,
        /// Its JSON type.
        found: &'static str,
    },
    /// An index step found no array element.
    #[error(transparent)]
    Missing(PathMiss),
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, v: &Value) -> Result<Value, PathMiss> {
        Path::parse(path).unwrap().select(v).map(Cow::into_owned)
    }

    #[test]
    fn roots_are_recognised() {
        assert_eq!(Path::parse("$").unwrap().root(), &PathRoot::Input);
        assert_eq!(
            Path::parse("$$.Execution").unwrap().root(),
            &PathRoot::Context
        );
        assert_eq!(
            Path::parse("$answer.x").unwrap().root(),
            &PathRoot::Variable(Arc::from("answer"))
        );
        assert!(Path::parse("a.b").is_err());
        assert!(Path::parse("$9a").is_err());
    }

    #[test]
    fn definite_paths_borrow_and_dashes_are_names() {
        let v = json!({"delivery-partner": {"a": [1, 2, 3]}});
        assert_eq!(sel("$.delivery-partner.a[1]", &v).unwrap(), json!(2));
        assert_eq!(sel("$.delivery-partner.a[-1]", &v).unwrap(), json!(3));
        assert_eq!(
            sel("$['delivery-partner']", &v).unwrap(),
            json!({"a": [1, 2, 3]})
        );
        assert!(Path::parse("$.a.b").unwrap().is_definite());
    }

    #[test]
    fn misses_use_jaywayish_messages() {
        let v = json!({"a": {}});
        assert_eq!(
            sel("$.a.b", &v).unwrap_err().to_string(),
            "No results for path: $['a']['b']"
        );
        assert_eq!(
            sel("$.no.such.path", &v).unwrap_err().to_string(),
            "Missing property in path $['no']"
        );
    }

    #[test]
    fn indefinite_paths_return_arrays() {
        let v = json!({"items": [{"x": 1}, {"x": 2}, {"x": 3}], "users": [{"status": 0, "n": "a"}, {"status": 1, "n": "b"}]});
        assert_eq!(sel("$.items[*].x", &v).unwrap(), json!([1, 2, 3]));
        assert_eq!(sel("$.items[1:].x", &v).unwrap(), json!([2, 3]));
        assert_eq!(sel("$.items[:1]", &v).unwrap(), json!([{"x": 1}]));
        assert_eq!(sel("$.nothing[*]", &v).unwrap(), json!([]));
        assert_eq!(
            sel("$.users[?(@.status == 0)]", &v).unwrap(),
            json!([{"status": 0, "n": "a"}])
        );
        assert_eq!(sel("$..x", &v).unwrap(), json!([1, 2, 3]));
    }

    #[test]
    fn quoted_names_keep_backslashes_like_jayway() {
        let v = json!({"Test\\\"\"Name\"": "ok"});
        assert_eq!(sel("$['Test\\\"\"Name\"']", &v).unwrap(), json!("ok"));
    }

    #[test]
    fn reference_paths_place_results() {
        let p = ReferencePath::parse("$.a.b").unwrap();
        assert_eq!(
            p.place(json!({"x": 1}), json!(5)).unwrap(),
            json!({"x": 1, "a": {"b": 5}})
        );
        assert_eq!(
            ReferencePath::parse("$")
                .unwrap()
                .place(json!({"x": 1}), json!([1]))
                .unwrap(),
            json!([1])
        );
        // A value in the way that is not an object cannot take the result
        // (States.ResultPathMatchFailure), nor can an input that is not an object.
        assert_eq!(
            p.place(json!({"a": 3}), json!(true)),
            Err(PlaceError::NotAnObject {
                normalized: "$['a']".into(),
                found: "a number"
            })
        );
        assert!(matches!(
            ReferencePath::parse("$.x")
                .unwrap()
                .place(json!(5), json!(1)),
            Err(PlaceError::NotAnObject { .. })
        ));
        assert!(ReferencePath::parse("$.a[*]").is_err());
        assert!(ReferencePath::parse("$$.Execution").is_err());
        assert!(ReferencePath::parse("$var").is_err());
    }
}
