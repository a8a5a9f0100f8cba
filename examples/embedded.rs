//! Run with: cargo run --example embedded
//!
//! zerog inside an actix-web app of your own: a `POST /signup` route of the app
//! enqueues a `send_welcome` job through the typed client, zerog's API is mounted
//! under `/zerog` beside it, and a worker runs in the same process. No `zerog::main`.
//!
//! The store is `ZEROG_STORE` (default: `zerog.db` in the working directory), and the
//! address `ZEROG_BIND` (default `127.0.0.1:8080`). Then:
//!
//! ```text
//! curl -s -X POST http://127.0.0.1:8080/signup \
//!      -H 'Content-Type: application/json' -d '{"email": "ada@example.com"}'
//! curl -s http://127.0.0.1:8080/zerog/progress/UUID
//! ```

#[path = "jobs/send_welcome.rs"]
mod send_welcome;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::json;
use zerog::backend::{Backend, DEFAULT_STORE_URL};
use zerog::client::{Client, ClientError};
use zerog::http::{self, ApiState};
use zerog::worker::Worker;
use zerog::{Job, Registry};

use send_welcome::SendWelcome;

/// The body of `POST /signup`.
#[derive(Deserialize)]
struct Signup {
    email: String,
}

/// The app's own route: it would store the user, then enqueues the welcome mail.
async fn signup(client: web::Data<Client>, body: web::Json<Signup>) -> HttpResponse {
    let job = SendWelcome {
        email: body.into_inner().email,
    };
    match client.enqueue(job).await {
        Ok(uuid) => HttpResponse::Created().json(json!({
            "welcomeMail": uuid,
            "progress": format!("/zerog/progress/{uuid}"),
        })),
        // The job's own schema refuses a bad address, with the path of the field.
        Err(ClientError::Validation { violations, .. }) => {
            HttpResponse::BadRequest().json(json!({ "error": "validation", "details": violations }))
        }
        Err(error) => HttpResponse::ServiceUnavailable().json(json!({
            "error": "unavailable",
            "message": error.to_string(),
        })),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,zerog::http=warn".into()),
        )
        .init();
    let store = std::env::var("ZEROG_STORE").unwrap_or_else(|_| DEFAULT_STORE_URL.to_owned());
    let bind = std::env::var("ZEROG_BIND").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let backend = Backend::connect(&store).await?;
    let registry = Registry::new().register::<SendWelcome>();

    // One backend handle for all three: the client's waits wake on the worker's runs.
    let client = web::Data::new(Client::new(backend.clone()));
    let state = ApiState::new(backend.clone(), registry.clone()).service_info("embedded", "1.0.0");
    let server = HttpServer::new(move || {
        App::new()
            .app_data(client.clone())
            .route("/signup", web::post().to(signup))
            .service(web::scope("/zerog").configure(http::configure(state.clone())))
    })
    .bind(&bind)?;
    let address = server.addrs()[0];
    let server = server.disable_signals().run();
    let handle = server.handle();
    println!("zerog is serving http://{address}/zerog");
    println!(
        "Sign up with:  curl -s -X POST http://{address}/signup \
         -H 'Content-Type: application/json' -d '{{\"email\": \"ada@example.com\"}}'"
    );
    println!(
        "({} jobs go to the `{}` queue)",
        SendWelcome::SPEC.job_type,
        SendWelcome::SPEC.queue
    );

    let worker = Worker::new(backend, registry);
    let worker = tokio::spawn(worker.run_until(zerog::cli::shutdown_signal()));
    let server = tokio::spawn(server);
    // The worker returns once a signal came and its runs have ended; then the server
    // stops taking requests.
    worker.await??;
    handle.stop(true).await;
    server.await??;
    Ok(())
}
