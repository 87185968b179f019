//! Parser for intrinsic function calls: `States.Format('x {}', $.a, States.UUID())`.

use std::sync::Arc;

use serde_json::Value;

use super::Function;
use crate::path::Path;

/// One argument of an intrinsic call.
#[derive(Debug, Clone)]
pub enum Arg {
    /// A literal: string, number, boolean or null.
    Literal(Value),
    /// A path into the input (`$`), the context (`$$`) or a variable (`$x`).
    Path(Path),
    /// A nested call.
    Call(Box<Call>),
    /// The literal template of `States.Format`, already split at its `{}` placeholders
    /// (escaped `\{`/`\}` stay literal braces).
    Template(Vec<String>),
}

/// A parsed intrinsic call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Which function.
    pub function: Function,
    /// Its arguments, in order.
    pub args: Vec<Arg>,
    /// The whole expression as written (used in error messages).
    pub text: Arc<str>,
}

/// Why an intrinsic expression is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid intrinsic function call `{text}`: {reason}")]
pub struct IntrinsicSyntaxError {
    /// The expression.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

/// True when a `.$` value is meant as an intrinsic call rather than a path.
pub fn looks_like_call(text: &str) -> bool {
    text.starts_with("States.")
}

/// Parse an intrinsic call expression.
pub fn parse_call(text: &str) -> Result<Call, IntrinsicSyntaxError> {
    let mut p = Parser {
        s: text,
        pos: 0,
        raw_literals: Vec::new(),
    };
    let call = p.call().map_err(|reason| IntrinsicSyntaxError {
        text: text.to_owned(),
        reason,
    })?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(IntrinsicSyntaxError {
            text: text.to_owned(),
            reason: format!("unexpected text after the call: `{}`", &text[p.pos..]),
        });
    }
    Ok(call)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    /// Raw text of the string literals parsed so far in the current call, innermost last.
    raw_literals: Vec<String>,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn call(&mut self) -> Result<Call, String> {
        let start = self.pos;
        let outer_literals = std::mem::take(&mut self.raw_literals);
        self.skip_ws();
        let name_len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .unwrap_or(self.rest().len());
        let name = &self.rest()[..name_len];
        let function = Function::from_name(name)
            .ok_or_else(|| format!("`{name}` is not one of the 18 States.* intrinsic functions"))?;
        self.pos += name_len;
        self.skip_ws();
        if !self.rest().starts_with('(') {
            return Err(format!("expected `(` after {name}"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.rest().starts_with(')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg()?);
                self.skip_ws();
                match self.rest().chars().next() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(format!("expected `,` or `)` in the arguments of {name}")),
                }
            }
        }
        let text = self.s[start..self.pos].trim();
        function.check_arity(args.len())?;
        if function == Function::Format
            && let Some(Arg::Literal(Value::String(_))) = args.first()
        {
            let raw = self.raw_literals.first().cloned().unwrap_or_default();
            args[0] = Arg::Template(split_template(&raw));
        }
        self.raw_literals = outer_literals;
        Ok(Call {
            function,
            args,
            text: Arc::from(text),
        })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with('\'') {
            let (value, raw) = self.string_literal()?;
            self.raw_literals.push(raw);
            return Ok(Arg::Literal(Value::String(value)));
        }
        if rest.starts_with("States.") {
            return self.call().map(|c| Arg::Call(Box::new(c)));
        }
        if rest.starts_with('$') {
            let len = path_len(rest);
            let text = &rest[..len];
            let path = Path::parse(text.trim_end()).map_err(|e| e.to_string())?;
            self.pos += len;
            return Ok(Arg::Path(path));
        }
        let len = rest.find([',', ')']).unwrap_or(rest.len());
        let token = rest[..len].trim();
        self.pos += len;
        match token {
            "true" => Ok(Arg::Literal(Value::Bool(true))),
            "false" => Ok(Arg::Literal(Value::Bool(false))),
            "null" => Ok(Arg::Literal(Value::Null)),
            _ => serde_json::from_str::<Value>(token)
                .ok()
                .filter(Value::is_number)
                .map(Arg::Literal)
                .ok_or_else(|| format!("unsupported argument `{token}`")),
        }
    }

    /// `'...'` with the intrinsic escapes `\'`, `\{`, `\}`, `\\`; any other backslash is
    /// kept as written (AWS passes `\"` through, so JSON inside a literal stays valid).
    /// Returns the unescaped value and the raw text between the quotes.
    fn string_literal(&mut self) -> Result<(String, String), String> {
        let body = &self.rest()[1..];
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\' | '{' | '}'))) => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => return Err("unterminated string literal".into()),
                },
                '\'' => {
                    let raw = body[..i].to_owned();
                    self.pos += 1 + i + 1;
                    return Ok((out, raw));
                }
                c => out.push(c),
            }
        }
        Err("unterminated string literal".into())
    }
}

/// Split a raw Format template at its `{}` placeholders, resolving escapes in the pieces.
fn split_template(raw: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\'' | '\\' | '{' | '}')) => {
                    pieces.last_mut().map(|p| p.push(e)).unwrap_or(())
                }
                Some(e) => {
                    if let Some(p) = pieces.last_mut() {
                        p.push('\\');
                        p.push(e);
                    }
                }
                None => {}
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                pieces.push(String::new());
            }
            c => {
                if let Some(p) = pieces.last_mut() {
                    p.push(c);
                }
            }
        }
    }
    pieces
}

/// Length of a path argument: up to the `,` or `)` that ends it, outside brackets/quotes.
fn path_len(s: &str) -> usize {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' if depth > 0 => quote = Some(c),
            '[' | '(' => depth += 1,
            ']' => depth -= 1,
            ')' if depth > 0 => depth -= 1,
            ',' | ')' if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_calls_and_literals() {
        let call = parse_call(
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(1, -1))",
        )
        .unwrap();
        assert_eq!(call.function, Function::ArrayGetItem);
        assert_eq!(call.args.len(), 2);
        assert!(matches!(&call.args[0], Arg::Call(c) if c.function == Function::StringSplit));
    }

    #[test]
    fn string_literal_escapes() {
        let call = parse_call(r"States.Format('it\'s \{\} {}', 'a\\b')").unwrap();
        match (&call.args[0], &call.args[1]) {
            (Arg::Template(pieces), Arg::Literal(Value::String(b))) => {
                assert_eq!(pieces, &vec!["it's {} ".to_string(), String::new()]);
                assert_eq!(b, r"a\b");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_unknown_functions_and_bad_arity() {
        assert!(parse_call("States.Nope(1)").is_err());
        assert!(parse_call("States.UUID(1)").is_err());
        assert!(parse_call("States.MathAdd(1)").is_err());
        assert!(parse_call("States.Array(1").is_err());
        assert!(parse_call("States.Array(1) x").is_err());
    }
}
