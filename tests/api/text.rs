//! Text the stores cannot keep, and ages they cannot count to, are the client's
//! mistakes: each answers the same 400 on every backend, where PostgreSQL used to
//! answer 503 (it refuses NUL in text and timestamps past year 294276).

use serde_json::json;
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog_tests::api::{self, delete, get, post_json};
use zerog_tests::services::{self, Isolated};

use super::validation::SendReport;

/// Every store the tests can reach, each as a name and a backend, and the cleanups.
async fn every_backend(test: &str) -> Vec<(&'static str, Backend, Option<Isolated>)> {
    let mut backends = vec![(
        "sqlite",
        Backend::connect("sqlite::memory:").await.unwrap(),
        None,
    )];
    if let Some(isolated) = services::postgres(test).await {
        backends.push(("postgres", isolated.backend.clone(), Some(isolated)));
    }
    if let Some(isolated) = services::redis(test).await {
        backends.push(("redis", isolated.backend.clone(), Some(isolated)));
    }
    if let Some(isolated) = services::postgres_beanstalkd(test).await {
        backends.push((
            "postgres+beanstalkd",
            isolated.backend.clone(),
            Some(isolated),
        ));
    }
    backends
}

fn registry() -> Registry {
    Registry::new().register::<SendReport>()
}

fn report(recipient: &str) -> serde_json::Value {
    json!({
        "recipient": recipient,
        "copies": 1,
        "address": {"street": "Main St", "postcode": 1000},
        "labels": ["ok", "also\u{0}here"],
    })
}

#[actix_web::test]
async fn nul_characters_and_huge_ages_are_the_same_400_on_every_backend() {
    for (name, backend, isolated) in every_backend("nul_characters_and_huge_ages").await {
        eprintln!("backend: {name}");
        let app = api::mount(ApiState::new(backend.clone(), registry())).await;

        let refused = api::call(&app, post_json("/job/send_report", &report("a\u{0}b"))).await;
        refused.assert_error(400, "validation");
        let paths: Vec<&str> = refused.json["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|detail| detail["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            ["/labels/1", "/recipient"],
            "{name}: {}",
            refused.json
        );
        let keyed = json!({"recipient": "x", "copies": 1,
            "address": {"street": "s", "postcode": 1}, "a\u{0}": 1});
        let refused = api::call(&app, post_json("/job/send_report", &keyed)).await;
        refused.assert_error(400, "validation");
        assert!(
            refused.json["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|detail| detail["path"] == "/a\u{0}"),
            "{name}: {}",
            refused.json
        );

        // Text beyond ASCII is kept as sent.
        let mut fine = report("Zoë ✓ 東京");
        fine["labels"] = json!(["ok"]);
        let accepted = api::call(&app, post_json("/job/send_report", &fine)).await;
        assert_eq!(accepted.status, 201, "{name}: {}", accepted.json);
        let uuid = accepted.json["uuid"].as_str().unwrap().parse().unwrap();
        let stored = backend.get(uuid).await.unwrap().unwrap();
        assert_eq!(stored.params["recipient"], "Zoë ✓ 東京", "{name}");

        for path in [
            "/jobs?jobType=%00",
            "/jobs?jobType=a%00b",
            "/jobs?status=%00",
            "/jobs?after=%00",
        ] {
            api::call(&app, get(path))
                .await
                .assert_error(400, "nul_character");
        }
        for path in ["/workers/%00/drain", "/cancel/%00"] {
            api::call(&app, post_json(path, &json!({})))
                .await
                .assert_error(400, "nul_character");
        }
        api::call(&app, get("/branch%00/leaves"))
            .await
            .assert_error(400, "nul_character");

        let longest = api::call(&app, delete("/jobs?olderThan=99999d")).await;
        assert_eq!(longest.status, 200, "{name}: {}", longest.json);
        for age in ["3000000d", "999999999999s"] {
            api::call(&app, delete(&format!("/jobs?olderThan={age}")))
                .await
                .assert_error(400, "bad_age");
        }
        if let Some(isolated) = isolated {
            isolated.cleanup.await;
        }
    }
}
