//! Parameter validation: every violation is listed with its JSON path, the server
//! accepts what the schema accepts, and stored parameters carry their defaults.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zerog::validate::Violation;
use zerog::{Job, JobContext, JobError, Outcome, Registry};

/// Sends a report somewhere.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "send_report")]
pub struct SendReport {
    /// Who gets it.
    #[schemars(length(min = 1))]
    pub recipient: String,
    /// How many copies.
    #[schemars(range(min = 1, max = 10))]
    pub copies: u32,
    /// Where it is delivered.
    pub address: Address,
    /// Labels to put on it.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Whether to rush it.
    #[serde(default = "yes")]
    pub urgent: bool,
}

fn yes() -> bool {
    true
}

/// A postal address.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// The street.
    pub street: String,
    /// The postcode.
    pub postcode: u32,
}

impl zerog::Run for SendReport {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

/// Takes anything.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "lenient", allow_unknown_fields)]
pub struct Lenient {
    /// The one known field.
    #[serde(default)]
    pub known: u8,
}

impl zerog::Run for Lenient {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

fn validate<T: Job>(params: Value) -> Result<Value, Vec<Violation>> {
    let registry = Registry::new().register::<T>();
    registry.get(T::SPEC.job_type).unwrap().validate(&params)
}

fn paths(violations: &[Violation]) -> Vec<&str> {
    let mut paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
    paths.sort_unstable();
    paths
}

fn valid() -> Value {
    json!({"recipient": "ops", "copies": 2, "address": {"street": "Main", "postcode": 12345}})
}

#[test]
fn a_valid_body_is_stored_with_its_defaults() {
    let stored = validate::<SendReport>(valid()).unwrap();
    assert_eq!(stored["labels"], json!([]));
    assert_eq!(stored["urgent"], true);
    assert_eq!(stored["copies"], 2);
}

#[test]
fn wrong_types_are_each_reported_with_their_path() {
    let body = json!({
        "recipient": 7,
        "copies": "two",
        "address": {"street": ["x"], "postcode": 1.5},
        "labels": [1, "ok", false],
        "urgent": "yes"
    });
    let violations = validate::<SendReport>(body).unwrap_err();
    assert_eq!(
        paths(&violations),
        [
            "/address/postcode",
            "/address/street",
            "/copies",
            "/labels/0",
            "/labels/2",
            "/recipient",
            "/urgent"
        ],
        "{violations:#?}"
    );
    assert!(violations.iter().all(|v| !v.message.is_empty()));
}

#[test]
fn missing_required_fields_are_each_reported() {
    let violations = validate::<SendReport>(json!({"address": {}})).unwrap_err();
    let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
    for field in ["recipient", "copies", "street", "postcode"] {
        assert!(
            messages.iter().any(|m| m.contains(field)),
            "no violation names `{field}`: {messages:?}"
        );
    }
    assert_eq!(paths(&violations), ["", "", "/address", "/address"]);
}

#[test]
fn unknown_fields_are_rejected_at_every_level() {
    let mut body = valid();
    body["colour"] = json!("red");
    body["address"]["planet"] = json!("Mars");
    let violations = validate::<SendReport>(body).unwrap_err();
    assert_eq!(paths(&violations), ["", "/address"], "{violations:#?}");
    assert!(violations.iter().any(|v| v.message.contains("colour")));
    assert!(violations.iter().any(|v| v.message.contains("planet")));
}

#[test]
fn a_type_that_opts_out_accepts_unknown_fields() {
    let stored = validate::<Lenient>(json!({"known": 3, "extra": true})).unwrap();
    assert_eq!(stored, json!({"known": 3}));
}

#[test]
fn out_of_range_values_are_reported() {
    let mut body = valid();
    body["copies"] = json!(11);
    body["recipient"] = json!("");
    let violations = validate::<SendReport>(body).unwrap_err();
    assert_eq!(
        paths(&violations),
        ["/copies", "/recipient"],
        "{violations:#?}"
    );
    let mut body = valid();
    body["copies"] = json!(0);
    assert_eq!(
        paths(&validate::<SendReport>(body).unwrap_err()),
        ["/copies"]
    );
    let mut body = valid();
    body["address"]["postcode"] = json!(-1);
    assert_eq!(
        paths(&validate::<SendReport>(body).unwrap_err()),
        ["/address/postcode"]
    );
}

#[test]
fn the_schema_is_draft_2020_12_with_descriptions() {
    let schema = SendReport::schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "Send report");
    assert_eq!(schema["description"], "Sends a report somewhere.");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["properties"]["copies"]["description"],
        "How many copies."
    );
    assert_eq!(schema["properties"]["urgent"]["default"], true);
    assert_eq!(schema["properties"]["copies"]["maximum"], 10);
}

/// Registers a user, with fields in the formats JSON Schema defines.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "register_user")]
pub struct RegisterUser {
    /// Where mail goes.
    #[schemars(email)]
    pub email: String,
    /// Their home page.
    #[schemars(url)]
    pub homepage: String,
    /// When they signed up, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub since: String,
    /// Their account, if they had one.
    pub account: Option<uuid::Uuid>,
}

impl zerog::Run for RegisterUser {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

#[test]
fn formats_are_checked_as_the_schema_names_them() {
    let good = json!({
        "email": "ada@example.com",
        "homepage": "https://example.com/ada",
        "since": "2026-12-01T10:00:00Z",
        "account": "0b5f6e0c-3f0e-4d3b-9a57-0d2c0e5e8f43",
    });
    validate::<RegisterUser>(good).unwrap();
    let bad = json!({
        "email": "ada at example",
        "homepage": "not a url",
        "since": "yesterday",
        "account": "12345",
    });
    let violations = validate::<RegisterUser>(bad).unwrap_err();
    assert_eq!(
        paths(&violations),
        ["/account", "/email", "/homepage", "/since"],
        "{violations:#?}"
    );
}
