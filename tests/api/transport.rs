//! Transport bounds (SPEC §9), over raw sockets against the real server: clients that
//! send nothing, trickle their headers or body, or keep a connection idle are closed at
//! the configured deadlines; at the connection cap the oldest connection without a
//! request makes room, WebSockets count and are never evicted. The flood beyond the
//! file limit runs against the binary, in `flood`.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Backend, TestApp, sample};
use crate::subscriptions::Socket;

/// Short deadlines, so the tests wait seconds, not minutes.
async fn hasty(max_connections: Option<u32>) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |config| {
        let limits = &mut config.system_console.limits;
        limits.header_read_timeout_seconds = 1;
        limits.keep_alive_seconds = 2;
        limits.request_timeout_seconds = 2;
        limits.max_connections = max_connections;
        config.database_statement_timeout_ms = 1_000;
    })
    .await
}

/// What a connection received until the server closed it, and when that was; `None`
/// if it was still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<(Duration, String)> {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = within.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => {
                return Some((
                    started.elapsed(),
                    String::from_utf8_lossy(&received).into_owned(),
                ));
            }
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Whether the server has closed `stream` (reads EOF, or the connection was reset).
async fn is_closed(stream: &mut TcpStream) -> bool {
    closed_within(stream, Duration::from_millis(300))
        .await
        .is_some()
}

/// One whole response to `GET /healthz` on a kept-alive connection.
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    while !received.ends_with(b"ok") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(read > 0, "closed before answering");
        received.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// The value of `series` in `/metrics`, read on a connection of its own that closes at
/// once, so the scrape leaves no kept-alive connection behind to be counted.
async fn metric(app: &TestApp, series: &str) -> f64 {
    let scraper = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let metrics = scraper.get(app.url("/metrics")).send().await.unwrap();
    sample(&metrics.text().await.unwrap(), series)
}

