//! Marks the build when `TEST_DATABASE_URL` is set, so the PostgreSQL half of the
//! integration tests runs; without it those tests are listed as ignored, with the reason,
//! instead of passing silently.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
