//! The real binary: first start, restarts, graceful shutdown, the account and key commands,
//! durability under SIGKILL, logs, and the reference page's requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::Reply;
use crate::process::{Database, Server, printed_keys};
use crate::raw_http;

async fn get(server: &Server, path: &str, key: &str) -> Reply {
    let request = reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(key);
    Reply::of(request.send().await.unwrap()).await
}

async fn post(server: &Server, key: &str, body: &Value) -> Reply {
    let request = reqwest::Client::new()
        .post(server.url("/v1/customers"))
        .bearer_auth(key)
        .json(body);
    Reply::of(request.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_prints_two_keys_once_and_a_restart_keeps_the_data() {
    let database = Database::fresh();

    let mut first = database.serve(&[]).await;
    let printed = first.wait_for_stdout("rv_live_").await;
    let (test_key, live_key) = printed_keys(&printed);
    assert_eq!(printed.matches("acct_").count(), 1, "{printed}");
    assert_eq!(printed.lines().count(), 3, "{printed}");
    let customer = post(&first, &test_key, &json!({"full_name": "Jane"})).await;
    assert_eq!(customer.status, 201);
    let live = get(&first, "/api/v1/customers", &live_key).await;
    assert_eq!(live.body["data"], json!([]));
    first.terminate().await;
    assert_eq!(first.exit_code().await, Some(0));

    let mut second = database.serve(&[]).await;
    let path = format!("/v1/customers/{}", customer.body["id"].as_str().unwrap());
    let kept = get(&second, &path, &test_key).await;
    second.signal("INT").await;
    assert_eq!(second.exit_code().await, Some(0));

    assert_eq!(kept.body, customer.body);
    assert_eq!(second.stdout(), "", "a second start prints nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_that_cannot_listen_prints_no_keys_and_the_next_one_does() {
    let database = Database::fresh();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();

    let (code, stdout, stderr) = database.run(&["serve", "--listen", &address]).await;
    assert_ne!(code, 0);
    assert_eq!(stdout, "", "no keys for a server that never started");
    assert!(stderr.contains("cannot listen on"), "{stderr}");

    let mut server = database.serve(&[]).await;
    let printed = server.wait_for_stdout("rv_live_").await;
    let (test_key, _) = printed_keys(&printed);
    assert_eq!(get(&server, "/v1/customers", &test_key).await.status, 200);
    server.terminate().await;
    assert_eq!(server.exit_code().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish_and_exits_0() {
    let database = Database::fresh();
    let mut server = database.serve(&[]).await;
    let (key, _) = printed_keys(&server.wait_for_stdout("rv_live_").await);
    let body = br#"{"full_name": "Jane in flight"}"#;
    let head = format!(
        "POST /v1/customers HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        raw_http::authority(&server.address),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(raw_http::authority(&server.address))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.terminate().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let reply = raw_http::read_reply(&mut stream).await;

    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["full_name"], "Jane in flight");
    assert_eq!(server.exit_code().await, Some(0));
    assert!(server.stderr().contains("shutdown signal received"));
    let refused = reqwest::Client::new()
        .get(server.url("/healthz"))
        .send()
        .await;
    assert!(refused.is_err(), "nothing listens after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_and_key_commands_print_only_what_they_were_asked_for() {
    let database = Database::fresh();

    let (code, account, _) = database
        .run(&["accounts", "create", "--name", "Acme"])
        .await;
    assert_eq!(code, 0);
    let account = account.strip_suffix('\n').unwrap().to_owned();
    assert!(
        account.starts_with("acct_") && account.len() == 41,
        "{account}"
    );
    let args = [
        "keys",
        "create",
        "--scope",
        "read",
        "--mode",
        "live",
        "--account",
        &account,
    ];
    let (code, key, _) = database.run(&args).await;
    assert_eq!(code, 0);
    let key = key.strip_suffix('\n').unwrap().to_owned();
    assert!(key.starts_with("rv_live_") && key.len() == 40, "{key}");
    assert!(key[8..].bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
    let (code, default_key, _) = database
        .run(&["keys", "create", "--scope", "read_write"])
        .await;
    assert_eq!(code, 0, "the only account is the default");
    assert!(default_key.starts_with("rv_test_") && default_key.lines().count() == 1);

    let (code, listed, _) = database.run(&["keys", "list", "--account", &account]).await;
    assert_eq!(code, 0);
    assert!(
        !listed.contains(&key[8..]),
        "a listing never shows a secret: {listed}"
    );
    let line = listed
        .lines()
        .find(|line| line.contains(&format!("rv_live_…{}", &key[36..])))
        .unwrap_or_else(|| panic!("the key's prefix and last four: {listed}"));
    assert!(line.contains("read") && line.contains("live") && line.contains("never"));
    let key_id = line.split_whitespace().next().unwrap().to_owned();
    assert!(key_id.starts_with("key_"), "{line}");

    let mut server = database.serve(&[]).await;
    assert_eq!(get(&server, "/v1/customers", &key).await.status, 200);
    let (code, revoked, _) = database.run(&["keys", "revoke", &key_id]).await;
    assert_eq!((code, revoked.trim()), (0, key_id.as_str()));
    let refused = get(&server, "/v1/customers", &key).await;
    refused.assert_error(401, "api_key_invalid", None);
    server.kill().await;
    let (code, _, stderr) = database.run(&["keys", "revoke", &key_id]).await;
    assert_ne!(code, 0, "revoking twice fails: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_list_shows_when_a_key_was_last_used() {
    let database = Database::fresh();
    let mut server = database.serve(&[]).await;
    let (test_key, live_key) = printed_keys(&server.wait_for_stdout("rv_live_").await);
    let shown = |key: &str| format!("{}…{}", &key[..8], &key[key.len() - 4..]);

    assert_eq!(get(&server, "/v1/customers", &test_key).await.status, 200);
    let mut listed = String::new();
    for _ in 0..40 {
        listed = database.run(&["keys", "list"]).await.1;
        let test_line = listed
            .lines()
            .find(|l| l.contains(&shown(&test_key)))
            .unwrap();
        if !test_line.contains("never") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill().await;

    let line_of = |key: &str| listed.lines().find(|l| l.contains(&shown(key))).unwrap();
    let used = line_of(&test_key);
    assert!(
        used.contains("read_write") && used.contains(" test "),
        "{listed}"
    );
    let columns: Vec<&str> = used.split_whitespace().collect();
    let (created, last_used) = (columns[4], columns[5]);
    assert!(
        last_used.ends_with('Z') && last_used.len() == 24,
        "{listed}"
    );
    assert!(last_used >= created, "{listed}");
    assert!(line_of(&live_key).contains("never"), "{listed}");
    assert!(!listed.contains(&test_key[8..]) && !listed.contains(&live_key[8..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_default_to_renvo_db_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &'static [&'static str]| {
        tokio::process::Command::new(crate::process::BINARY)
            .args(args)
            .current_dir(dir.path())
            .env_remove("RENVO_DATABASE_URL")
            .output()
    };

    let account = run(&["accounts", "create", "--name", "Acme"])
        .await
        .unwrap();
    let key = run(&["keys", "create", "--scope", "read"]).await.unwrap();

    assert!(account.status.success() && key.status.success());
    assert!(String::from_utf8_lossy(&account.stdout).starts_with("acct_"));
    assert!(String::from_utf8_lossy(&key.stdout).starts_with("rv_test_"));
    assert!(dir.path().join("renvo.db").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_logs_one_json_line_per_request_with_its_span() {
    let database = Database::fresh();
    let mut server = database.serve(&[("RENVO_LOG_FORMAT", "json")]).await;
    let (key, _) = printed_keys(&server.wait_for_stdout("rv_live_").await);

    let reply = get(&server, "/v1/customers/cu_x", &key).await;
    server.terminate().await;
    server.exit_code().await;

    let request_id = reply.header("request-id").unwrap();
    let line = server
        .stderr()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["span"]["request_id"] == request_id)
        .unwrap_or_else(|| panic!("a log line for {request_id}: {}", server.stderr()));
    assert_eq!(line["fields"]["message"], "request finished");
    assert_eq!(line["fields"]["status"], 404);
    assert_eq!(line["span"]["route"], "/v1/customers/{id}");
    assert_eq!(line["span"]["method"], "GET");
    assert_eq!(line["span"]["mode"], "test");
    assert!(
        line["span"]["account"]
            .as_str()
            .unwrap()
            .starts_with("acct_")
    );
    assert!(!server.stderr().contains(&key[8..]), "no secret is logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_requests_script_passes_against_the_real_server() {
    let database = Database::fresh();
    let mut server = database.serve(&[]).await;
    let (test_key, live_key) = printed_keys(&server.wait_for_stdout("rv_live_").await);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/reference-requests.sh"
    );

    let passed = tokio::process::Command::new("bash")
        .args([script, &server.address, &live_key])
        .output()
        .await
        .unwrap();
    let wrong_key = tokio::process::Command::new("bash")
        .args([
            script,
            &server.address,
            &format!("rv_live_{}", "x".repeat(32)),
        ])
        .output()
        .await
        .unwrap();
    server.kill().await;

    let report = String::from_utf8_lossy(&passed.stdout).into_owned()
        + &String::from_utf8_lossy(&passed.stderr);
    assert!(passed.status.success(), "{report}");
    assert_eq!(report.matches("ok ").count(), 4, "{report}");
    assert!(
        !wrong_key.status.success(),
        "the script fails when an answer is wrong"
    );
    assert!(!test_key.is_empty());
}

/// Creates customers with idempotency keys `w{worker}-{n}` until a request fails; returns
/// (key, customer id) of every create answered 201, and the keys sent. Counts answers in
/// `answered`.
async fn create_until_failure(
    address: String,
    key: String,
    worker: usize,
    answered: Arc<AtomicUsize>,
) -> (Vec<(String, String)>, Vec<String>) {
    let client = reqwest::Client::new();
    let (mut acknowledged, mut sent) = (Vec::new(), Vec::new());
    for n in 0.. {
        let idempotency_key = format!("w{worker}-{n}");
        sent.push(idempotency_key.clone());
        let response = client
            .post(format!("{address}/v1/customers"))
            .bearer_auth(&key)
            .header("Idempotency-Key", &idempotency_key)
            .json(&json!({"full_name": idempotency_key}))
            .send()
            .await;
        let Ok(response) = response else { break };
        if response.status() != 201 {
            break;
        }
        let Ok(body) = response.json::<Value>().await else {
            break;
        };
        acknowledged.push((idempotency_key, body["id"].as_str().unwrap().to_owned()));
        answered.fetch_add(1, Ordering::Relaxed);
    }
    (acknowledged, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_create_answered_201_survives_a_sigkill_under_load() {
    let database = Database::fresh();
    let mut server = database.serve(&[("RENVO_RATE_LIMIT", "0")]).await;
    let (key, _) = printed_keys(&server.wait_for_stdout("rv_live_").await);

    let answered = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let address = server.address.clone();
            tokio::spawn(create_until_failure(
                address,
                key.clone(),
                worker,
                answered.clone(),
            ))
        })
        .collect();
    for _ in 0..300 {
        if answered.load(Ordering::Relaxed) >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill().await;
    let (mut acknowledged, mut sent) = (Vec::new(), Vec::new());
    for worker in workers {
        let (acked, keys) = worker.await.unwrap();
        acknowledged.extend(acked);
        sent.extend(keys);
    }
    assert!(
        acknowledged.len() >= 150,
        "only {} creates under load",
        acknowledged.len()
    );

    let mut restarted = database.serve(&[("RENVO_RATE_LIMIT", "0")]).await;
    assert_kept_after_restart(&restarted, &key, &acknowledged, &sent).await;
    restarted.kill().await;
}

/// Every acknowledged customer is there, and retrying every key sent (answered or not) creates
/// or replays: no key is left stuck in flight by the crash.
async fn assert_kept_after_restart(
    server: &Server,
    key: &str,
    acknowledged: &[(String, String)],
    sent: &[String],
) {
    for (_, id) in acknowledged {
        let kept = get(server, &format!("/v1/customers/{id}"), key).await;
        assert_eq!(
            kept.status, 200,
            "customer {id} was answered 201 and then lost"
        );
    }
    let mut created_events: Vec<String> = walk(server, key, "/v1/events?type=customer.created")
        .await
        .iter()
        .map(|event| event["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    let mut customers: Vec<String> = walk(server, key, "/v1/customers?")
        .await
        .iter()
        .map(|customer| customer["id"].as_str().unwrap().to_owned())
        .collect();
    created_events.sort();
    customers.sort();
    assert_eq!(
        created_events, customers,
        "each kept customer kept its event"
    );

    let client = reqwest::Client::new();
    for idempotency_key in sent {
        let retried = client
            .post(server.url("/v1/customers"))
            .bearer_auth(key)
            .header("Idempotency-Key", idempotency_key)
            .json(&json!({"full_name": idempotency_key}))
            .send()
            .await
            .unwrap();
        assert_eq!(retried.status(), 201, "no key is left stuck after a crash");
        let body: Value = retried.json().await.unwrap();
        if let Some((_, id)) = acknowledged.iter().find(|(k, _)| k == idempotency_key) {
            assert_eq!(
                body["id"],
                id.as_str(),
                "a retry replays the acknowledged create"
            );
        }
    }
}

/// Every object of a list, page by page (`list` ends in `?` or a query).
async fn walk(server: &Server, key: &str, list: &str) -> Vec<Value> {
    let mut objects = Vec::new();
    let mut path = format!("{list}&limit=100");
    loop {
        let page = get(server, &path, key).await;
        objects.extend(page.body["data"].as_array().unwrap().iter().cloned());
        let Some(cursor) = page.body["next_cursor"].as_str() else {
            return objects;
        };
        path = format!("{list}&limit=100&starting_after={cursor}");
    }
}
