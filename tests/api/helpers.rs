//! The test harness: a real server on a random 127.0.0.1 port over a fresh database, and a
//! client holding keys of every kind. Tests run once per backend through `backend_tests!`.

use std::sync::Arc;

use renvo::domain::key::Scope;
use renvo::domain::{AccountId, Mode};
use renvo::store::{self, Store};
use renvo::webhook::guard::AddressGuard;
use renvo::{AppState, router};
use serde_json::Value;
use sqlx::Connection;
use tokio::sync::Notify;

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The server URL from `RENVO_TEST_POSTGRES_URL`; each test gets its own schema.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `RENVO_TEST_POSTGRES_URL` is set; `None` skips the test's PostgreSQL run.
    pub fn postgres() -> Option<Backend> {
        std::env::var("RENVO_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .map(Backend::Postgres)
    }

    /// A fresh, empty database for one test, and its URL.
    pub async fn fresh_database(&self, dir: &tempfile::TempDir) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("renvo.db").display()),
            Backend::Postgres(url) => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut admin = sqlx::PgConnection::connect(url)
                    .await
                    .expect("PostgreSQL is reachable");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await
                    .expect("create a test schema");
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}options=-c%20search_path%3D{schema}")
            }
        }
    }
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn name(Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::helpers::Backend::postgres() {
                        Some(backend) => super::$name(backend).await,
                        None => eprintln!("RENVO_TEST_POSTGRES_URL is not set; skipping the PostgreSQL run"),
                    }
                }
            )*
        }
    };
}

/// Generates one `#[tokio::test]` for each listed `async fn name(Backend)` that only makes
/// sense on PostgreSQL (several nodes' locks, its failure modes).
#[macro_export]
macro_rules! postgres_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres_only {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::helpers::Backend::postgres() {
                        Some(backend) => super::$name(backend).await,
                        None => eprintln!("RENVO_TEST_POSTGRES_URL is not set; skipping"),
                    }
                }
            )*
        }
    };
}

/// A running server and the keys to call it with.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub database_url: String,
    pub account: AccountId,
    /// `read_write`, test mode.
    pub key: String,
    /// `read`, test mode.
    pub read_key: String,
    /// `read_write`, live mode.
    pub live_key: String,
    /// Woken by writes; the webhook tests drive delivery through it.
    pub dispatcher: Arc<Notify>,
    _dir: Arc<tempfile::TempDir>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with_rate_limit(backend, 0).await
    }

    pub async fn spawn_with_rate_limit(backend: Backend, rate_limit: u32) -> TestApp {
        // Test receivers listen on 127.0.0.1, which the address guard refuses by default.
        Self::spawn_with(
            backend,
            rate_limit,
            AddressGuard {
                allow_private: true,
            },
        )
        .await
    }

    /// A server whose webhook URLs must point at public addresses, as in production.
    pub async fn spawn_strict(backend: Backend) -> TestApp {
        Self::spawn_with(backend, 0, AddressGuard::strict()).await
    }

    async fn spawn_with(backend: Backend, rate_limit: u32, guard: AddressGuard) -> TestApp {
        renvo::install_tls_provider();
        let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
        let database_url = backend.fresh_database(&dir).await;
        let store = store::open(&database_url, 8).await.expect("open the store");

        let account = store
            .create_account("Test Rentals")
            .await
            .expect("account")
            .id;
        let key = new_key(&store, account, Mode::Test, Scope::ReadWrite).await;
        let read_key = new_key(&store, account, Mode::Test, Scope::Read).await;
        let live_key = new_key(&store, account, Mode::Live, Scope::ReadWrite).await;

        let (address, dispatcher) = serve(store.clone(), rate_limit, guard).await;
        TestApp {
            address,
            client: reqwest::Client::new(),
            store,
            database_url,
            account,
            key,
            read_key,
            live_key,
            dispatcher,
            _dir: dir,
        }
    }

    /// A second node: its own store (pool, writer, in-flight keys) and server over this
    /// app's database, with the same account and keys.
    pub async fn spawn_node(&self) -> TestApp {
        let store = store::open(&self.database_url, 8)
            .await
            .expect("open the store again");
        let (address, dispatcher) = serve(
            store.clone(),
            0,
            AddressGuard {
                allow_private: true,
            },
        )
        .await;
        TestApp {
            address,
            client: reqwest::Client::new(),
            store,
            database_url: self.database_url.clone(),
            account: self.account,
            key: self.key.clone(),
            read_key: self.read_key.clone(),
            live_key: self.live_key.clone(),
            dispatcher,
            _dir: self._dir.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A key of a new, separate account.
    pub async fn other_account_key(&self) -> String {
        let other = self
            .store
            .create_account("Other Rentals")
            .await
            .expect("account")
            .id;
        new_key(&self.store, other, Mode::Test, Scope::ReadWrite).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.get_with(path, &self.key).await
    }

    pub async fn get_with(&self, path: &str, key: &str) -> Reply {
        Reply::of(
            self.client
                .get(self.url(path))
                .bearer_auth(key)
                .send()
                .await
                .expect("GET"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send_json(reqwest::Method::POST, path, &self.key, body)
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        let request = self.client.delete(self.url(path)).bearer_auth(&self.key);
        Reply::of(request.send().await.expect("DELETE")).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send_json(reqwest::Method::PATCH, path, &self.key, body)
            .await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Value,
    ) -> Reply {
        let request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(key)
            .json(&body);
        Reply::of(request.send().await.expect("request")).await
    }

    /// Sends a JSON body with an `Idempotency-Key`.
    pub async fn send_idempotent(
        &self,
        method: reqwest::Method,
        path: &str,
        idempotency_key: &str,
        body: Value,
    ) -> Reply {
        let request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.key)
            .header("idempotency-key", idempotency_key)
            .json(&body);
        Reply::of(request.send().await.expect("request")).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.key)
            .header("content-type", content_type)
            .body(body);
        Reply::of(request.send().await.expect("request")).await
    }

    /// Creates `count` customers, `at_once` requests at a time; returns their ids.
    pub async fn create_customers_concurrently(&self, count: usize, at_once: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        let numbers: Vec<usize> = (0..count).collect();
        for chunk in numbers.chunks(at_once) {
            let mut requests = tokio::task::JoinSet::new();
            for &n in chunk {
                let request = self
                    .client
                    .post(self.url("/v1/customers"))
                    .bearer_auth(&self.key)
                    .json(&serde_json::json!({"full_name": format!("Customer {n}")}));
                requests.spawn(async move { Reply::of(request.send().await.expect("POST")).await });
            }
            while let Some(reply) = requests.join_next().await {
                let reply = reply.expect("request task");
                assert_eq!(reply.status, 201, "{}", reply.body);
                ids.push(reply.body["id"].as_str().expect("an id").to_owned());
            }
        }
        ids
    }

    /// Creates a customer and returns it.
    pub async fn create_customer(&self, body: Value) -> Value {
        let reply = self.post("/v1/customers", body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// Creates customers named `Customer 0`, `Customer 1`, … in order and returns their ids.
    pub async fn create_customers(&self, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let customer = self
                .create_customer(serde_json::json!({"full_name": format!("Customer {n}")}))
                .await;
            ids.push(customer["id"].as_str().expect("id").to_owned());
        }
        ids
    }

    /// Every customer id the key sees, newest first, by walking the list.
    pub async fn customer_ids(&self, key: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut path = "/v1/customers?limit=100".to_owned();
        loop {
            let page = self.get_with(&path, key).await;
            assert_eq!(page.status, 200, "{}", page.body);
            for customer in page.body["data"].as_array().expect("data") {
                ids.push(customer["id"].as_str().expect("id").to_owned());
            }
            match page.body["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/customers?limit=100&starting_after={cursor}"),
                None => return ids,
            }
        }
    }

    /// How many customers the test-mode `read_write` key sees.
    pub async fn customer_count(&self) -> usize {
        self.customer_ids(&self.key).await.len()
    }

    /// The database file when the backend is SQLite.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self.database_url
            .strip_prefix("sqlite://")
            .map(std::path::PathBuf::from)
    }

    /// A second connection to the SQLite database the server uses.
    pub async fn sqlite_connection(&self) -> sqlx::SqliteConnection {
        sqlx::SqliteConnection::connect(&self.database_url)
            .await
            .expect("open the SQLite database")
    }
}

