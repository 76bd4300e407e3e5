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
/// one per `.graphql` file of `playground/operations/` and `playground/fragments/`, in
/// name order.
fn embed_saved_operations() -> Result<(), Box<dyn Error>> {
    let out = std::env::var("OUT_DIR")?;
    for (folder, output) in [
        ("operations", "saved_operations.rs"),
        ("fragments", "saved_fragments.rs"),
    ] {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("playground")
            .join(folder);
        println!("cargo::rerun-if-changed={}", directory.display());
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&directory)? {
            let path = entry?.path();
            if path
                .extension()
                .is_some_and(|extension| extension == "graphql")
            {
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
            source.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
        }
        source.push_str("]\n");
        std::fs::write(Path::new(&out).join(output), source)?;
    }
    Ok(())
}

/// Writes `playground_assets.rs`: a slice of `(file name, bytes)`, one per file of
/// `playground/dist/` (the built GraphiQL playground, committed so that building the
/// service needs no Node.js), in name order.
fn embed_playground_assets() -> Result<(), Box<dyn Error>> {
    let out = std::env::var("OUT_DIR")?;
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground/dist");
    println!("cargo::rerun-if-changed={}", directory.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&directory)? {
        let path = entry?.path();
        if path.is_file() {
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
        source.push_str(&format!("    ({name:?}, include_bytes!({path:?})),\n"));
    }
    source.push_str("]\n");
    std::fs::write(Path::new(&out).join("playground_assets.rs"), source)?;
    Ok(())
}
