//! JSON written by hand, so a generated callback's text varies the way senders' JSON does (key
//! order, `null` for an absent field, pretty or compact, `\uXXXX` escapes for every non-ASCII
//! character, `\/`) without going through the serde code under test.

use std::fmt::Write;

use proptest::prelude::*;
use serde_json::Value;

/// A JSON value whose object keys keep their order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// A number, `true`, `false` or `null`, as written.
    Literal(String),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// How the text is laid out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub pretty: bool,
    /// Every non-ASCII character as `\uXXXX` (UTF-16 surrogate pairs outside the BMP), and `/`
    /// as `\/`, as some JSON writers do.
    pub escape_non_ascii: bool,
}

pub fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), any::<bool>()).prop_map(|(pretty, escape_non_ascii)| Style {
        pretty,
        escape_non_ascii,
    })
}

impl Json {
    pub fn str(text: &str) -> Self {
        Json::Str(text.to_owned())
    }

    pub fn number(number: impl ToString) -> Self {
        Json::Literal(number.to_string())
    }

    pub fn from_value(value: &Value) -> Self {
        match value {
            Value::String(text) => Json::str(text),
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), Json::from_value(v))).collect()),
            literal => Json::Literal(literal.to_string()),
        }
    }

    pub fn render(&self, style: Style) -> String {
        let mut out = String::new();
        self.write(&mut out, style, 0);
        out
    }

    fn write(&self, out: &mut String, style: Style, depth: usize) {
        let newline = |out: &mut String, depth: usize| {
            if style.pretty {
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
            }
        };
        match self {
            Json::Literal(text) => out.push_str(text),
            Json::Str(text) => write_string(out, text, style),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write(out, style, depth + 1);
                }
                if !items.is_empty() {
                    newline(out, depth);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    write_string(out, key, style);
                    out.push_str(if style.pretty { ": " } else { ":" });
                    value.write(out, style, depth + 1);
                }
                if !entries.is_empty() {
                    newline(out, depth);
                }
                out.push('}');
            }
        }
    }

    /// Replaces the `n`-th value inside objects and arrays (depth first, modulo their number).
    pub fn replace_nth(&mut self, n: usize, with: Json) {
        let count = self.inner_values();
        if count > 0 {
            let mut n = n % count;
            self.replace(&mut n, &with);
        }
    }

    fn inner_values(&self) -> usize {
        match self {
            Json::Array(items) => items.iter().map(|v| 1 + v.inner_values()).sum(),
            Json::Object(entries) => entries.iter().map(|(_, v)| 1 + v.inner_values()).sum(),
            _ => 0,
        }
    }

    fn replace(&mut self, n: &mut usize, with: &Json) -> bool {
        let children: Vec<&mut Json> = match self {
            Json::Array(items) => items.iter_mut().collect(),
            Json::Object(entries) => entries.iter_mut().map(|(_, v)| v).collect(),
            _ => return false,
        };
        for child in children {
            if *n == 0 {
                *child = with.clone();
                return true;
            }
            *n -= 1;
            if child.replace(n, with) {
                return true;
            }
        }
        false
    }
}

fn write_string(out: &mut String, text: &str, style: Style) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).expect("writing to a String"),
            '/' if style.escape_non_ascii => out.push_str("\\/"),
            c if style.escape_non_ascii && !c.is_ascii() => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(out, "\\u{unit:04X}").expect("writing to a String");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Any JSON value (numbers of every kind, nested up to a few levels).
pub fn arbitrary_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        super::text::any_text(12).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(super::text::any_text(6), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}
