//! What a user's own program writes: a job type, the typed client (enqueue, options,
//! batches, waits, typed data, control, a transaction), the API mounted in an app of
//! its own, a worker and a scheduler in its runtime. It must build against zerog's
//! public API alone.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::backend::{Backend, CancelOutcome};
use zerog::client::{Client, ClientError, Enqueued, Progress};
use zerog::http::{ApiState, MountPath, Server};
use zerog::schedule::Schedule;
use zerog::scheduler::Scheduler;
use zerog::worker::Worker;
use zerog::{EnqueueOptions, Job, JobContext, JobError, JobRecord, Outcome, Registry, Status};

/// Converts an upload.
#[derive(Job, Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[job(type = "convert", queue = "media", unique_for = "10m", priority = 3)]
pub struct Convert {
    /// The upload.
    #[schemars(length(min = 1))]
    pub upload: String,
}

/// What a conversion gives back.
#[derive(Debug, Serialize, Deserialize)]
pub struct Converted {
    /// Where the result went.
    pub location: String,
}

impl zerog::Run for Convert {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        ctx.log_info(format!("converting {}", self.upload));
        ctx.set_completeness(1.0);
        let location = format!("/converted/{}", self.upload);
        Ok(Outcome::done_with(200, Converted { location }))
    }
}

async fn follow(client: &Client) -> Result<Option<Converted>, ClientError> {
    let uuid = client.enqueue(Convert { upload: "a.png".into() }).await?;
    let later = EnqueueOptions::new().run_after(Duration::from_secs(60)).priority(1);
    match client.enqueue_with(Convert { upload: "b.png".into() }, later).await? {
        Enqueued::Created(_) | Enqueued::Duplicate(_) => {}
    }
    let many = client
        .enqueue_many((0..3).map(|n| Convert { upload: format!("{n}.png") }))
        .await?;
    assert_eq!(many.len(), 3);
    let progress: Progress = client.progress(uuid).await?;
    let _: (Status, f64) = (progress.status, progress.completeness);
    let record: JobRecord = client.wait_for(uuid, Duration::from_secs(30)).await?;
    let _ = record.events.len();
    if let CancelOutcome::Signalled(_) = client.cancel(uuid).await? {}
    let _ = client.kill(uuid).await;
    let _ = client.retry(uuid).await;
    client.data_as::<Converted>(uuid).await
}

async fn in_a_transaction(client: &Client, pool: &zerog::sqlx::PgPool) -> Result<(), ClientError> {
    let mut tx = pool.begin().await.map_err(|e| ClientError::Backend(e.into()))?;
    client.enqueue_in(&mut tx, Convert { upload: "c.png".into() }).await?;
    tx.commit().await.map_err(|e| ClientError::Backend(e.into()))?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = Backend::connect("sqlite::memory:").await?;
    let registry = Registry::new().register::<Convert>();
    let client = Client::new(backend.clone());
    if let Err(ClientError::Validation { violations, .. }) = follow(&client).await {
        eprintln!("{} violations", violations.len());
    }
    if let Some(postgres) = backend.store().as_postgres() {
        in_a_transaction(&client, postgres.pool()).await?;
    }

    let state = ApiState::new(backend.clone(), registry.clone()).api_token("s3cret");
    let mounted = state.clone();
    let app = HttpServer::new(move || {
        App::new()
            .route("/signup", web::post().to(HttpResponse::Created))
            .service(web::scope("/zerog").configure(zerog::http::configure(mounted.clone())))
    })
    .bind("127.0.0.1:0")?
    .run();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let own = Server::new(state)
        .mount_path("/zerog".parse::<MountPath>()?)
        .listen(listener)?;

    let nightly = Schedule::of("nightly", "0 3 * * *", &Convert { upload: "all".into() });
    let scheduler = Scheduler::new(backend.clone(), registry.clone());
    scheduler.declare(&[nightly]).await?;
    let worker = Worker::new(backend, registry).capacity(4);
    let (_, _, _, _) = tokio::join!(
        worker.run_until(zerog::cli::shutdown_signal()),
        scheduler.run_until(zerog::cli::shutdown_signal()),
        app,
        own,
    );
    Ok(())
}