/// How many connections of the public listener the service closed for `reason`.
async fn closed(app: &TestApp, reason: &str) -> f64 {
    let series = format!(
        r#"control_tower_http_connections_closed_total{{listener="api",reason="{reason}"}}"#
    );
    metric(app, &series).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_read_timeout() {
    let app = hasty(None).await;
    let mut silent = TcpStream::connect(app.address).await.unwrap();
    let (after, received) = closed_within(&mut silent, Duration::from_secs(5))
        .await
        .expect("a silent connection is closed");
    assert!(
        after >= Duration::from_millis(800),
        "not before the timeout: {after:?}"
    );
    assert_eq!(received, "", "closed without an answer");
    assert_eq!(closed(&app, "header_timeout").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_trickled_in_is_closed_at_the_header_read_timeout() {
    let app = hasty(None).await;
    let mut trickling = TcpStream::connect(app.address).await.unwrap();
    trickling
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut cut_off = None;
    // A header line about every half second (200 ms, then 300 ms watching for the
    // close), for up to 15 s: far longer than the timeout allows.
    for line in 0..30 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let header = format!("X-Line-{line}: {line}\r\n");
        if trickling.write_all(header.as_bytes()).await.is_err() || is_closed(&mut trickling).await
        {
            cut_off = Some(started.elapsed());
            break;
        }
    }
    let cut_off = cut_off.expect("a trickled head is cut off");
    assert!(
        cut_off < Duration::from_secs(4),
        "cut off at the timeout: {cut_off:?}"
    );
}

/// A body refused before it was read whole: the server closes lingering, reading what
/// is still on its way, so the client reads the answer rather than a reset. Repeated,
/// since a reset is a race the client may win now and then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_sent_before_the_body_was_read_reaches_the_client() {
    let app = hasty(None).await;
    for attempt in 0..5 {
        let stream = TcpStream::connect(app.address).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let length = 400_000;
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        );
        let sending = tokio::spawn(async move {
            writer.write_all(head.as_bytes()).await?;
            writer.write_all(&vec![b' '; length]).await?;
            // Held open until the server closes: the peer's close is not what ends it.
            Ok::<_, std::io::Error>(writer)
        });
        let mut received = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut received)).await;
        let answer = String::from_utf8_lossy(&received);
        assert!(
            matches!(read, Ok(Ok(_))),
            "attempt {attempt}: the connection ends with a close, not a reset: {read:?}, after {answer:?}"
        );
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "attempt {attempt}: {answer}"
        );
        assert!(
            answer.contains("exceeds 262144 bytes"),
            "attempt {attempt}: {answer}"
        );
        sending.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_in_is_answered_408_within_the_request_timeout() {
    let app = hasty(None).await;
    let mut trickling = TcpStream::connect(app.address).await.unwrap();
    let body = json!({"query": "{ viewer { email } }"}).to_string();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        app.token,
        body.len()
    );
    trickling.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // A byte every half second, until the server answers or closes.
    for byte in body.bytes() {
        if trickling.write_all(&[byte]).await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(500), trickling.read(&mut buffer)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(read)) => {
                answer.extend_from_slice(&buffer[..read]);
                break;
            }
        }
    }
    let took = started.elapsed();
    // The rest of the answer, then the close.
    let (_, rest) = closed_within(&mut trickling, Duration::from_secs(3))
        .await
        .expect("the connection closes after its answer");
    let received = String::from_utf8_lossy(&answer).into_owned() + &rest;
    assert!(
        received.starts_with("HTTP/1.1 408"),
        "408, then the connection closes: {received:?}"
    );
    assert!(received.contains("connection: close"), "{received}");
    assert!(received.contains("BAD_USER_INPUT"), "{received}");
    assert!(
        took < Duration::from_secs(5),
        "within the request timeout: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_at_the_keep_alive_timeout() {
    let app = hasty(None).await;
    let mut kept = TcpStream::connect(app.address).await.unwrap();
    assert!(healthz(&mut kept).await.starts_with("HTTP/1.1 200"));
    // Idle for longer than the header read timeout, within the keep-alive timeout: the
    // connection still carries the next request.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert!(healthz(&mut kept).await.starts_with("HTTP/1.1 200"));
    let (after, received) = closed_within(&mut kept, Duration::from_secs(6))
        .await
        .expect("an idle connection is closed");
    assert!(
        after >= Duration::from_millis(1_700),
        "not before the timeout: {after:?}"
    );
    assert_eq!(received, "");
    assert_eq!(closed(&app, "idle_timeout").await, 1.0);
}

