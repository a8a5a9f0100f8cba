//! The typed client's enqueue inside a caller's own transaction, on the stores that
//! have them (PostgreSQL and SQLite): the job exists only if the transaction commits,
//! is validated first, and takes its unique key in the transaction too. A store that
//! cannot take part (beanstalkd as the queue, or another database) says so.

use sqlx::AssertSqlSafe;
use zerog::backend::Backend;
use zerog::client::{Client, ClientError, Enqueued};
use zerog::{EnqueueOptions, Status};
use zerog_tests::services::{self, Service};

use crate::client::{GreetOnce, greet, job_count};

/// The rollback, the commit, a refusal and a unique key, inside transactions of
/// `begin`'s, on a store whose jobs `client` reads; `user_table` is a table of the
/// caller's in the same database, written in the same transactions.
macro_rules! commits_or_rolls_back {
    ($client:expr, $pool:expr, $user_table:expr) => {{
        let client: &Client = $client;
        let insert_user = format!("INSERT INTO {} (email) VALUES ('ada@example.com')", $user_table);
        let count_users = format!("SELECT count(*) FROM {}", $user_table);

        let mut tx = $pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(insert_user.clone())).execute(&mut *tx).await.unwrap();
        let rolled_back = client.enqueue_in(&mut tx, greet("ada", 1)).await.unwrap();
        tx.rollback().await.unwrap();
        let gone = client.info(rolled_back).await.unwrap_err();
        assert!(matches!(gone, ClientError::UnknownJob(_)), "{gone}");

        let mut tx = $pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(insert_user.clone())).execute(&mut *tx).await.unwrap();
        let committed = client.enqueue_in(&mut tx, greet("ada", 2)).await.unwrap();
        let refused = client.enqueue_in(&mut tx, greet("", 1)).await.unwrap_err();
        assert!(
            matches!(&refused, ClientError::Validation { violations, .. }
                     if violations[0].path == "/name"),
            "{refused}"
        );
        let first = client
            .enqueue_in_with(&mut tx, GreetOnce { name: "ada".into() }, EnqueueOptions::new())
            .await
            .unwrap();
        let second = client
            .enqueue_in_with(&mut tx, GreetOnce { name: "ada".into() }, EnqueueOptions::new())
            .await
            .unwrap();
        assert_eq!(second, Enqueued::Duplicate(first.uuid()));
        tx.commit().await.unwrap();

        let users: i64 = sqlx::query_scalar(AssertSqlSafe(count_users))
            .fetch_one(&*$pool)
            .await
            .unwrap();
        assert_eq!(users, 1, "only the committed user is there");
        let record = client.info(committed).await.unwrap();
        assert_eq!(record.status, Status::Queued);
        assert_eq!(record.params["times"], 2);
        assert_eq!(client.info(first.uuid()).await.unwrap().job_type, "greet_once");
        assert_eq!(
            job_count(client.backend()).await,
            2,
            "the committed job and the unique one"
        );
    }};
}

#[tokio::test]
async fn postgres_enqueues_inside_the_callers_transaction() {
    let test = "postgres_enqueues_inside_the_callers_transaction";
    let Some(isolated) = services::postgres(test).await else {
        return;
    };
    let store = isolated.backend.store().as_postgres().unwrap().clone();
    // The caller's own pool, on the same database: the tables are named with their
    // schema, whatever the connection's search path.
    let url = services::require(Service::Postgres, test).unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let users = format!("\"{}\".users", store.schema());
    sqlx::query(AssertSqlSafe(format!("CREATE TABLE {users} (email text)")))
        .execute(&pool)
        .await
        .unwrap();
    let client = Client::new(isolated.backend.clone());
    commits_or_rolls_back!(&client, &pool, users);
    pool.close().await;
    isolated.cleanup.await;
}

#[tokio::test]
async fn sqlite_enqueues_inside_the_callers_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let url = zerog_tests::sqlite_url(&dir);
    let backend = Backend::connect(&url).await.unwrap();
    // The caller's own pool, on the same file.
    let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rw"))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE users (email TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    let client = Client::new(backend);
    commits_or_rolls_back!(&client, &pool, "users");
}

#[tokio::test]
async fn a_store_that_cannot_join_the_transaction_says_so() {
    let test = "a_store_that_cannot_join_the_transaction_says_so";
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Backend::connect(&zerog_tests::sqlite_url(&dir))
        .await
        .unwrap();
    let Some(split) = services::postgres_beanstalkd(test).await else {
        return;
    };
    let url = services::require(Service::Postgres, test).unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();

    // beanstalkd delivers the jobs, and cannot take part in PostgreSQL's commit.
    for client in [Client::new(split.backend.clone()), Client::new(sqlite)] {
        let mut tx = pool.begin().await.unwrap();
        let refused = client
            .enqueue_in(&mut tx, greet("ada", 1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                ClientError::NotTransactional {
                    transaction: "PostgreSQL"
                }
            ),
            "{refused}"
        );
        tx.rollback().await.unwrap();
    }
    assert_eq!(job_count(&split.backend).await, 0, "nothing was stored");
    pool.close().await;
    split.cleanup.await;
}
