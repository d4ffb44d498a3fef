//! Direct access to a test's database, beside the API: holding writes back so a request stays
//! in flight, raw SQL on the test's PostgreSQL schema, and a relay that can cut it off.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::helpers::TestApp;

/// Writes to the held table (on SQLite, every write) wait while this is held; reads go on.
pub enum WriteHold {
    /// A transaction holding SQLite's one write lock.
    Sqlite(SqliteConnection),
    /// A transaction holding a table lock that conflicts with every row write on its table.
    Postgres(PgConnection),
}

impl TestApp {
    /// Holds writes back until the returned hold is released.
    pub async fn hold_writes(&self) -> WriteHold {
        self.hold_writes_to("customers").await
    }

    /// Holds writes to `table` back (on SQLite, every write) until the hold is released.
    pub async fn hold_writes_to(&self, table: &str) -> WriteHold {
        if self.database_url.starts_with("sqlite:") {
            let mut conn = SqliteConnection::connect(&self.database_url)
                .await
                .expect("open the SQLite file");
            conn.execute("BEGIN IMMEDIATE")
                .await
                .expect("take the write lock");
            WriteHold::Sqlite(conn)
        } else {
            let mut conn = self.postgres().await;
            let lock = format!("BEGIN; LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE");
            sqlx::raw_sql(sqlx::AssertSqlSafe(lock))
                .execute(&mut conn)
                .await
                .expect("lock the table");
            WriteHold::Postgres(conn)
        }
    }

    /// A connection to the test's PostgreSQL schema.
    pub async fn postgres(&self) -> PgConnection {
        PgConnection::connect(&self.database_url)
            .await
            .expect("connect to the test schema")
    }
}

impl WriteHold {
    /// Returns once a writer waits on this hold. PostgreSQL says so; SQLite cannot, so a
    /// generous pause stands in.
    pub async fn wait_for_a_blocked_writer(&mut self) {
        match self {
            WriteHold::Sqlite(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            WriteHold::Postgres(conn) => wait_until_blocking(conn).await,
        }
    }

    /// Ends the hold without having changed anything.
    pub async fn release(self) {
        match self {
            WriteHold::Sqlite(mut conn) => conn.execute("ROLLBACK").await.map(drop),
            WriteHold::Postgres(mut conn) => conn.execute("ROLLBACK").await.map(drop),
        }
        .expect("release the hold");
    }
}

/// Waits until some session waits on a lock this connection holds.
pub async fn wait_until_blocking(conn: &mut PgConnection) {
    for _ in 0..100 {
        let blocked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("read pg_stat_activity");
        if blocked > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no session waited on the held lock within 5 s");
}

/// A TCP relay on 127.0.0.1 in front of PostgreSQL: stopping it cuts every connection through
/// it and refuses new ones, as a database gone away would.
pub struct Relay {
    pub port: u16,
    upstream: String,
    accepting: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    pub async fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let accepting = Some(tokio::spawn(relay(listener, upstream.clone())));
        Relay {
            port,
            upstream,
            accepting,
        }
    }

    /// Cuts open connections and refuses new ones.
    pub async fn stop(&mut self) {
        if let Some(task) = self.accepting.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Accepts connections again, on the same port.
    pub async fn resume(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the relay again");
        self.accepting = Some(tokio::spawn(relay(listener, self.upstream.clone())));
    }
}

/// Relays each accepted connection; aborting this task drops (and so cuts) them all.
async fn relay(listener: TcpListener, upstream: String) {
    let mut connections = JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        let upstream = upstream.clone();
        connections.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
        while connections.try_join_next().is_some() {}
    }
}
