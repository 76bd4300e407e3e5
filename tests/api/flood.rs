//! A flood of idle connections beyond the file limit, against the binary as an attacker
//! on the same network would send it (SPEC §9, transport bounds): the ops listener
//! answers every probe within 2 s, fresh clients are served, the process stays below its
//! file limit and never fails to accept, and once the flood stops the public port
//! answers at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{Launch, Served, sample};

/// The service's limit on open files: small, so the test floods it many times over.
const FILES: u64 = 1024;
/// How many connections the attackers hold at once, together.
const HELD: usize = 3 * FILES as usize;
/// Attacking tasks, each from source addresses of its own (a loopback address has some
/// 28,000 ports, and every closed connection keeps its pair of ports for a minute).
const ATTACKERS: u8 = 4;
const SOURCES_PER_ATTACKER: u8 = 4;
const FLOOD: Duration = Duration::from_secs(10);
/// The flood goes on past [`FLOOD`] until it has opened twice the file limit, for at most
/// this long: on a busy machine the attackers open fewer connections a second.
const FLOOD_AT_MOST: Duration = Duration::from_secs(40);

/// Opens connections as fast as it can and sends nothing on them, holding the newest
/// `held`; counts what it opened.
async fn attack(
    target: SocketAddr,
    first_source: u8,
    held: usize,
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicU64>,
) {
    let mut holding = std::collections::VecDeque::with_capacity(held);
    let mut source = 0u8;
    while !stop.load(Ordering::Relaxed) {
        source = (source + 1) % SOURCES_PER_ATTACKER;
        let from: SocketAddr = format!("127.0.0.{}:0", first_source + source)
            .parse()
            .unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        if socket.bind(from).is_err() {
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(2), socket.connect(target)).await {
            Ok(Ok(stream)) => {
                opened.fetch_add(1, Ordering::Relaxed);
                if holding.len() == held {
                    holding.pop_front();
                }
                holding.push_back(stream);
            }
            // The server's accept queue is full for now, or the ports of a source are
            // all in use: try the next one.
            _ => tokio::task::yield_now().await,
        }
    }
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_beyond_the_file_limit_locks_nobody_out() {
    // The attackers hold three times the service's files: this process needs as many.
    let own = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        own > HELD as u64 + 500,
        "the test needs {HELD} files of its own, has {own}"
    );
    let served = Served::launch(Launch {
        file_limit: Some(FILES),
        env: vec![
            ("RUST_LOG", "warn,control_tower::server=info".to_owned()),
            (
                "CONTROL_TOWER_SYSTEM_CONSOLE__METRICS__LISTEN",
                "127.0.0.1:0".to_owned(),
            ),
        ],
        ..Launch::default()
    });
    let ops = served
        .printed
        .iter()
        .find_map(|line| line.strip_prefix("Metrics: "))
        .expect("the ops address is printed")
        .trim_end_matches("/metrics")
        .to_owned();
    let target: SocketAddr = served.address.parse().unwrap();
    let pid = served.child.id();
    // Every probe and client on a connection of its own, as orchestrators and new
    // visitors come.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicU64::new(0));
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|attacker| {
            tokio::spawn(attack(
                target,
                2 + attacker * SOURCES_PER_ATTACKER,
                HELD / usize::from(ATTACKERS),
                stop.clone(),
                opened.clone(),
            ))
        })
        .collect();

    let mut probes = Vec::new();
    let mut fresh = Vec::new();
    let mut most_files = 0;
    let started = Instant::now();
    // Let the flood reach the cap first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flooding = || {
        started.elapsed() < FLOOD
            || (opened.load(Ordering::Relaxed) <= 2 * FILES && started.elapsed() < FLOOD_AT_MOST)
    };
    while flooding() {
        for probe in ["/healthz", "/readyz"] {
            let asked = Instant::now();
            let answer = tokio::time::timeout(
                Duration::from_secs(2),
                client.get(format!("{ops}{probe}")).send(),
            )
            .await
            .unwrap_or_else(|_| panic!("{probe} on the ops listener within 2 s"))
            .unwrap_or_else(|error| panic!("{probe} on the ops listener: {error}"));
            assert_eq!(answer.status(), 200, "{probe}");
            probes.push(asked.elapsed());
        }
        let asked = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            client
                .post(served.url("/graphql"))
                .bearer_auth(&served.token)
                .json(&json!({"query": "{ viewer { email } }"}))
                .send(),
        )
        .await
        .expect("a fresh client is served during the flood")
        .expect("a fresh client is answered");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(
            body["data"]["viewer"]["email"], "demo@control-tower.example",
            "{body}"
        );
        fresh.push(asked.elapsed());
        most_files = most_files.max(open_files(pid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = client
        .get(format!("{ops}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.await.unwrap();
    }
    let opened = opened.load(Ordering::Relaxed);

    // Once the attackers let go, the public port answers at once.
    let asked = Instant::now();
    let after = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(target))
        .await
        .expect("the public port accepts at once");
    drop(after);
    let answer = tokio::time::timeout(
        Duration::from_secs(1),
        client.get(served.url("/healthz")).send(),
    )
    .await
    .expect("the public port answers at once")
    .unwrap();
    assert_eq!(answer.status(), 200);
    let after = asked.elapsed();

    let evicted = sample(
        &metrics,
        r#"control_tower_http_connections_closed_total{listener="api",reason="evicted"}"#,
    );
    let stderr = served.stderr();
    eprintln!(
        "flood: {opened} connections opened in {:.1} s against a file limit of {FILES} ({evicted} evicted); \
         open files at most {most_files}; probes p50 {:?} max {:?} ({} probes); \
         fresh clients p50 {:?} max {:?} ({} clients); public port after the flood {after:?}",
        started.elapsed().as_secs_f64(),
        percentile(&mut probes, 0.5),
        percentile(&mut probes, 1.0),
        probes.len(),
        percentile(&mut fresh, 0.5),
        percentile(&mut fresh, 1.0),
        fresh.len(),
    );
    assert!(
        opened > 2 * FILES,
        "the flood went beyond the file limit: {opened}"
    );
    assert!(evicted > 0.0, "the cap was reached: {metrics}");
    assert!(
        most_files < FILES as usize,
        "below the file limit: {most_files}"
    );
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    assert!(!stderr.contains("cannot accept connections"), "{stderr}");
}
