//! Searching jobs by their parameters: the `params` filter of `GET /jobs`.
//!
//! A search is a JSON object that a job's `params` must contain, with the meaning of
//! PostgreSQL's `@>`: every key of the search is in the parameters, an object value
//! is searched the same way inside, a scalar must be equal (numbers by value, `1`
//! equals `1.0`), and an array's elements must each be in the parameters' array at
//! that key. Every backend applies the same [`ParamSearch`]: PostgreSQL with `@>` on
//! an indexed column, SQLite and Redis from its [`conditions`](ParamSearch::conditions),
//! which are the same search flattened to paths.
//!
//! ```
//! use zerog::backend::ParamSearch;
//!
//! let search = ParamSearch::parse(r#"{"delay": 5, "tags": ["fast"]}"#)?;
//! assert_eq!(search.conditions().len(), 2);
//! assert!(ParamSearch::parse("[1]").is_err());
//! # Ok::<(), zerog::backend::SearchError>(())
//! ```

use serde_json::{Map, Value};

/// The longest search accepted, in bytes of JSON.
pub const MAX_SEARCH_BYTES: usize = 4096;

/// The most conditions one search may hold.
pub const MAX_SEARCH_CONDITIONS: usize = 32;

/// The deepest a search may nest objects.
pub const MAX_SEARCH_DEPTH: usize = 8;

/// A checked search of job parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSearch {
    needle: Map<String, Value>,
    conditions: Vec<Condition>,
}

/// One flattened test of a [`ParamSearch`]: the value at `path` inside `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The keys from `params` down to the value tested.
    pub path: Vec<String>,
    /// The test.
    pub test: Test,
}

/// What a [`Condition`] asks of the value at its path.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// It is this scalar (a string, a number, a boolean or null).
    Equals(Value),
    /// It is an array with this scalar among its elements.
    HasElement(Value),
}

/// Why a search was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(String);

impl ParamSearch {
    /// Parses and checks a search given as JSON text.
    ///
    /// # Errors
    ///
    /// [`SearchError`] for text that is not a JSON object, an empty object, array or
    /// nested object (which would match too loosely to mean anything), an array holding
    /// arrays or objects, a key holding `"` or `\`, more than
    /// [`MAX_SEARCH_CONDITIONS`] conditions, deeper than [`MAX_SEARCH_DEPTH`], or
    /// longer than [`MAX_SEARCH_BYTES`].
    pub fn parse(text: &str) -> Result<Self, SearchError> {
        if text.len() > MAX_SEARCH_BYTES {
            return Err(SearchError(format!(
                "a search is at most {MAX_SEARCH_BYTES} bytes of JSON"
            )));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|error| SearchError(format!("a search is a JSON object: {error}")))?;
        let Value::Object(needle) = value else {
            return Err(SearchError(
                "a search is a JSON object of parameter values, such as {\"delay\":5}".into(),
            ));
        };
        let mut conditions = Vec::new();
        flatten(&needle, &mut Vec::new(), &mut conditions)?;
        if conditions.is_empty() {
            return Err(SearchError(
                "a search names at least one parameter value".into(),
            ));
        }
        Ok(ParamSearch { needle, conditions })
    }

    /// The search as a JSON object, for `@>`.
    pub fn as_json(&self) -> Value {
        Value::Object(self.needle.clone())
    }

    /// The search flattened: every condition holds for a job that matches.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Whether `params` holds what the search asks: the rule that every backend's
    /// query follows, for stores that filter in memory and for tests.
    pub fn matches(&self, params: &Value) -> bool {
        self.conditions.iter().all(|condition| {
            let mut value = params;
            for key in &condition.path {
                match value.get(key) {
                    Some(inner) => value = inner,
                    None => return false,
                }
            }
            match &condition.test {
                Test::Equals(wanted) => scalars_equal(value, wanted),
                Test::HasElement(wanted) => value
                    .as_array()
                    .is_some_and(|items| items.iter().any(|item| scalars_equal(item, wanted))),
            }
        })
    }
}

