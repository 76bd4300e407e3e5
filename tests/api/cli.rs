//! The command line, run as a user would: the real binary on a temporary database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_control-tower");

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.dir.path().join("cli.db").display()
        )
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(BINARY)
            .arg("--database-url")
            .arg(self.url())
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn schema_prints_the_sdl() {
    let output = Command::new(BINARY).arg("schema").output().unwrap();
    assert!(output.status.success());
    assert_eq!(text(&output.stdout), control_tower::graphql::sdl());
}

#[test]
fn operators_are_created_listed_and_disabled() {
    let cli = Cli::new();
    let created = cli.run(
        &[
            "operator",
            "create",
            "--email",
            "Dana@Ops.test",
            "--name",
            "Dana",
            "--capability",
            "console.view",
            "--capability",
            "audit.view",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert_eq!(
        text(&created.stdout),
        "created operator Dana <dana@ops.test> with console.view, audit.view\n"
    );

    let duplicate = cli.run(
        &[
            "operator",
            "create",
            "--email",
            "dana@ops.test",
            "--name",
            "Dana",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(!duplicate.status.success());
    assert!(text(&duplicate.stderr).contains("already exists"));

    for (args, message) in [
        (vec!["--capability", "root"], "unknown capability \"root\""),
        (
            vec!["--capability", "console.view"],
            "at least 12 characters",
        ),
    ] {
        let mut command = vec![
            "operator",
            "create",
            "--email",
            "sam@ops.test",
            "--name",
            "Sam",
            "--password-stdin",
        ];
        command.extend(args);
        let refused = cli.run(&command, Some("short\n"));
        assert!(!refused.status.success());
        assert!(
            text(&refused.stderr).contains(message),
            "{}",
            text(&refused.stderr)
        );
    }

    let listed = cli.run(&["operator", "list"], None);
    let listing = text(&listed.stdout);
    assert!(
        listing
            .starts_with("dana@ops.test\tDana\tactive\tconsole.view,audit.view\tlast login never"),
        "{listing}"
    );
    assert!(!listing.contains("sam@"));

    let disabled = cli.run(&["operator", "disable", "--email", "dana@ops.test"], None);
    assert!(disabled.status.success(), "{}", text(&disabled.stderr));
    assert!(text(&cli.run(&["operator", "list"], None).stdout).contains("\tdisabled\t"));
    let unknown = cli.run(&["operator", "disable", "--email", "nobody@ops.test"], None);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no operator has the e-mail nobody@ops.test"));
}

#[test]
fn dashboard_tokens_are_created_listed_and_revoked() {
    let cli = Cli::new();
    let document = cli.dir.path().join("board.graphql");
    let board = "query Board { controlTower(window: LAST_24H) { runs { total } } }\n";
    std::fs::write(&document, board).unwrap();
    let created = cli.run(
        &[
            "operator",
            "token",
            "create",
            "--name",
            "lobby-wallboard",
            "--capability",
            "console.view",
            "--expires-in",
            "90",
            "--document",
            document.to_str().unwrap(),
        ],
        None,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let secret = text(&created.stdout).trim().to_owned();
    assert!(
        secret.starts_with("ctd_") && secret.len() > 40,
        "the token alone is printed: {secret}"
    );
    assert!(text(&created.stderr).contains("shown once"));

    for (args, message) in [
        (
            vec!["--capability", "runs.triage", "--expires-in", "1"],
            "a dashboard token only reads",
        ),
        (
            vec!["--capability", "audit.view", "--expires-in", "1"],
            "needs console.view",
        ),
        (
            vec!["--capability", "console.view", "--expires-in", "0"],
            "--expires-in must be 1 to 3650 days",
        ),
    ] {
        let mut command = vec!["operator", "token", "create", "--name", "other"];
        command.extend(args);
        let refused = cli.run(&command, None);
        assert!(!refused.status.success());
        assert!(
            text(&refused.stderr).contains(message),
            "{}",
            text(&refused.stderr)
        );
    }

    let listing = text(&cli.run(&["operator", "token", "list"], None).stdout);
    let sha256 = control_tower::auth::credentials::token_hash(board);
    assert!(
        listing.starts_with("lobby-wallboard\tconsole.view\texpires "),
        "{listing}"
    );
    assert!(listing.contains("last used never"), "{listing}");
    assert!(
        listing.contains(&format!("Board sha256:{sha256}")),
        "{listing}"
    );
    assert!(
        !listing.contains(&secret),
        "the list never shows the secret"
    );
    assert_eq!(listing.lines().count(), 1, "{listing}");

    let revoked = cli.run(
        &["operator", "token", "revoke", "--name", "lobby-wallboard"],
        None,
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let listing = text(&cli.run(&["operator", "token", "list"], None).stdout);
    assert!(listing.contains("\trevoked "), "{listing}");
    let unknown = cli.run(&["operator", "token", "revoke", "--name", "nobody"], None);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no dashboard token is named nobody"));
}

#[test]
fn migrate_reports_status_and_seed_fills_an_empty_database() {
    let cli = Cli::new();
    let status = cli.run(&["migrate", "status"], None);
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(text(&status.stdout).contains("m20261127_000001_create_tables"));
    let seeded = cli.run(
        &[
            "seed",
            "--workspaces",
            "2",
            "--tenants",
            "5",
            "--runs",
            "50",
            "--audit-logs",
            "10",
            "--seed",
            "7",
        ],
        None,
    );
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    assert!(
        text(&seeded.stdout)
            .starts_with("seeded: 2 workspaces, 5 tenants, 50 runs, 10 audit logs (seed 7")
    );
    let again = cli.run(&["seed"], None);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already holds data"));
}

#[test]
fn invalid_configuration_stops_start_up_naming_the_key() {
    let cli = Cli::new();
    let output = Command::new(BINARY)
        .args(["migrate", "status"])
        .current_dir(cli.dir.path())
        .env("CONTROL_TOWER_DATABASE_URL", cli.url())
        .env(
            "CONTROL_TOWER_SYSTEM_CONSOLE__HEALTH__STALE_CHECK_HOURS",
            "soon",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("system_console.health.stale_check_hours"),
        "{stderr}"
    );

    std::fs::write(
        cli.dir.path().join("control-tower.toml"),
        "[system_console.limits]\nmax_page_size = 500\n",
    )
    .unwrap();
    let output = cli.run(&["migrate", "status"], None);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("system_console.limits.max_page_size"));
}
