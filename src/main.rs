//! The `control-tower` binary: parse the command line and run the command, which sets up
//! logging once the configuration is read.

use clap::Parser;
use control_tower::cli::{self, Cli};

/// mimalloc rather than the system allocator: under load the service allocates and frees
/// from every worker thread, and glibc's arenas spent a quarter of its time there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(control_tower::config::WORKER_STACK_BYTES)
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> std::process::ExitCode {
    match cli::run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