/// Scalars compare as JSON values, numbers by their value.
fn scalars_equal(have: &Value, wanted: &Value) -> bool {
    match (have, wanted) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn flatten(
    object: &Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Condition>,
) -> Result<(), SearchError> {
    if path.len() >= MAX_SEARCH_DEPTH {
        return Err(SearchError(format!(
            "a search nests objects at most {MAX_SEARCH_DEPTH} deep"
        )));
    }
    for (key, value) in object {
        if key.contains(['"', '\\']) {
            return Err(SearchError(format!(
                "the key {key:?} holds a quote or a backslash, which a search cannot name"
            )));
        }
        path.push(key.clone());
        let at = || format!("/{}", path.join("/"));
        match value {
            Value::Object(inner) if inner.is_empty() => {
                return Err(SearchError(format!(
                    "{}: an empty object matches too loosely",
                    at()
                )));
            }
            Value::Object(inner) => flatten(inner, path, out)?,
            Value::Array(items) if items.is_empty() => {
                return Err(SearchError(format!(
                    "{}: an empty array matches too loosely",
                    at()
                )));
            }
            Value::Array(items) => {
                for item in items {
                    if item.is_array() || item.is_object() {
                        return Err(SearchError(format!(
                            "{}: the elements of a searched array are strings, numbers, \
                             booleans or null",
                            at()
                        )));
                    }
                    out.push(Condition {
                        path: path.clone(),
                        test: Test::HasElement(item.clone()),
                    });
                }
            }
            scalar => out.push(Condition {
                path: path.clone(),
                test: Test::Equals(scalar.clone()),
            }),
        }
        path.pop();
        if out.len() > MAX_SEARCH_CONDITIONS {
            return Err(SearchError(format!(
                "a search holds at most {MAX_SEARCH_CONDITIONS} values"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_search_flattens_to_paths() {
        let search = ParamSearch::parse(r#"{"a": {"b": 1}, "c": ["x", true], "d": null}"#).unwrap();
        assert_eq!(
            search.conditions(),
            [
                Condition {
                    path: vec!["a".into(), "b".into()],
                    test: Test::Equals(json!(1)),
                },
                Condition {
                    path: vec!["c".into()],
                    test: Test::HasElement(json!("x")),
                },
                Condition {
                    path: vec!["c".into()],
                    test: Test::HasElement(json!(true)),
                },
                Condition {
                    path: vec!["d".into()],
                    test: Test::Equals(Value::Null),
                },
            ]
        );
    }

    #[test]
    fn matching_follows_containment() {
        let search = ParamSearch::parse(r#"{"delay": 5, "tags": ["b"], "o": {"k": "v"}}"#).unwrap();
        assert!(
            search.matches(&json!({"delay": 5.0, "tags": ["a", "b"], "o": {"k": "v", "z": 1}}))
        );
        assert!(!search.matches(&json!({"delay": "5", "tags": ["b"], "o": {"k": "v"}})));
        assert!(!search.matches(&json!({"delay": 5, "tags": "b", "o": {"k": "v"}})));
        assert!(!search.matches(&json!({"delay": 5, "tags": ["b"]})));
        let flag = ParamSearch::parse(r#"{"flag": true}"#).unwrap();
        assert!(!flag.matches(&json!({"flag": 1})));
    }

    #[test]
    fn loose_or_unreadable_searches_are_refused() {
        for bad in [
            "",
            "5",
            "[1]",
            "{",
            "{}",
            r#"{"a": {}}"#,
            r#"{"a": []}"#,
            r#"{"a": [[1]]}"#,
            r#"{"a": [{"b": 1}]}"#,
            r#"{"a\"b": 1}"#,
        ] {
            assert!(ParamSearch::parse(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}1{}", r#"{"a":"#.repeat(9), "}".repeat(9));
        assert!(ParamSearch::parse(&deep).is_err());
        let many: Map<String, Value> = (0..33).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(ParamSearch::parse(&Value::Object(many).to_string()).is_err());
        assert!(ParamSearch::parse(&format!(r#"{{"a":"{}"}}"#, "x".repeat(5000))).is_err());
    }
}
