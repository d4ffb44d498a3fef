//! The real binary: a backlog queued against a receiver that is down survives SIGKILL, and the
//! restarted server delivers every event once the receiver is up; `renvo webhooks …` manages
//! endpoints.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::assert_signed;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::receiver::{Answer, Receiver};

backend_tests!(
    a_backlog_survives_sigkill_and_is_delivered_after_restart,
    the_cli_creates_lists_and_deletes_endpoints
);

/// Runs `renvo ARGS` on the database; answers whether it succeeded, stdout and stderr.
async fn renvo(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_renvo"))
        .args(args)
        .env("RENVO_DATABASE_URL", database_url)
        .env_remove("RENVO_WEBHOOK_ALLOW_PRIVATE")
        .output()
        .await
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

#[tokio::test]
async fn a_malformed_retry_schedule_stops_serve_at_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_renvo"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RENVO_DATABASE_URL", "sqlite::memory:")
        .env("RENVO_WEBHOOK_RETRY_SCHEDULE", "30s,2 minutes")
        .output()
        .await
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("`2 minutes` is not a delay"), "{stderr}");
}

async fn the_cli_creates_lists_and_deletes_endpoints(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = backend.fresh_database(&dir).await;
    assert!(
        renvo(&db, &["accounts", "create", "--name", "Rentals"])
            .await
            .0
    );

    let create = ["webhooks", "create", "--url", "http://127.0.0.1:9/hook"];
    let (ok, _, stderr) = renvo(&db, &create).await;
    assert!(!ok && stderr.contains("not a public address"), "{stderr}");
    let mut allowed = create.to_vec();
    allowed.extend(["--events", "customer.created", "--allow-private"]);
    let (ok, stdout, stderr) = renvo(&db, &allowed).await;
    assert!(ok, "{stderr}");
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed.len(), 2, "{stdout}");
    let (id, secret) = (printed[0], printed[1]);
    assert!(
        id.starts_with("we_") && secret.starts_with("whsec_"),
        "{stdout}"
    );

    let (_, listed, _) = renvo(&db, &["webhooks", "list"]).await;
    assert!(
        listed.contains(id) && listed.contains("customer.created"),
        "{listed}"
    );
    assert!(!listed.contains(secret));
    let (ok, deleted, _) = renvo(&db, &["webhooks", "delete", id]).await;
    assert!(ok);
    assert_eq!(deleted.trim(), id);
    let (_, listed, _) = renvo(&db, &["webhooks", "list"]).await;
    assert!(!listed.contains(id), "{listed}");
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn serve(database_url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_renvo"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RENVO_DATABASE_URL", database_url)
        .env("RENVO_WEBHOOK_ALLOW_PRIVATE", "1")
        .env("RENVO_WEBHOOK_RETRY_SCHEDULE", "1500ms,1s,1s,1s,1s")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Reads the first run's printed test key, and keeps draining stdout so the server never
/// writes into a closed pipe.
async fn test_key(child: &mut Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(key) = line.trim().strip_prefix("test key: ") {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return key.to_owned();
        }
    }
    panic!("serve printed no test key");
}

async fn wait_until_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if client.get(format!("{base}/readyz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server did not come up");
}

/// Waits (bounded) for `count` attempts in the endpoint's log; answers how many failed.
async fn failed_attempts(client: &reqwest::Client, log: &str, key: &str, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page: serde_json::Value = client
            .get(log)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let attempts = page["data"].as_array().unwrap();
        if attempts.len() >= count || Instant::now() > deadline {
            return attempts.iter().filter(|a| a["succeeded"] == false).count();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_backlog_survives_sigkill_and_is_delivered_after_restart(backend: Backend) {
    renvo::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let database_url = backend.fresh_database(&dir).await;
    let (port, receiver_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(&database_url, port);
    let key = test_key(&mut server).await;
    wait_until_ready(&client, &base).await;

    let hook = format!("http://127.0.0.1:{receiver_port}/hook");
    let created: serde_json::Value = client
        .post(format!("{base}/v1/webhook_endpoints"))
        .bearer_auth(&key)
        .json(&json!({"url": hook, "enabled_events": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (endpoint, secret) = (
        created["id"].as_str().unwrap(),
        created["secret"].as_str().unwrap(),
    );
    for n in 0..8 {
        let reply = client
            .post(format!("{base}/v1/customers"))
            .bearer_auth(&key)
            .json(&json!({"full_name": format!("Backlog {n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
    }
    let log = format!("{base}/v1/webhook_endpoints/{endpoint}/attempts?limit=100");
    assert_eq!(
        failed_attempts(&client, &log, &key, 8).await,
        8,
        "the receiver was down"
    );

    server.kill().await.unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", receiver_port))
        .await
        .unwrap();
    let receiver = Receiver::serve(listener, Answer::Status(204));
    let mut restarted = serve(&database_url, port);

    let received = receiver.wait_for(8, Duration::from_secs(20)).await;
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "every event arrived");
    received.iter().for_each(|r| assert_signed(r, secret));

    let pid = restarted.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), restarted.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "SIGTERM exits 0: {exit:?}");
}
