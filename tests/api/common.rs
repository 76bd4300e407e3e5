//! The test harness: a fresh database per test (a temporary SQLite file, or a new
//! PostgreSQL database dropped afterwards), the real server on port 0, and helpers to
//! post GraphQL over HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use control_tower::auth::Capability;
use control_tower::config::Config;
use control_tower::db::{self, Db};
use control_tower::server::{self, AppState, Clock};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares a test once and runs it on SQLite and on PostgreSQL. The PostgreSQL variant
/// is ignored, with the reason shown, when `TEST_DATABASE_URL` was not set at build time.
#[macro_export]
macro_rules! on_both {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp, $clock:ident: TestClock) $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "a test uses some of its file's helpers, or none")]
            use super::*;

            async fn run($app: $crate::common::TestApp, $clock: $crate::common::TestClock) $body

            async fn start(backend: $crate::common::Backend) {
                let clock = $crate::common::TestClock::at("2026-11-27T12:00:00Z".parse().unwrap());
                run($crate::common::TestApp::spawn_with_clock(backend, &clock).await, clock).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                start($crate::common::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped")]
            async fn postgres() {
                start($crate::common::Backend::Postgres).await;
            }
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp at $now:expr) $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "a test uses some of its file's helpers, or none")]
            use super::*;

            async fn run($app: $crate::common::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::common::TestApp::spawn_at($crate::common::Backend::Sqlite, $now).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped")]
            async fn postgres() {
                run($crate::common::TestApp::spawn_at($crate::common::Backend::Postgres, $now).await).await;
            }
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "a test uses some of its file's helpers, or none")]
            use super::*;

            async fn run($app: $crate::common::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped")]
            async fn postgres() {
                run($crate::common::TestApp::spawn($crate::common::Backend::Postgres).await).await;
            }
        }
    };
}

/// A database of one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A new, empty database.
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL").expect(
                    "TEST_DATABASE_URL was set when the tests were built; set it again to run them",
                );
                let name = format!("ct_test_{}", rand_suffix());
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("PostgreSQL is reachable");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("a test database can be created");
                admin.close().await.ok();
                let url = replace_database(&admin_url, &name);
                Self {
                    url,
                    _dir: None,
                    postgres: Some((admin_url, name)),
                }
            }
        }
    }

    /// A pool on this database, as the service opens it.
    pub async fn connect(&self) -> DatabaseConnection {
        db::connect(&self.config())
            .await
            .expect("the test database opens")
    }

    /// The configuration of a server on this database.
    pub fn config(&self) -> Config {
        Config {
            database_url: self.url.clone(),
            listen: "127.0.0.1:0".to_owned(),
            database_acquire_timeout_ms: 2_000,
            ..Config::default()
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = sea_orm::Database::connect(&admin_url).await.ok()?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop a test database");
        }
    }
}

fn rand_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..12)
        .map(|_| char::from(b'a' + rng.random_range(0..26)))
        .collect()
}

/// `postgres://user@host:port/db?x` with another database name.
pub fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let host_and_path = &base[scheme_end..];
    let host = host_and_path.split('/').next().unwrap_or(host_and_path);
    let mut replaced = format!("{}{}/{}", &base[..scheme_end], host, database);
    if let Some(query) = query {
        replaced.push('?');
        replaced.push_str(query);
    }
    replaced
}

/// A running server over a fresh, migrated database.
pub struct TestApp {
    pub address: SocketAddr,
    /// Direct access to the database, for arranging rows.
    pub db: DatabaseConnection,
    client: reqwest::Client,
    /// The token of an operator with every capability, sent by [`TestApp::gql`].
    pub token: String,
    shutdown: Option<oneshot::Sender<()>>,
    backend: Backend,
    _database: TestDb,
}