/// Serves the router over `store` on a random 127.0.0.1 port.
async fn serve(
    store: Arc<dyn Store>,
    rate_limit: u32,
    guard: AddressGuard,
) -> (String, Arc<Notify>) {
    let dispatcher = Arc::new(Notify::new());
    let state = AppState::new(store, rate_limit, dispatcher.clone()).with_webhook_guard(guard);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let limits = renvo::http::server::ConnectionLimits::default();
    let never = tokio_util::sync::CancellationToken::new();
    tokio::spawn(renvo::http::server::serve(
        listener,
        router(state),
        limits,
        never,
    ));
    (address, dispatcher)
}

async fn new_key(store: &Arc<dyn Store>, account: AccountId, mode: Mode, scope: Scope) -> String {
    let (_, secret) = store
        .create_api_key(account, mode, scope)
        .await
        .expect("key");
    secret.expose().to_owned()
}

/// A response, its body parsed as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn of(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("body is JSON: {}", String::from_utf8_lossy(&bytes)));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts an error envelope with this status, code and param, in JSON, with the request
    /// id of its `Request-Id` header and the served `Renvo-Version`.
    pub fn assert_error(&self, status: u16, code: &str, param: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        assert_eq!(self.body["error"]["param"].as_str(), param, "{}", self.body);
        let request_id = self.header("request-id").expect("a Request-Id header");
        assert!(request_id.starts_with("req_"), "{request_id}");
        assert_eq!(
            self.body["error"]["request_id"], request_id,
            "{}",
            self.body
        );
        assert_eq!(self.header("renvo-version"), Some("2026-05-05"));
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        let fields: Vec<&str> = self.body["error"]
            .as_object()
            .expect("an error object")
            .keys()
            .map(String::as_str)
            .collect();
        let expected: &[&str] = match param {
            Some(_) => &["type", "message", "param", "code", "request_id"],
            None => &["type", "message", "code", "request_id"],
        };
        assert_eq!(fields, expected, "{}", self.body);
        assert_eq!(self.body.as_object().map(|o| o.len()), Some(1));
    }
}
