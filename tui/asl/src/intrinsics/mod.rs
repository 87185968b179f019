//! The 18 intrinsic functions of JSONPath states (`States.Format`, `States.Array`, ...):
//! parsed once at definition load ([`parse`]) and evaluated per use ([`eval`]).

pub mod eval;
pub mod parse;

pub use eval::{PathResolver, evaluate};
pub use parse::{Arg, Call, IntrinsicSyntaxError, looks_like_call, parse_call};

/// An intrinsic function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `States.Format(template, args...)`
    Format,
    /// `States.StringToJson(string)`
    StringToJson,
    /// `States.JsonToString(value)`
    JsonToString,
    /// `States.Array(values...)`
    Array,
    /// `States.ArrayPartition(array, size)`
    ArrayPartition,
    /// `States.ArrayContains(array, value)`
    ArrayContains,
    /// `States.ArrayRange(start, end, step)`
    ArrayRange,
    /// `States.ArrayGetItem(array, index)`
    ArrayGetItem,
    /// `States.ArrayLength(array)`
    ArrayLength,
    /// `States.ArrayUnique(array)`
    ArrayUnique,
    /// `States.Base64Encode(string)`
    Base64Encode,
    /// `States.Base64Decode(string)`
    Base64Decode,
    /// `States.Hash(data, algorithm)`
    Hash,
    /// `States.JsonMerge(a, b, deep)`
    JsonMerge,
    /// `States.MathRandom(start, end[, seed])`
    MathRandom,
    /// `States.MathAdd(a, b)`
    MathAdd,
    /// `States.StringSplit(string, delimiters)`
    StringSplit,
    /// `States.UUID()`
    Uuid,
}

impl Function {
    /// Every function, for documentation and tests.
    pub const ALL: [Function; 18] = [
        Function::Format,
        Function::StringToJson,
        Function::JsonToString,
        Function::Array,
        Function::ArrayPartition,
        Function::ArrayContains,
        Function::ArrayRange,
        Function::ArrayGetItem,
        Function::ArrayLength,
        Function::ArrayUnique,
        Function::Base64Encode,
        Function::Base64Decode,
        Function::Hash,
        Function::JsonMerge,
        Function::MathRandom,
        Function::MathAdd,
        Function::StringSplit,
        Function::Uuid,
    ];

    /// The name as written in a definition.
    pub fn name(self) -> &'static str {
        match self {
            Function::Format => "States.Format",
            Function::StringToJson => "States.StringToJson",
            Function::JsonToString => "States.JsonToString",
            Function::Array => "States.Array",
            Function::ArrayPartition => "States.ArrayPartition",
            Function::ArrayContains => "States.ArrayContains",
            Function::ArrayRange => "States.ArrayRange",
            Function::ArrayGetItem => "States.ArrayGetItem",
            Function::ArrayLength => "States.ArrayLength",
            Function::ArrayUnique => "States.ArrayUnique",
            Function::Base64Encode => "States.Base64Encode",
            Function::Base64Decode => "States.Base64Decode",
            Function::Hash => "States.Hash",
            Function::JsonMerge => "States.JsonMerge",
            Function::MathRandom => "States.MathRandom",
            Function::MathAdd => "States.MathAdd",
            Function::StringSplit => "States.StringSplit",
            Function::Uuid => "States.UUID",
        }
    }

    /// Look a function up by its full name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Check the argument count at parse time.
    pub fn check_arity(self, n: usize) -> Result<(), String> {
        let (min, max) = match self {
            Function::Format => (1, usize::MAX),
            Function::Array => (0, usize::MAX),
            Function::Uuid => (0, 0),
            Function::StringToJson
            | Function::JsonToString
            | Function::ArrayLength
            | Function::ArrayUnique
            | Function::Base64Encode
            | Function::Base64Decode => (1, 1),
            Function::ArrayPartition
            | Function::ArrayContains
            | Function::ArrayGetItem
            | Function::Hash
            | Function::MathAdd
            | Function::StringSplit => (2, 2),
            Function::ArrayRange | Function::JsonMerge => (3, 3),
            Function::MathRandom => (2, 3),
        };
        if n < min || n > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!(
                "{} takes {expected} argument(s), got {n}",
                self.name()
            ));
        }
        Ok(())
    }
}
