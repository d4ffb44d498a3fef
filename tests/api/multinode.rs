//! Two `renvo serve` processes on one PostgreSQL schema, as behind a load balancer: writes
//! through either are read through either; each of 500 events reaches a local receiver
//! exactly once while both run; and after one node is SIGKILLed with deliveries in flight,
//! the other sends every event once the dead node's leases run out.

mod claims;
mod cluster;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::task::JoinSet;

use self::cluster::{Api, LEASE, Node, cli, queue_when_settled};
use crate::helpers::Backend;
use crate::postgres_tests;
use crate::receiver::{Answer, Received, Receiver};
use crate::webhooks::assert_signed;

postgres_tests!(two_serve_processes_share_one_database_and_deliver_every_event);

/// Customers made in the first part; each is then updated once, through the other node.
const CUSTOMERS: usize = 250;
/// Customers made while the receiver is down.
const BACKLOG: usize = 100;
/// Attempts one node keeps in flight to one endpoint (`DispatcherConfig::per_endpoint_limit`).
const IN_FLIGHT_PER_NODE: usize = 16;

async fn two_serve_processes_share_one_database_and_deliver_every_event(backend: Backend) {
    renvo::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = backend.fresh_database(&dir).await;
    cli(&url, &["accounts", "create", "--name", "Two Nodes"]).await;
    let key = cli(&url, &["keys", "create", "--scope", "read_write"]).await;
    let key = key.trim().to_owned();
    let receiver = Receiver::start(Answer::Status(204)).await;
    let nodes = [Node::start("a", &url).await, Node::start("b", &url).await];

    let made = nodes[1]
        .send(
            &key,
            Method::POST,
            "/v1/webhook_endpoints",
            json!({"url": receiver.url("/hook"), "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let secret = made.body["secret"].as_str().unwrap().to_owned();

    let customers = create_and_update_through_both(&nodes, &key).await;
    let events = reads_through_either_see_every_write(&nodes, &key, &customers).await;
    each_event_arrives_exactly_once(&nodes, &url, &receiver, &secret, &events).await;

    let [a, b] = nodes;
    every_event_arrives_after_a_node_dies(a, &b, &key, &url, &receiver, &events).await;
    b.kill().await;
}

/// Creates `CUSTOMERS` customers, alternating nodes, and updates each through the other
/// node: 500 events. Answers each customer's id and the node that updated it.
async fn create_and_update_through_both(nodes: &[Node; 2], key: &str) -> Vec<(String, usize)> {
    let mut made = Vec::new();
    let numbers: Vec<usize> = (0..CUSTOMERS).collect();
    for chunk in numbers.chunks(16) {
        let mut writes = JoinSet::new();
        for &n in chunk {
            let (creator, updater) = (nodes[n % 2].api(), nodes[(n + 1) % 2].api());
            let key = key.to_owned();
            writes.spawn(async move {
                let body = json!({"full_name": format!("Customer {n}")});
                let created = creator
                    .send(&key, Method::POST, "/v1/customers", body)
                    .await;
                assert_eq!(created.status, 201, "{}", created.body);
                let id = created.body["id"].as_str().unwrap().to_owned();
                let patch = json!({"notes": format!("updated through {}", updater.name)});
                let path = format!("/v1/customers/{id}");
                let updated = updater.send(&key, Method::PATCH, &path, patch).await;
                assert_eq!(updated.status, 200, "{}", updated.body);
                (id, (n + 1) % 2)
            });
        }
        while let Some(written) = writes.join_next().await {
            made.push(written.unwrap());
        }
    }
    made
}

/// Every customer, read through each node, shows its update; both nodes list every customer
/// and every event. Answers the event ids.
async fn reads_through_either_see_every_write(
    nodes: &[Node; 2],
    key: &str,
    customers: &[(String, usize)],
) -> HashSet<String> {
    for (id, updater) in customers {
        for node in nodes {
            let read = node.get(key, &format!("/v1/customers/{id}")).await;
            assert_eq!(read.status, 200, "{}", read.body);
            let expected = format!("updated through {}", nodes[*updater].name);
            assert_eq!(
                read.body["notes"],
                json!(expected),
                "read through {}",
                node.name
            );
        }
    }
    let written: HashSet<&str> = customers.iter().map(|(id, _)| id.as_str()).collect();
    let mut events = Vec::new();
    for node in nodes {
        let listed = node.walk(key, "/v1/customers").await;
        let listed: HashSet<&str> = listed.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(listed, written, "customers listed through {}", node.name);
        events.push(event_ids(node, key).await);
    }
    assert_eq!(events[0], events[1], "both nodes list the same events");
    assert_eq!(events[0].len(), 2 * CUSTOMERS);
    events.swap_remove(0)
}

async fn event_ids(node: &Api, key: &str) -> HashSet<String> {
    let events = node.walk(key, "/v1/events").await;
    events
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Each event arrived once, signed; the queue shows one attempt per delivery; both nodes
/// delivered a share of them.
async fn each_event_arrives_exactly_once(
    nodes: &[Node; 2],
    url: &str,
    receiver: &Receiver,
    secret: &str,
    events: &HashSet<String>,
) {
    let expected = events.len();
    let received = receiver.wait_for(expected, Duration::from_secs(30)).await;
    let queue = queue_when_settled(url, expected as i64).await;
    // Anything sent twice would have arrived by the time its second attempt was recorded.
    let received_after = receiver.received();
    let (unique, duplicates) = tally(&received_after);
    eprintln!(
        "two nodes: {} deliveries received, {} distinct, {duplicates} duplicates; {queue:?}",
        received_after.len(),
        unique.len()
    );

    assert!(received.len() >= expected);
    assert_eq!(
        duplicates, 0,
        "no event is delivered twice while both nodes run"
    );
    assert_eq!(&unique, events, "every event arrived");
    received_after.iter().for_each(|r| assert_signed(r, secret));
    assert_eq!(queue.succeeded, expected as i64);
    assert_eq!(
        queue.attempts_counted, expected as i64,
        "one attempt per delivery"
    );
    assert_eq!(queue.attempts_logged, expected as i64);

    let shares = [
        nodes[0].deliveries_succeeded().await,
        nodes[1].deliveries_succeeded().await,
    ];
    eprintln!("deliveries made by node a and node b: {shares:?}");
    assert!(
        shares.iter().all(|&share| share > 0),
        "both nodes deliver: {shares:?}"
    );
    assert_eq!(shares.iter().sum::<u64>(), expected as u64);
}

/// The distinct `webhook-id`s received, and how many requests repeated one.
fn tally(received: &[Received]) -> (HashSet<String>, usize) {
    let unique: HashSet<String> = received
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    let duplicates = received.len() - unique.len();
    (unique, duplicates)
}

/// With the receiver hanging (it takes requests and answers nothing within the 10 s timeout),
/// both nodes fill their slots; node a is SIGKILLed with its attempts in flight and the
/// receiver comes back. Every backlog event must then arrive: node b's own after their
/// timeouts, node a's once their leases run out. Duplicates are allowed now (at least once).
async fn every_event_arrives_after_a_node_dies(
    a: Node,
    b: &Node,
    key: &str,
    url: &str,
    receiver: &Receiver,
    before: &HashSet<String>,
) {
    receiver.answer(Answer::Hang(Duration::from_secs(60)));
    let started = Instant::now();
    create_backlog([a.api(), b.api()], key).await;
    let hanging = arrivals_since(receiver, started, 2 * IN_FLIGHT_PER_NODE).await;
    assert_eq!(
        hanging.len(),
        2 * IN_FLIGHT_PER_NODE,
        "both nodes have every slot taken"
    );

    a.kill().await;
    receiver.answer(Answer::Status(204));
    let up = Instant::now();
    let backlog: HashSet<String> = event_ids(b, key)
        .await
        .difference(before)
        .cloned()
        .collect();
    assert_eq!(backlog.len(), BACKLOG);
    assert_eq!(
        arrivals_since(receiver, started, 0).await.len(),
        hanging.len()
    );

    let deadline = Instant::now() + LEASE + Duration::from_secs(20);
    let (arrived, duplicates) = loop {
        let (arrived, duplicates) = tally(&arrivals_since(receiver, up, 0).await);
        if arrived.is_superset(&backlog) || Instant::now() > deadline {
            break (arrived, duplicates);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = started.elapsed();
    let queue = queue_when_settled(url, (2 * CUSTOMERS + BACKLOG) as i64).await;
    eprintln!(
        "after SIGKILL: {} of {BACKLOG} backlog events arrived, {duplicates} duplicates, in \
         {took:?}; {queue:?}",
        arrived.intersection(&backlog).count()
    );

    assert_eq!(
        arrived, backlog,
        "every backlog event arrived once the receiver was up"
    );
    assert!(
        took >= LEASE,
        "the dead node's deliveries waited for their lease"
    );
    assert_eq!(queue.succeeded, queue.deliveries);
}

/// `BACKLOG` customers, through both nodes in turn.
async fn create_backlog(nodes: [Api; 2], key: &str) {
    let mut writes = JoinSet::new();
    for n in 0..BACKLOG {
        let node = nodes[n % 2].clone();
        let key = key.to_owned();
        writes.spawn(async move {
            let body = json!({"full_name": format!("Backlog {n}")});
            let created = node.send(&key, Method::POST, "/v1/customers", body).await;
            assert_eq!(created.status, 201, "{}", created.body);
        });
        if writes.len() >= 10 {
            writes.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(written) = writes.join_next().await {
        written.unwrap();
    }
}

/// The requests that arrived since `since`, once there are at least `count` (bounded wait).
async fn arrivals_since(receiver: &Receiver, since: Instant, count: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let arrived: Vec<Received> = receiver
            .received()
            .into_iter()
            .filter(|r| r.at >= since)
            .collect();
        if arrived.len() >= count || Instant::now() > deadline {
            return arrived;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
