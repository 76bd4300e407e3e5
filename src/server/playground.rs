//! `GET /`: the operators' playground, GraphiQL served from the binary itself (SPEC §7).
//!
//! The page makes no request to any other host: its scripts, styles and fonts are the
//! files of `playground/dist/`, embedded at build time and served at `/assets/<name>`,
//! each name carrying a hash of its content, so they are cached for a year; the page
//! itself is never cached. Its Content-Security-Policy allows nothing but this origin
//! and no inline script: the page's settings (the saved operations, the endpoints, and
//! the demo session of `serve --demo` on a loopback address) travel in a JSON data
//! block, which browsers do not execute.

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::saved::saved_operations;

/// The built playground, `(file name, bytes)`, embedded by `build.rs`.
const ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/playground_assets.rs"));

/// The page's policy: this origin only, no inline script, no eval, no framing.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The saved operation the playground opens with.
const OVERVIEW: &str = "control-tower.graphql";

/// Which built files the page loads, from `playground/dist/manifest.json`.
#[derive(Debug, Default, Deserialize)]
struct Manifest {
    scripts: Vec<String>,
    styles: Vec<String>,
}

static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| {
    let manifest = asset("manifest.json").and_then(|bytes| serde_json::from_slice(bytes).ok());
    manifest.unwrap_or_else(|| {
        tracing::error!(
            "playground/dist/manifest.json is missing or unreadable: the playground has no scripts"
        );
        Manifest::default()
    })
});

fn asset(name: &str) -> Option<&'static [u8]> {
    ASSETS
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, bytes)| *bytes)
}

/// What the page's script reads from its JSON data block.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    graphql_url: &'static str,
    subscriptions_url: &'static str,
    /// The demo operator's token: only `serve --demo` on a loopback address sets it.
    demo_token: Option<String>,
    operations: Vec<Operation>,
}

#[derive(Serialize)]
struct Operation {
    file: &'static str,
    title: &'static str,
    description: &'static str,
    name: &'static str,
    document: &'static str,
    /// The variables editor's starting text.
    variables: &'static str,
}

/// `GET /`: the playground's page.
pub(super) async fn page(State(state): State<AppState>) -> Response {
    let mut operations: Vec<_> = saved_operations().iter().collect();
    // The overview first: it is what an operator opens the playground for.
    operations.sort_by_key(|saved| saved.file != OVERVIEW);
    let settings = Settings {
        graphql_url: "/graphql",
        subscriptions_url: "/graphql/ws",
        demo_token: state.playground_token.get().cloned(),
        operations: operations
            .into_iter()
            .map(|saved| Operation {
                file: saved.file,
                title: &saved.title,
                description: &saved.description,
                name: &saved.name,
                document: &saved.document,
                variables: "{}",
            })
            .collect(),
    };
    let settings = match serde_json::to_string(&settings) {
        // Inside <script>, `<` could end the block: JSON lets it be escaped.
        Ok(json) => json
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
        Err(error) => {
            tracing::error!(%error, "could not write the playground's settings");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Control Tower playground</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    for style in &MANIFEST.styles {
        html.push_str(&format!(
            "<link rel=\"stylesheet\" href=\"/assets/{style}\">\n"
        ));
    }
    html.push_str(&format!(
        "<script type=\"application/json\" id=\"control-tower-config\">{settings}</script>\n\
         </head>\n<body>\n<div id=\"root\"></div>\n"
    ));
    for script in &MANIFEST.scripts {
        html.push_str(&format!("<script src=\"/assets/{script}\"></script>\n"));
    }
    html.push_str("</body>\n</html>\n");
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            // It may hold the demo session, and it names the current build's assets.
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        html,
    )
        .into_response()
}

/// `GET /assets/{name}`: a file of the built playground, cached for a year (its name
/// changes with its content).
pub(super) async fn asset_file(Path(name): Path<String>) -> Response {
    let Some(bytes) = asset(&name).filter(|_| name != "manifest.json") else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let content_type = match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response()
}
