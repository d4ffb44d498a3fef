//! The real `renvo` binary as a user runs it: commands over a database in a temporary
//! directory, and `serve` on a free 127.0.0.1 port, always stopped by its pid.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

pub const BINARY: &str = env!("CARGO_BIN_EXE_renvo");

/// A database directory the binary's commands share.
pub struct Database {
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Database {
    pub fn fresh() -> Database {
        // The tests' HTTP clients need it, even without HTTPS.
        renvo::install_tls_provider();
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("renvo.db").display());
        Database { url, _dir: dir }
    }

    /// Runs a command to completion; its exit status, stdout and stderr.
    pub async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(BINARY)
            .args(args)
            .arg("--database-url")
            .arg(&self.url)
            .env("RUST_LOG", "info")
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(30), output)
            .await
            .expect("the command finishes within 30 s")
            .expect("run renvo");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8(output.stdout).expect("stdout is text"),
            String::from_utf8(output.stderr).expect("stderr is text"),
        )
    }

    /// Starts `renvo serve` on a free port and waits until `/healthz` answers.
    pub async fn serve(&self, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--database-url")
            .arg(&self.url)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start renvo serve");
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        let server = Server {
            child,
            address: format!("http://127.0.0.1:{port}"),
            stdout,
            stderr,
        };
        server.wait_until_healthy().await;
        server
    }
}

/// A running `renvo serve`.
pub struct Server {
    pub child: Child,
    pub address: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// What the server printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn wait_until_healthy(&self) {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let answer = client.get(self.url("/healthz")).send().await;
            if answer.is_ok_and(|reply| reply.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "renvo serve did not answer /healthz within 10 s: {}",
            self.stderr()
        );
    }

    /// Sends SIGTERM to the server's pid.
    pub async fn terminate(&self) {
        self.signal("TERM").await;
    }

    /// Sends a signal (`TERM`, `INT`, …) to the server's pid.
    pub async fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(status.success());
    }

    /// Sends SIGKILL to the server's pid and reaps it.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill the server");
    }

    /// Waits for the server to exit; its exit code.
    pub async fn exit_code(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(Duration::from_secs(40), self.child.wait())
            .await
            .expect("the server exits within 40 s")
            .expect("wait for the server");
        // Let the output collectors read what was left in the pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        status.code()
    }

    /// Polls stdout until it holds `needle`, for at most five seconds.
    pub async fn wait_for_stdout(&self, needle: &str) -> String {
        for _ in 0..100 {
            let printed = self.stdout();
            if printed.contains(needle) {
                return printed;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("stdout never showed `{needle}`: {}", self.stdout());
    }
}

/// The keys a first start printed: (test key, live key).
pub fn printed_keys(stdout: &str) -> (String, String) {
    let find = |prefix: &str| -> Vec<String> {
        stdout
            .split_whitespace()
            .filter(|word| word.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    };
    let (test, live) = (find("rv_test_"), find("rv_live_"));
    assert_eq!((test.len(), live.len()), (1, 1), "{stdout}");
    (test[0].clone(), live[0].clone())
}

fn collect<R>(pipe: Option<R>) -> Arc<Mutex<String>>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    if let Some(mut pipe) = pipe {
        tokio::spawn(async move {
            let mut buffer = [0_u8; 4096];
            while let Ok(read) = pipe.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
    }
    text
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}
