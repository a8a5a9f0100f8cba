//! Parameter validation: the JSON Schema first, then serde.
//!
//! A POST body is checked against the job type's JSON Schema (draft 2020-12), and
//! *every* violation is reported with its JSON pointer path. A body that passes is then
//! deserialized into the job struct, which catches what a schema cannot say; the struct
//! is serialized again, so the stored parameters carry their defaults.
//!
//! Every schema zerog publishes, a job type's and the OpenAPI document's, writes a
//! closed set of strings as `enum` (a schemars transform): schemars writes a fieldless
//! enum whose variants have doc comments as a `oneOf` of `const`s, and some client
//! generators read only the first of those.

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::job::Job;
use crate::spec::JobSpec;

/// One way in which parameters break the job type's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Violation {
    /// A JSON pointer to the offending value (`""` for the whole body, `/delay`).
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// Builds the parameter schema of `T`: draft 2020-12, titled with the job's name and
/// described by its description, closed to unknown fields unless the type opts out.
///
/// Called once per type by the code that `#[derive(Job)]` generates.
#[doc(hidden)]
pub fn build_schema<T: Job>() -> Value {
    let spec: &JobSpec = &T::SPEC;
    let schema = SchemaSettings::draft2020_12()
        .with_transform(StringEnums)
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut schema = schema.to_value();
    if let Value::Object(object) = &mut schema {
        object.insert("title".into(), Value::from(spec.name));
        if !spec.description.is_empty() {
            object.insert("description".into(), Value::from(spec.description));
        }
        if !spec.allow_unknown_fields {
            object.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    schema
}

/// Compiles the schema of `T` into a validator. Formats that JSON Schema defines
/// (`email`, `uuid`, `date-time`, `uri`, ...) are checked, as a user of
/// `#[schemars(email)]` expects; others, like schemars' `uint64`, are annotations.
///
/// # Panics
///
/// Panics if the schema that schemars generated is not a valid JSON Schema, which is a
/// bug in a `#[schemars(...)]` attribute of the job type.
#[doc(hidden)]
pub fn build_validator<T: Job>() -> jsonschema::Validator {
    let options = jsonschema::draft202012::options().should_validate_formats(true);
    options.build(T::schema()).unwrap_or_else(|error| {
        panic!(
            "the JSON Schema of job type `{}` does not compile: {error}",
            T::SPEC.job_type
        )
    })
}

/// Validates `params` for `T` and returns them as stored: deserialized, then serialized.
pub(crate) fn validate_params<T: Job>(params: &Value) -> Result<Value, Vec<Violation>> {
    let mut violations: Vec<Violation> = T::validator()
        .iter_errors(params)
        .map(|error| Violation {
            path: error.instance_path().to_string(),
            message: error.to_string(),
        })
        .collect();
    nul_characters(params, &mut String::new(), &mut violations);
    if !violations.is_empty() {
        return Err(violations);
    }
    let mut params = params.clone();
    integral_floats_to_integers(&mut params);
    let job: T = serde_path_to_error::deserialize(&params).map_err(|error| {
        vec![Violation {
            path: json_pointer(error.path()),
            message: error.inner().to_string(),
        }]
    })?;
    serde_json::to_value(&job).map_err(|error| {
        vec![Violation {
            path: String::new(),
            message: format!("parameters do not serialize back: {error}"),
        }]
    })
}

/// Reports every string and key of `value` that holds a NUL character: PostgreSQL
/// cannot keep one in text, so it is refused on every backend alike, with its path.
fn nul_characters(value: &Value, path: &mut String, violations: &mut Vec<Violation>) {
    const MESSAGE: &str = "a NUL character (U+0000) cannot be stored: remove it from the text";
    match value {
        Value::String(text) if text.contains('\0') => violations.push(Violation {
            path: path.clone(),
            message: MESSAGE.to_owned(),
        }),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let length = path.len();
                path.push_str(&format!("/{index}"));
                nul_characters(item, path, violations);
                path.truncate(length);
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                let length = path.len();
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                if key.contains('\0') {
                    violations.push(Violation {
                        path: path.clone(),
                        message: format!("{MESSAGE} (it is in the key)"),
                    });
                }
                nul_characters(field, path, violations);
                path.truncate(length);
            }
        }
        _ => {}
    }
}

/// JSON Schema counts `5.0` as an integer, and serde does not; turning integral floats
/// into integers before deserializing makes the server accept exactly what the schema
/// accepts.
fn integral_floats_to_integers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            let Some(float) = number.as_f64().filter(|_| number.is_f64()) else {
                return;
            };
            if float.fract() != 0.0 {
                return;
            }
            // 2^64 and -2^63: the bounds of u64 and i64, exact in f64.
            if (0.0..18_446_744_073_709_551_616.0).contains(&float) {
                *value = Value::from(float as u64);
            } else if (-9_223_372_036_854_775_808.0..0.0).contains(&float) {
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .fold(String::new(), |pointer, token| pointer + "/" + &token)
}

/// An example body for a parameter schema: every property that has a default, with
/// it, and every other required property with a placeholder of its type.
pub fn example_params(schema: &Value) -> Value {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Value::Object(Default::default());
    };
    let example = properties
        .iter()
        .filter_map(|(name, property)| {
            let value = match property.get("default") {
                Some(default) => default.clone(),
                None if required.contains(&name.as_str()) => placeholder(property),
                None => return None,
            };
            Some((name.clone(), value))
        })
        .collect();
    Value::Object(example)
}