impl TestApp {
    /// Starts a server on `backend` with the default configuration.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server on `backend` after `configure` has adjusted its configuration.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        Self::start(backend, configure, None).await
    }

    /// Starts a server whose requests all happen at `now`.
    pub async fn spawn_at(backend: Backend, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self::start(backend, |_| {}, Some(Arc::new(move || now))).await
    }

    /// Starts a server whose requests all happen at `now`, after `configure` has adjusted
    /// its configuration.
    pub async fn spawn_at_with(
        backend: Backend,
        now: chrono::DateTime<chrono::Utc>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start(backend, configure, Some(Arc::new(move || now))).await
    }

    /// Starts a server whose requests happen at the time `clock` says.
    pub async fn spawn_with_clock(backend: Backend, clock: &TestClock) -> Self {
        let clock = clock.clone();
        Self::start(backend, |_| {}, Some(Arc::new(move || clock.now()))).await
    }

    async fn start(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
        clock: Option<Clock>,
    ) -> Self {
        capture_logs();
        let database = TestDb::create(backend).await;
        let mut config = database.config();
        configure(&mut config);
        let connection = db::connect(&config).await.expect("the test database opens");
        let aggregates = db::connect_aggregates(&config)
            .await
            .expect("the test database opens");
        Migrator::up(&connection, None)
            .await
            .expect("migrations apply");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let state = match clock {
            Some(clock) => AppState::with_clock(
                Db::new(connection.clone()).with_aggregates(aggregates),
                config,
                clock,
            ),
            None => AppState::new(
                Db::new(connection.clone()).with_aggregates(aggregates),
                config,
            ),
        };
        let token = operator_token(&connection, "root@control-tower.test", &Capability::ALL).await;
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(server::serve(listener, state, async {
            stopped.await.ok();
        }));
        Self {
            address,
            db: connection,
            client: reqwest::Client::new(),
            token,
            shutdown: Some(shutdown),
            backend,
            _database: database,
        }
    }

    /// The database the server runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `http://address/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// What `/metrics` reports now.
    pub async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Posts a GraphQL document with variables; returns the whole JSON response.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_counted(query, variables).await.0
    }

    /// Like [`TestApp::gql`], with the number of SQL statements the request ran.
    pub async fn gql_counted(&self, query: &str, variables: Value) -> (Value, u64) {
        self.gql_with(Some(&self.token), query, variables).await
    }

    /// Posts a document as the operator of `token` (or anonymously); returns the
    /// response and its statement count.
    pub async fn gql_with(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (Value, u64) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");
        let statements = statements_of(&response);
        let body: Value = response.json().await.expect("a JSON response");
        (body, statements)
    }

    /// Posts `body` as it is, as the operator of `token` (or anonymously); returns the
    /// status, the JSON answer and its statement count.
    pub async fn post_body(&self, token: Option<&str>, body: String) -> (u16, Value, u64) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let statements = statements_of(&response);
        let body: Value = response.json().await.expect("a JSON response");
        (status, body, statements)
    }

    /// Posts a document that must succeed; returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.gql(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// The raw HTTP client, for requests that are not well-formed GraphQL.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl TestApp {
    /// Begins the server's shutdown, as SIGTERM does.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
    }
}

/// The statement count a GraphQL response carries in its header.
fn statements_of(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("x-sql-statements")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("every GraphQL response says how many statements it ran")
}

