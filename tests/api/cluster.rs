//! PostgreSQL servers of the test's own — a primary, its streaming replicas made with
//! `pg_basebackup -R`, and PgBouncer in front of them in transaction mode — each in a
//! temporary directory on a free port, started and stopped at will, with its own log.
//! Run as the `postgres` user when the tests run as root (the servers refuse root).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL server of the test's own.
pub(crate) struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub(crate) port: u16,
    /// `-c name=value` settings it starts with, beyond the port.
    settings: Vec<String>,
}

impl Cluster {
    /// A new, stopped primary.
    pub(crate) fn create() -> Self {
        let cluster = Self::empty();
        cluster.pg(&[
            "initdb",
            "-D",
            &cluster.data(),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        cluster
    }

    /// A new, stopped streaming replica of `primary` (which must be running), made with
    /// `pg_basebackup -R`: it follows the primary once started.
    pub(crate) fn replica_of(primary: &Cluster) -> Self {
        let mut replica = Self::empty();
        replica.settings = primary.settings.clone();
        let port = primary.port.to_string();
        replica.pg(&[
            "pg_basebackup",
            "-D",
            &replica.data(),
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        ]);
        replica
    }

    fn empty() -> Self {
        let bin = postgres_bin().expect(
            "PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are needed with TEST_DATABASE_URL set: install the postgresql package",
        );
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        Self {
            dir,
            bin,
            port: free_port(),
            settings: Vec::new(),
        }
    }

    /// Logs every statement it runs, with its parameters, to its log ([`Cluster::log`]).
    pub(crate) fn logging_statements(mut self) -> Self {
        self.settings.push("log_statement=all".to_owned());
        self
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub(crate) fn start(&self) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        for setting in &self.settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let log = self.log_path().display().to_string();
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-o",
            &options,
            "-l",
            &log,
            "-w",
            "start",
        ]);
    }

    pub(crate) fn stop(&self) {
        self.pg(&["pg_ctl", "-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Everything the server has logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs `sql` with psql on the server, returning what it prints (unaligned, tuples
    /// only).
    pub(crate) fn psql(&self, sql: &str) -> String {
        let output = Command::new("psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(),
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Runs one of PostgreSQL's programs, which must succeed.
    fn pg(&self, args: &[&str]) {
        run(self
            .program(args[0])
            .args(&args[1..])
            .current_dir(self.dir.path()));
    }

    /// One of PostgreSQL's programs, run as `postgres` when we are root.
    fn program(&self, name: &str) -> Command {
        as_postgres(self.bin.join(name))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let stop = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        self.program("pg_ctl").args(stop).output().ok();
    }
}

/// PgBouncer (Debian's, 1.18) in transaction pooling mode, in front of `databases`:
/// each database name it serves maps to a server's `postgres` database.
pub(crate) struct Bouncer {
    dir: tempfile::TempDir,
    pub(crate) port: u16,
    child: std::process::Child,
}

impl Bouncer {
    pub(crate) fn start(databases: &[(&str, &Cluster)]) -> Self {
        let program = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|path| Path::new(path).is_file())
            .expect("PgBouncer is needed with TEST_DATABASE_URL set: apt-get install pgbouncer (.ci/run does)");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let mut ini = String::from("[databases]\n");
        for (name, cluster) in databases {
            ini.push_str(&format!(
                "{name} = host=127.0.0.1 port={} dbname=postgres\n",
                cluster.port
            ));
        }
        ini.push_str(&format!(
            "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {}\npool_mode = transaction\n\
             max_client_conn = 500\ndefault_pool_size = 4\nlogfile = {}\npidfile = {}\n",
            path("users.txt"),
            path("pgbouncer.log"),
            path("pgbouncer.pid"),
        ));
        std::fs::write(path("pgbouncer.ini"), ini).unwrap();
        std::fs::write(path("users.txt"), "\"postgres\" \"\"\n").unwrap();
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        let child = as_postgres(PathBuf::from(program))
            .arg(path("pgbouncer.ini"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let bouncer = Self { dir, port, child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "PgBouncer did not listen: {}",
                bouncer.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        bouncer
    }

    /// The URL of `database` through the pooler.
    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn as_postgres(program: PathBuf) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// The folder holding `initdb`, `pg_ctl` and `pg_basebackup`: on the `PATH`, or
/// Debian's.
fn postgres_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>());
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"));
    on_path.chain(debian).find(|dir| {
        ["initdb", "pg_ctl", "pg_basebackup"]
            .iter()
            .all(|program| dir.join(program).is_file())
    })
}
