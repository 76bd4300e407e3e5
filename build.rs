//! Marks the build when `TEST_DATABASE_URL` is set, so the PostgreSQL half of the
//! integration tests runs; without it those tests are listed as ignored, with the reason,
//! instead of passing silently. And embeds the saved operations and fragments of
//! `playground/`, which the playground offers and the service knows by hash from the
//! start, and the built playground of `playground/dist/`.

use std::error::Error;
use std::path::Path;

fn main() -> Result<(), Box<dyn Error>> {
    embed_saved_operations()?;
    embed_playground_assets()?;
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
    Ok(())
}

/// Writes `saved_operations.rs` and `saved_fragments.rs`: slices of `(file name, text)`,
/// one per `.graphql` file of `playground/operations/` and `playground/fragments/`.
fn embed_saved_operations() -> Result<(), Box<dyn Error>> {
    let graphql = |path: &Path| {
        path.extension()
            .is_some_and(|extension| extension == "graphql")
    };
    embed(
        "playground/operations",
        graphql,
        "include_str",
        "saved_operations.rs",
    )?;
    embed(
        "playground/fragments",
        graphql,
        "include_str",
        "saved_fragments.rs",
    )
}

/// Writes `playground_assets.rs`: a slice of `(file name, bytes)`, one per file of
/// `playground/dist/` (the built GraphiQL playground, committed so that building the
/// service needs no Node.js).
fn embed_playground_assets() -> Result<(), Box<dyn Error>> {
    embed(
        "playground/dist",
        Path::is_file,
        "include_bytes",
        "playground_assets.rs",
    )
}

/// Writes `output` in `OUT_DIR`: a slice of `(file name, include(path))` over the files
/// of `folder` that `keep` keeps, in name order, with `include` `include_str` or
/// `include_bytes`; and asks cargo to build again when any of them changes.
fn embed(
    folder: &str,
    keep: impl Fn(&Path) -> bool,
    include: &str,
    output: &str,
) -> Result<(), Box<dyn Error>> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    println!("cargo::rerun-if-changed={}", directory.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&directory)? {
        let path = entry?.path();
        if keep(&path) {
            files.push(path);
        }
    }
    files.sort();
    let mut source = String::from("&[\n");
    for file in files {
        println!("cargo::rerun-if-changed={}", file.display());
        let name = file
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or("a file name that is not UTF-8")?;
        let path = file.to_str().ok_or("a path that is not UTF-8")?;
        source.push_str(&format!("    ({name:?}, {include}!({path:?})),\n"));
    }
    source.push_str("]\n");
    let out = std::env::var("OUT_DIR")?;
    std::fs::write(Path::new(&out).join(output), source)?;
    Ok(())
}
