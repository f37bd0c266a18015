//! Three `runkv-server` processes sharing one PostgreSQL schema, as behind a
//! load balancer: what one server writes the others read at once, and races
//! between clients of different servers resolve as on a single server.

mod postgres_util;

use std::sync::Arc;

use postgres_util::process::{client, ServerProcess};
use postgres_util::TestSchema;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Barrier;

/// Writers per race; spread over the three servers.
const RACERS: usize = 30;

/// Three servers on one fresh schema, started at the same time so that they
/// also race to create the schema.
async fn three_servers(schema: &TestSchema) -> Vec<ServerProcess> {
    let url = schema.url();
    let (a, b, c) = tokio::join!(
        ServerProcess::start(&url),
        ServerProcess::start(&url),
        ServerProcess::start(&url)
    );
    vec![a, b, c]
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// GETs `key` from `server`: the value and the ETag, or `None` on 404.
async fn read(server: &ServerProcess, key: &str) -> Option<(String, String)> {
    let response = client().get(server.url(&format!("/get/shared/{key}"))).send().await.unwrap();
    if response.status() == StatusCode::NOT_FOUND {
        return None;
    }
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body = json(response).await;
    Some((body["value"].as_str().unwrap().to_owned(), etag))
}

/// Sends one request per racer, all released at once, racer `i` through
/// server `i % 3`; returns each racer's status, ETag and body.
async fn race(
    servers: &[ServerProcess],
    request: impl Fn(&reqwest::Client, &str, usize) -> reqwest::RequestBuilder,
) -> Vec<(StatusCode, Option<String>, Value)> {
    let barrier = Arc::new(Barrier::new(RACERS));
    let requests: Vec<_> = (0..RACERS)
        .map(|i| {
            let builder = request(&client(), &servers[i % servers.len()].base, i);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let response = builder.send().await.unwrap();
                let status = response.status();
                let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
                (status, etag, json(response).await)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for request in requests {
        outcomes.push(request.await.unwrap());
    }
    outcomes
}

fn version_of(etag: &str) -> u64 {
    etag.trim_matches('"').parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_through_one_server_is_read_through_the_others() {
    let schema = TestSchema::new();
    let servers = three_servers(&schema).await;
    let http = client();

    for (i, writer) in servers.iter().enumerate() {
        let value = format!("written through server {i}");
        let response = http.put(writer.url("/set/shared/k")).body(value.clone()).send().await;
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();

        // No delay: a 200 means committed, and no server caches.
        for reader in &servers {
            assert_eq!(read(reader, "k").await, Some((value.clone(), etag.clone())));
        }
    }

    let response = http.delete(servers[1].url("/delete/shared/k")).send().await.unwrap();
    assert_eq!(json(response).await["deleted"], true);
    for reader in &servers {
        assert_eq!(read(reader, "k").await, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_to_one_key_end_with_one_of_their_values() {
    let schema = TestSchema::new();
    let servers = three_servers(&schema).await;

    let outcomes = race(&servers, |http, base, i| {
        http.put(format!("{base}/set/shared/k")).body(format!("writer {i}"))
    })
    .await;

    for (status, _, body) in &outcomes {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }

    // Last write wins, and "last" is the write with the highest version:
    // versions follow commit order. Every server agrees on it.
    let (last, _) = outcomes
        .iter()
        .enumerate()
        .map(|(i, (_, etag, _))| (i, version_of(etag.as_deref().unwrap())))
        .max_by_key(|&(_, version)| version)
        .unwrap();
    let expected = (format!("writer {last}"), outcomes[last].1.clone().unwrap());
    for reader in &servers {
        assert_eq!(read(reader, "k").await, Some(expected.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_create_only_writes_exactly_one_succeeds() {
    let schema = TestSchema::new();
    let servers = three_servers(&schema).await;

    let outcomes = race(&servers, |http, base, i| {
        http.put(format!("{base}/set/shared/k"))
            .header("If-None-Match", "*")
            .body(format!("writer {i}"))
    })
    .await;

    let winners: Vec<_> =
        outcomes.iter().enumerate().filter(|(_, o)| o.0 == StatusCode::OK).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (status, _, body) in &outcomes {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::PRECONDITION_FAILED);
            assert_eq!(body["code"], "version_conflict");
        }
    }
    let (winner, (_, etag, _)) = winners[0];
    for reader in &servers {
        assert_eq!(
            read(reader, "k").await,
            Some((format!("writer {winner}"), etag.clone().unwrap()))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_conditional_updates_lose_cleanly_with_412() {
    let schema = TestSchema::new();
    let servers = three_servers(&schema).await;
    let http = client();

    let response = http.put(servers[0].url("/set/shared/k")).body("start").send().await.unwrap();
    let mut etag = response.headers()["etag"].to_str().unwrap().to_owned();

    // Several rounds: each starts from the version the previous one made.
    for round in 0..3 {
        let expected = etag.clone();
        let outcomes = race(&servers, move |http, base, i| {
            http.put(format!("{base}/set/shared/k"))
                .header("If-Match", expected.clone())
                .body(format!("round {round} writer {i}"))
        })
        .await;

        let winners: Vec<_> =
            outcomes.iter().enumerate().filter(|(_, o)| o.0 == StatusCode::OK).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        for (status, _, body) in &outcomes {
            if *status != StatusCode::OK {
                assert_eq!(*status, StatusCode::PRECONDITION_FAILED, "{body}");
                assert_eq!(body["code"], "version_conflict");
            }
        }
        let (winner, (_, new_etag, _)) = winners[0];
        let new_etag = new_etag.clone().unwrap();
        assert!(version_of(&new_etag) > version_of(&etag));
        for reader in &servers {
            let value = format!("round {round} writer {winner}");
            assert_eq!(read(reader, "k").await, Some((value, new_etag.clone())));
        }
        etag = new_etag;
    }

    // Conditional deletes race the same way: one deletes, the rest get 412.
    let expected = etag.clone();
    let outcomes = race(&servers, move |http, base, _| {
        http.delete(format!("{base}/delete/shared/k")).header("If-Match", expected.clone())
    })
    .await;
    let deleted: Vec<_> = outcomes.iter().filter(|o| o.0 == StatusCode::OK).collect();
    assert_eq!(deleted.len(), 1, "{outcomes:?}");
    assert_eq!(deleted[0].2["deleted"], true);
    assert!(outcomes
        .iter()
        .all(|o| o.0 == StatusCode::OK || o.0 == StatusCode::PRECONDITION_FAILED));
    for reader in &servers {
        assert_eq!(read(reader, "k").await, None);
    }
}
