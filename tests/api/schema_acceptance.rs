//! The server accepts exactly what the published schema accepts.
//!
//! For every example job type, bodies are generated from its `GET /schema/{jobType}`:
//! boundary values, wrong types, integral floats, missing and unknown fields, and random
//! bodies. Each is checked against the schema with the `jsonschema` crate and posted to
//! the server: the server answers 201 exactly when the schema says valid, and 400
//! `validation` otherwise.

use serde_json::{Map, Value, json};
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog_tests::api::{self, call, get, post_json};

use crate::{prime_sieve, waste_time};

/// Random bodies per job type, on top of the boundary cases.
const RANDOM_BODIES: usize = 400;

/// Values to try for one property: its boundaries and around them, its default, and
/// values of every other JSON type.
fn candidates(property: &Value) -> Vec<Value> {
    let mut values = vec![
        json!(null),
        json!(true),
        json!("5"),
        json!(""),
        json!([]),
        json!([1]),
        json!({}),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(-0.0),
        json!(1e20),
        json!(u64::MAX),
        json!(i64::MIN),
    ];
    for key in ["minimum", "maximum", "default"] {
        if let Some(bound) = property.get(key).and_then(Value::as_f64) {
            for delta in [-1.0, -0.5, 0.0, 0.5, 1.0] {
                let value = bound + delta;
                values.push(json!(value));
                if value.fract() == 0.0 && value.abs() < 9e15 {
                    values.push(json!(value as i64));
                }
            }
        }
    }
    if let (Some(low), Some(high)) = (
        property.get("minimum").and_then(Value::as_f64),
        property.get("maximum").and_then(Value::as_f64),
    ) {
        let middle = ((low + high) / 2.0).floor();
        values.push(json!(middle as i64));
        values.push(json!(middle));
    }
    values
}

/// A random JSON value, biased towards numbers near `property`'s bounds.
fn random_value(rng: &mut fastrand::Rng, property: &Value, depth: u32) -> Value {
    let near = |rng: &mut fastrand::Rng, key: &str| {
        property
            .get(key)
            .and_then(Value::as_f64)
            .map(|bound| bound + f64::from(rng.i32(-3..=3)))
    };
    match rng.u8(0..12) {
        0 => json!(null),
        1 => json!(rng.bool()),
        2 => json!(rng.i64(..)),
        3 => json!(rng.u64(..)),
        4 => json!(rng.f64() * 1e6 - 5e5),
        5 | 6 => near(rng, "minimum").map_or(json!(rng.u32(..)), |n| json!(n as i64)),
        7 => near(rng, "maximum").map_or(json!(rng.u32(..)), |n| json!(n as i64)),
        8 => near(rng, "maximum").map_or(json!(1.0), |n| json!(n)),
        9 => json!(rng.u32(0..100_000).to_string()),
        10 if depth < 3 => Value::Array(
            (0..rng.usize(0..3))
                .map(|_| random_value(rng, property, depth + 1))
                .collect(),
        ),
        _ if depth < 3 => {
            let mut object = Map::new();
            object.insert("x".into(), random_value(rng, property, depth + 1));
            Value::Object(object)
        }
        _ => json!("text"),
    }
}

/// Every body to try for `schema`.
fn bodies(schema: &Value, seed: u64) -> Vec<Value> {
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let example = zerog::validate::example_params(schema);
    let mut bodies = vec![
        json!({}),
        json!(null),
        json!([]),
        json!("text"),
        json!(1),
        example.clone(),
    ];
    // Each property alone, and in the example, takes each candidate value.
    for (name, property) in &properties {
        for value in candidates(property) {
            bodies.push(json!({ name: value.clone() }));
            let mut body = example.clone();
            body[name] = value;
            bodies.push(body);
        }
        // The example without this property.
        let mut body = example.clone();
        body.as_object_mut().unwrap().remove(name);
        bodies.push(body);
    }
    // Unknown fields, and the state fields a schema skips.
    for extra in ["unknown", "next", "count", "uuid", "resultCode"] {
        let mut body = example.clone();
        body[extra] = json!(1);
        bodies.push(body);
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..RANDOM_BODIES {
        let mut body = Map::new();
        for (name, property) in &properties {
            match rng.u8(0..4) {
                0 => {}
                1 => {
                    body.insert(name.clone(), example.get(name).cloned().unwrap_or(json!(1)));
                }
                _ => {
                    body.insert(name.clone(), random_value(&mut rng, property, 0));
                }
            }
        }
        if rng.u8(0..10) == 0 {
            body.insert(format!("extra{}", rng.u8(..)), json!(rng.u8(..)));
        }
        bodies.push(Value::Object(body));
    }
    bodies
}

#[actix_web::test]
async fn the_server_accepts_exactly_what_the_schema_accepts() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new()
        .register::<waste_time::WasteTime>()
        .register::<prime_sieve::PrimeSieve>();
    let job_types = registry.job_types();
    let app = api::mount(ApiState::new(backend, registry)).await;
    let seed = std::env::var("ZEROG_TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    for job_type in job_types {
        let schema = call(&app, get(&format!("/schema/{job_type}"))).await.json;
        let validator = jsonschema::draft202012::new(&schema).expect("the schema compiles");
        let (mut accepted, mut refused) = (0, 0);
        for body in bodies(&schema, seed) {
            let valid = validator.is_valid(&body);
            let answer = call(&app, post_json(&format!("/job/{job_type}"), &body)).await;
            let context = format!(
                "{job_type} {body} (schema says {}; ZEROG_TEST_SEED={seed}): {} {}",
                if valid { "valid" } else { "invalid" },
                answer.status,
                answer.text()
            );
            if valid {
                assert_eq!(answer.status, 201, "{context}");
                accepted += 1;
            } else {
                answer.assert_error(400, "validation");
                assert!(
                    answer.json["details"]
                        .as_array()
                        .is_some_and(|d| !d.is_empty()),
                    "{context}"
                );
                refused += 1;
            }
        }
        // The generator must exercise both sides, or the proof proves nothing.
        assert!(
            accepted >= 20 && refused >= 20,
            "{job_type}: {accepted} accepted, {refused} refused"
        );
    }
}

#[actix_web::test]
async fn integral_floats_count_as_integers_as_in_json_schema() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new().register::<waste_time::WasteTime>();
    let app = api::mount(ApiState::new(backend, registry)).await;
    for body in [
        json!({"delay": 5.0}),
        json!({"delay": 1e2}),
        json!({"delay": -0.0}),
    ] {
        let answer = call(&app, post_json("/job/waste_time", &body)).await;
        assert_eq!(answer.status, 201, "{body}: {}", answer.text());
    }
    let answer = call(&app, post_json("/job/waste_time", &json!({"delay": 5.5}))).await;
    answer.assert_error(400, "validation");
}
