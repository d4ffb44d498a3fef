//! `renvo serve` processes on one database for the multi-node test: started on free
//! 127.0.0.1 ports, called over HTTP, killed by pid. Also the CLI and direct looks at the
//! delivery queue.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{Connection, Row};
use tokio::process::{Child, Command};

use crate::helpers::Reply;

/// How long a node holds what it claims: the shortest `RENVO_WEBHOOK_LEASE` allows.
pub const LEASE: Duration = Duration::from_secs(15);

/// One `renvo serve` process; its HTTP API through `Deref`.
pub struct Node {
    api: Api,
    child: Child,
}

/// A node's HTTP API: cheap to clone into concurrent requests.
#[derive(Clone)]
pub struct Api {
    pub name: &'static str,
    pub base: String,
    client: reqwest::Client,
}

impl std::ops::Deref for Node {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Node {
    /// Starts a node on a free port and waits (bounded) until it answers `/readyz`.
    pub async fn start(name: &'static str, database_url: &str) -> Node {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_renvo"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("RENVO_DATABASE_URL", database_url)
            .env("RENVO_DATABASE_MAX_CONNECTIONS", "8")
            .env("RENVO_WEBHOOK_ALLOW_PRIVATE", "1")
            .env("RENVO_WEBHOOK_RETRY_SCHEDULE", "200ms,500ms,1s,1s,1s,1s")
            .env("RENVO_WEBHOOK_LEASE", format!("{}s", LEASE.as_secs()))
            .env("RENVO_RATE_LIMIT", "0")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A panicking test still stops its nodes.
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let api = Api {
            name,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let node = Node { api, child };
        node.wait_until_ready().await;
        node
    }

    async fn wait_until_ready(&self) {
        let client = &self.client;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let ready = client.get(format!("{}/readyz", self.base)).send().await;
            if ready.is_ok_and(|reply| reply.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("node {} did not come up", self.name);
    }

    /// A handle on its API for concurrent requests.
    pub fn api(&self) -> Api {
        self.api.clone()
    }

    /// SIGKILL by pid, then reaps the process.
    pub async fn kill(mut self) {
        let pid = self.child.id().expect("the node is running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -KILL {pid}");
        tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .expect("the node exits")
            .unwrap();
    }
}

impl Api {
    pub async fn send(&self, key: &str, method: reqwest::Method, path: &str, body: Value) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(key);
        if method != reqwest::Method::GET {
            request = request.json(&body);
        }
        Reply::of(request.send().await.unwrap()).await
    }

    pub async fn get(&self, key: &str, path: &str) -> Reply {
        self.send(key, reqwest::Method::GET, path, json!(null))
            .await
    }

    /// Every item of a list, walking its pages of 100.
    pub async fn walk(&self, key: &str, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(after) => format!("{path}?limit=100&starting_after={after}"),
                None => format!("{path}?limit=100"),
            };
            let page = self.get(key, &page_path).await;
            assert_eq!(page.status, 200, "{}", page.body);
            items.extend(page.body["data"].as_array().unwrap().iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }

    /// The node's own count of successful deliveries, from its `/metrics`.
    pub async fn deliveries_succeeded(&self) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|line| line.starts_with("renvo_webhook_deliveries_total{outcome=\"succeeded\"}"))
            .and_then(|line| line.rsplit(' ').next())
            .map_or(0, |count| count.parse().unwrap())
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs `renvo ARGS` on the database and answers its stdout; it must succeed.
pub async fn cli(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_renvo"))
        .args(args)
        .env("RENVO_DATABASE_URL", database_url)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "renvo {args:?}: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// The delivery queue as the database holds it.
#[derive(Debug, PartialEq, Eq)]
pub struct Queue {
    pub deliveries: i64,
    pub succeeded: i64,
    /// Attempts counted on the deliveries, and rows in the attempt log.
    pub attempts_counted: i64,
    pub attempts_logged: i64,
}

pub async fn queue(database_url: &str) -> Queue {
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    let row = sqlx::query(
        "SELECT COUNT(*) AS deliveries, \
         COUNT(*) FILTER (WHERE state = 'succeeded') AS succeeded, \
         COALESCE(SUM(attempt_count), 0)::bigint AS attempts_counted, \
         (SELECT COUNT(*) FROM webhook_attempts) AS attempts_logged \
         FROM webhook_deliveries",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    Queue {
        deliveries: row.get("deliveries"),
        succeeded: row.get("succeeded"),
        attempts_counted: row.get("attempts_counted"),
        attempts_logged: row.get("attempts_logged"),
    }
}

/// Waits (bounded) until every queued delivery is recorded as succeeded; answers the queue.
pub async fn queue_when_settled(database_url: &str, deliveries: i64) -> Queue {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = queue(database_url).await;
        let settled = now.deliveries == deliveries && now.succeeded == deliveries;
        if settled || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