/// Creates an operator holding `capabilities` (without a usable password) and opens a
/// session for it; returns the session's token.
pub async fn operator_token(
    db: &DatabaseConnection,
    email: &str,
    capabilities: &[Capability],
) -> String {
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    let names: Vec<&str> = capabilities
        .iter()
        .map(|capability| capability.name())
        .collect();
    let user = entity::platform_user::ActiveModel {
        name: Set(format!("Operator {email}")),
        email: Set(email.to_owned()),
        password_hash: Set("!test: no password".to_owned()),
        capabilities: Set(Some(entity::Document::from(json!(names)))),
        is_active: Set(true),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("operator inserted");
    let db = Db::new(db.clone());
    control_tower::auth::operators::open_session(&db, &user, chrono::Duration::days(3650), now)
        .await
        .expect("session opened")
}

/// The codes of a response's errors.
pub fn error_codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    error["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The only error of a response: its code and message.
pub fn single_error(response: &Value) -> (String, String) {
    let errors = response["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {response:#}"));
    assert_eq!(errors.len(), 1, "one error expected: {response:#}");
    (
        errors[0]["extensions"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_owned(),
        errors[0]["message"].as_str().unwrap_or_default().to_owned(),
    )
}

impl TestApp {
    /// Runs `sql` with foreign-key checks off, as another application with looser rules
    /// might write: dangling references the service must survive.
    pub async fn write_without_foreign_keys(&self, sql: &str) {
        use sea_orm::{ConnectOptions, DbBackend, TransactionTrait};
        match self.db.get_database_backend() {
            DbBackend::Sqlite => {
                let mut options = ConnectOptions::new(self.url_of_database());
                options
                    .max_connections(1)
                    .sqlx_logging(false)
                    .map_sqlx_sqlite_opts(|options| options.foreign_keys(false));
                let single = sea_orm::Database::connect(options).await.unwrap();
                single.execute_unprepared(sql).await.unwrap();
                single.close().await.unwrap();
            }
            _ => {
                let transaction = self.db.begin().await.unwrap();
                transaction
                    .execute_unprepared("SET LOCAL session_replication_role = replica")
                    .await
                    .unwrap();
                transaction.execute_unprepared(sql).await.unwrap();
                transaction.commit().await.unwrap();
            }
        }
    }

    fn url_of_database(&self) -> String {
        self._database.url.clone()
    }
}

/// A clock tests move by hand.
#[derive(Clone)]
pub struct TestClock(Arc<std::sync::Mutex<chrono::DateTime<chrono::Utc>>>);

impl TestClock {
    pub fn at(now: chrono::DateTime<chrono::Utc>) -> Self {
        Self(Arc::new(std::sync::Mutex::new(now)))
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

/// Everything the service logged in this test binary, for tests that check what never
/// appears in logs.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

#[derive(Clone, Copy)]
struct LogBuffer;

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the log subscriber once: everything at debug into [`LOGS`] (the SQL at
/// trace), and, with `TEST_LOG` set (e.g. `TEST_LOG=control_tower=debug`), the chosen
/// logs to the test output too.
fn capture_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, fmt};
    let captured = fmt::layer()
        .with_ansi(false)
        .with_writer(|| LogBuffer)
        .with_filter(EnvFilter::new(
            "debug,control_tower=trace,hyper=info,hyper_util=info,h2=info,reqwest=info",
        ));
    let shown = std::env::var("TEST_LOG").ok().map(|filter| {
        fmt::layer()
            .with_test_writer()
            .with_filter(EnvFilter::new(filter))
    });
    let _ = tracing_subscriber::registry()
        .with(captured)
        .with(shown)
        .try_init();
}

/// The value of the series `series` (name and labels, as written) in the `/metrics`
/// text `metrics`, or 0 when absent.
pub fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

/// `body` without `extensions.cost`, which every executed request carries (tested in
/// `cost.rs`), for tests that compare whole answers.
pub fn without_cost(mut body: Value) -> Value {
    if let Some(extensions) = body.get_mut("extensions").and_then(Value::as_object_mut) {
        extensions.remove("cost");
        if extensions.is_empty() {
            body.as_object_mut().map(|body| body.remove("extensions"));
        }
    }
    body
}

/// What the service has logged so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// `control-tower serve`, started as an operator would: by default `--demo` on a fresh
/// SQLite file, waiting until it says it is ready.
pub struct Served {
    pub child: std::process::Child,
    pub address: String,
    /// The demo operator's token (empty without `--demo`).
    pub token: String,
    /// What the process printed until [`Served::launch`] returned.
    pub printed: Vec<String>,
    /// Lines the process printed after those.
    lines: std::sync::mpsc::Receiver<String>,
    dir: tempfile::TempDir,
}

/// How to start a [`Served`].
pub struct Launch<'a> {
    /// The database (default: a SQLite file of its own).
    pub database_url: Option<String>,
    pub listen: &'a str,
    pub demo: bool,
    /// Extra environment, e.g. `RUST_LOG` (default `warn`) or configuration.
    pub env: Vec<(&'a str, String)>,
    /// Return once it listens, without waiting for its database.
    pub until_listening: bool,
    /// The process's limit on open files, soft and hard (default: the test's own).
    pub file_limit: Option<u64>,
}

impl Default for Launch<'_> {
    fn default() -> Self {
        Self {
            database_url: None,
            listen: "127.0.0.1:0",
            demo: true,
            env: Vec::new(),
            until_listening: false,
            file_limit: None,
        }
    }
}

impl Served {
    /// Serves `--demo` on a free port of the loopback address.
    pub fn start() -> Self {
        Self::start_on("127.0.0.1:0")
    }

    /// Serves `--demo` on `listen`.
    pub fn start_on(listen: &str) -> Self {
        Self::launch(Launch {
            listen,
            ..Launch::default()
        })
    }

    /// Starts the binary as `launch` says.
    pub fn launch(launch: Launch<'_>) -> Self {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let url = launch.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("served.db").display()
            )
        });
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let binary = env!("CARGO_BIN_EXE_control-tower");
        let mut command = match launch.file_limit {
            // The shell sets the limit and becomes the server, which keeps its pid.
            Some(files) => {
                let mut shell = Command::new("sh");
                shell.args([
                    "-c",
                    &format!("ulimit -n {files} && exec \"$0\" \"$@\""),
                    binary,
                ]);
                shell
            }
            None => Command::new(binary),
        };
        command
            .args(["--database-url", &url, "--listen", launch.listen, "serve"])
            .env("RUST_LOG", "warn");
        if launch.demo {
            command.arg("--demo");
        }
        for (key, value) in &launch.env {
            command.env(key, value);
        }
        let mut child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (sender, lines) = std::sync::mpsc::channel();
        // Reads the whole output, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                sender.send(line).ok();
            }
        });
        // Owned from here on, so that a failed start still kills the process.
        let mut served = Self {
            child,
            address: String::new(),
            token: String::new(),
            printed: Vec::new(),
            lines,
            dir,
        };
        served.read_until(launch.until_listening);
        assert!(
            !launch.demo || launch.until_listening || !served.token.is_empty(),
            "serve --demo prints a token"
        );
        served
    }

    /// Reads what the process prints until it listens (`listening`) or says it is
    /// ready, noting its address and demo token.
    fn read_until(&mut self, listening: bool) {
        loop {
            let line = self.next_line(Duration::from_secs(120));
            self.printed.push(line.clone());
            if let Some(value) = line.trim().strip_prefix("token:") {
                self.token = value.trim().to_owned();
            }
            if let Some(rest) = line.strip_prefix("Control Tower listening on http://") {
                self.address = rest.trim_end_matches("/graphql").to_owned();
                if listening {
                    return;
                }
            }
            if line == "Control Tower is ready" {
                return;
            }
        }
    }

    /// Waits until a server launched `until_listening` says it is ready.
    pub fn wait_until_ready(&mut self) {
        self.read_until(false);
    }

    /// The next line the process prints, within `wait`.
    pub fn next_line(&self, wait: Duration) -> String {
        self.lines
            .recv_timeout(wait)
            .unwrap_or_else(|_| panic!("the server printed nothing more\n{}", self.stderr()))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends SIGTERM; returns how long the process took to exit, and how.
    pub async fn terminate(&mut self) -> (Duration, std::process::ExitStatus) {
        let terminated = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(terminated.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (started.elapsed(), status);
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "SIGTERM did not stop the service\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The most memory the process has held, in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