/// HTTP/2 with prior knowledge, as a client inside the network may speak it: an idle
/// connection carries frames of its own (settings, window updates), which start no
/// request, so it stays for the keep-alive timeout like an HTTP/1.1 one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_stays_for_the_keep_alive_timeout() {
    let app = hasty(None).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let ask = || async {
        let answer = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(answer.version(), reqwest::Version::HTTP_2);
        assert_eq!(answer.status(), 200);
    };
    ask().await;
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    ask().await;
    assert_eq!(
        closed(&app, "header_timeout").await,
        0.0,
        "idle past the header read timeout"
    );
    assert_eq!(closed(&app, "idle_timeout").await, 0.0, "and still open");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        closed(&app, "idle_timeout").await,
        1.0,
        "closed once idle too long"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_request_head_trickled_on_a_kept_alive_connection_is_cut_off() {
    let app = hasty(None).await;
    let mut kept = TcpStream::connect(app.address).await.unwrap();
    assert!(healthz(&mut kept).await.starts_with("HTTP/1.1 200"));
    kept.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    let mut cut_off = None;
    for line in 0..30 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let header = format!("X-Line-{line}: {line}\r\n");
        if kept.write_all(header.as_bytes()).await.is_err() || is_closed(&mut kept).await {
            cut_off = Some(started.elapsed());
            break;
        }
    }
    let cut_off = cut_off.expect("a trickled head is cut off");
    // The header read timeout (1 s), not the keep-alive timeout (2 s), from its first byte.
    assert!(cut_off < Duration::from_millis(1_900), "{cut_off:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_oldest_connection_without_a_request_makes_room() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.system_console.limits.max_connections = Some(4);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(app.address).await.unwrap());
        // In order of arrival.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A real client still gets in, on a connection of its own.
    let answer = app.gql("{ viewer { email } }", json!({})).await;
    assert_eq!(answer["data"]["viewer"]["email"], "root@control-tower.test");
    assert!(
        is_closed(&mut idle[0]).await,
        "the oldest idle socket made room"
    );
    let evicted = closed(&app, "evicted").await;
    // The client's request and this scrape each took one place.
    assert!(evicted >= 1.0, "{evicted}");
    assert!(!is_closed(&mut idle[3]).await, "the youngest is still open");
    assert_eq!(
        metric(
            &app,
            r#"control_tower_http_connections_max{listener="api"}"#
        )
        .await,
        4.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_count_against_the_cap_and_are_never_evicted() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.system_console.limits.max_connections = Some(1);
    })
    .await;
    let mut socket = Socket::initialised_at(&app.address.to_string(), &app.token).await;
    // The only place is the WebSocket's: a new connection finds nothing to evict.
    let mut refused = TcpStream::connect(app.address).await.unwrap();
    let (_, received) = closed_within(&mut refused, Duration::from_secs(2))
        .await
        .expect("a connection with no room is closed at once");
    assert_eq!(received, "");
    socket
        .subscribe(
            "1",
            "subscription { controlTower(window: LAST_1H) { stuckTotal } }",
            json!({}),
        )
        .await;
    assert_eq!(
        socket.message().await["type"],
        "next",
        "the WebSocket still serves"
    );
    drop(socket);
    // Its place is free once it has closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut next = TcpStream::connect(app.address).await.unwrap();
        if tokio::time::timeout(Duration::from_secs(1), async {
            next.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
                .await
                .ok()?;
            let mut buffer = [0u8; 64];
            let read = next.read(&mut buffer).await.ok()?;
            (read > 0).then_some(())
        })
        .await
        .is_ok_and(|answered| answered.is_some())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the WebSocket's place was given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_without_connection_init_is_closed_after_ten_seconds() {
    let app = hasty(None).await;
    let started = Instant::now();
    let mut socket = Socket::open_at(&app.address.to_string()).await;
    // Upgraded, it is bounded by the protocol's rule, not by the header read timeout.
    let (code, _) = socket.closed(Duration::from_secs(15)).await;
    assert_eq!(code, 4408);
    let after = started.elapsed();
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(13)).contains(&after),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_that_is_not_plain_is_replaced_and_never_echoed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let send = |id: &str| {
        app.client()
            .get(app.url("/healthz"))
            .header("x-request-id", id)
            .send()
    };
    let kept = send("dash-board.7:a_b").await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "dash-board.7:a_b");
    for foreign in [
        "x\" level=ERROR msg=\"forged".to_owned(),
        "tab\there".to_owned(),
        "x".repeat(8_000),
    ] {
        let answer = send(&foreign).await.unwrap();
        let echoed = answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(echoed, foreign);
        assert_eq!(echoed.len(), 36, "a UUID of ours: {echoed}");
        assert!(!crate::common::logs().contains(&foreign), "never logged");
    }
    let non_ascii = reqwest::header::HeaderValue::from_bytes("café".as_bytes()).unwrap();
    let answer = app
        .client()
        .get(app.url("/healthz"))
        .header("x-request-id", non_ascii)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"].len(), 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_value_cannot_forge_a_field_of_a_text_log_line() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut raw = TcpStream::connect(app.address).await.unwrap();
    // A quote is allowed in a request target; the path is logged quoted and escaped.
    raw.write_all(b"GET /forged\"level=ERROR HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (_, answer) = closed_within(&mut raw, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let logs = crate::common::logs();
    let line = logs
        .lines()
        .find(|line| line.contains("control_tower::access") && line.contains("/forged"))
        .expect("an access line");
    assert!(line.contains(r#"path="/forged\"level=ERROR""#), "{line}");
}