fn placeholder(property: &Value) -> Value {
    let kind = match property.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().find_map(Value::as_str),
        Some(kind) => kind.as_str(),
        None => None,
    };
    match kind {
        Some("integer") | Some("number") => property
            .get("minimum")
            .cloned()
            .unwrap_or_else(|| Value::from(1)),
        Some("string") => Value::from("text"),
        Some("boolean") => Value::Bool(false),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => Value::Object(Default::default()),
        _ => Value::Null,
    }
}

/// Rewrites each `oneOf` or `anyOf` of string `const`s as one `{"type": "string",
/// "enum": [...]}`, moving each value's description into the schema's description as
/// a list, ``- `queued`: Waiting for a worker.``. Alternatives that are not string
/// constants stay, beside one `enum` of the constants.
///
/// Validation is unchanged: a value matches exactly one of distinct constants when it
/// is one of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StringEnums;

impl Transform for StringEnums {
    fn transform(&mut self, schema: &mut Schema) {
        transform_subschemas(self, schema);
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        for key in ["oneOf", "anyOf"] {
            let Some(Value::Array(alternatives)) = object.get_mut(key) else {
                continue;
            };
            let (constants, mut others): (Vec<Value>, Vec<Value>) = std::mem::take(alternatives)
                .into_iter()
                .partition(is_string_constant);
            if constants.is_empty() {
                *alternatives = others;
                continue;
            }
            let values: Vec<&Value> = constants
                .iter()
                .map(|constant| &constant["const"])
                .collect();
            let described = describe_values(&constants);
            if others.is_empty() {
                object.remove(key);
                object.insert("type".into(), json!("string"));
                object.insert("enum".into(), json!(values));
                if !described.is_empty() {
                    let description = match object.get("description").and_then(Value::as_str) {
                        Some(about) => format!("{about}\n\n{described}"),
                        None => described,
                    };
                    object.insert("description".into(), json!(description));
                }
            } else {
                let mut closed = json!({ "type": "string", "enum": values });
                if !described.is_empty() {
                    closed["description"] = json!(described);
                }
                others.insert(0, closed);
                *alternatives = others;
            }
        }
    }
}

/// Whether `alternative` is a string constant, with no keyword but its type, title and
/// description.
fn is_string_constant(alternative: &Value) -> bool {
    let Some(object) = alternative.as_object() else {
        return false;
    };
    let allowed = |key: &String| matches!(key.as_str(), "const" | "type" | "description" | "title");
    object.get("const").is_some_and(Value::is_string)
        && object.get("type").is_none_or(|kind| kind == "string")
        && object.keys().all(allowed)
}

/// ``- `queued`: Waiting for a worker.``, a line for each constant with a description.
fn describe_values(constants: &[Value]) -> String {
    constants
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|constant: &Map<String, Value>| {
            let value = constant.get("const")?.as_str()?;
            let about = constant.get("description")?.as_str()?;
            Some(format!("- `{value}`: {about}"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transformed(schema: Value) -> Value {
        let mut schema = Schema::try_from(schema).unwrap();
        StringEnums.transform(&mut schema);
        schema.to_value()
    }

    #[test]
    fn documented_constants_become_an_enum_with_their_descriptions_listed() {
        let schema = transformed(json!({
            "description": "Where a job is.",
            "oneOf": [
                { "type": "string", "const": "queued", "description": "Waiting." },
                { "type": "string", "const": "done" },
                { "type": "string", "const": "failed", "description": "Ended badly." },
            ],
        }));
        assert_eq!(
            schema,
            json!({
                "description": "Where a job is.\n\n- `queued`: Waiting.\n- `failed`: Ended badly.",
                "type": "string",
                "enum": ["queued", "done", "failed"],
            })
        );
    }

    #[test]
    fn nested_constants_are_found_and_other_alternatives_kept() {
        let schema = transformed(json!({
            "properties": { "size": { "anyOf": [
                { "const": "auto", "description": "Pick one." },
                { "type": "integer" },
            ] } },
            "$defs": { "Flag": { "oneOf": [{ "const": "on" }, { "const": "off" }] } },
        }));
        assert_eq!(
            schema["properties"]["size"],
            json!({ "anyOf": [
                { "type": "string", "enum": ["auto"], "description": "- `auto`: Pick one." },
                { "type": "integer" },
            ] })
        );
        assert_eq!(
            schema["$defs"]["Flag"],
            json!({ "type": "string", "enum": ["on", "off"] })
        );
    }

    #[test]
    fn constants_that_are_not_plain_strings_stay() {
        let untouched = json!({ "oneOf": [
            { "const": 1 },
            { "const": "x", "deprecated": true },
            { "type": "object", "properties": { "kind": { "const": "a" } } },
        ] });
        assert_eq!(transformed(untouched.clone()), untouched);
    }

    #[test]
    fn every_nul_character_is_reported_with_its_path() {
        let mut violations = Vec::new();
        let params =
            json!({"a": "x\u{0}", "b": ["ok", "\u{0}"], "c\u{0}": 1, "d/e": {"f": "\u{0}"}});
        nul_characters(&params, &mut String::new(), &mut violations);
        let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, ["/a", "/b/1", "/c\u{0}", "/d~1e/f"]);
        violations.clear();
        nul_characters(
            &json!({"a": "Zoë", "b": [1, null]}),
            &mut String::new(),
            &mut violations,
        );
        assert!(violations.is_empty());
    }
}
