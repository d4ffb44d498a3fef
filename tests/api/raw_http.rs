//! HTTP/1.1 by hand over a plain socket, for requests an HTTP client would tidy up first
//! (dot segments in paths) or send differently (bodies the server should stop reading).

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw answer: status, header lines (lower-cased names) and the body parsed as JSON.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The `host:port` of an `http://host:port` address.
pub fn authority(address: &str) -> &str {
    address.trim_start_matches("http://")
}

/// Sends `head` (request line and headers, without the blank line) and `body` on a fresh
/// connection that the request closes, and reads the whole answer.
pub async fn send(address: &str, head: &str, body: &[u8]) -> RawReply {
    let mut stream = TcpStream::connect(authority(address))
        .await
        .expect("connect");
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write head");
    stream.write_all(body).await.expect("write body");
    read_reply(&mut stream).await
}

/// Reads a whole answer from a connection the server closes after it.
pub async fn read_reply(stream: &mut TcpStream) -> RawReply {
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes))
        .await
        .expect("the server answers within 10 s")
        .expect("read the answer");
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> RawReply {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("body is JSON: {body}"));
    RawReply {
        status,
        headers,
        body,
    }
}
