//! The `renvo` binary: parse the command line, set up tracing, run the command.

use std::process::ExitCode;

use clap::Parser;

/// jemalloc instead of the system allocator: a request allocates and frees dozens of small
/// buffers, and glibc's malloc spent about a fifth of a GET's instructions on them. It also
/// takes SQLite's own malloc calls (the crate's unprefixed feature): left on glibc, SQLite's
/// 64 KiB statement-journal chunk, freed after every write, made glibc trim and re-fault the
/// writer thread's heap, doubling the kernel time of a write.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = renvo::config::Cli::parse();
    renvo::install_tls_provider();
    renvo::telemetry::init_tracing(cli.global.log_format);
    match renvo::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            // The causes say what to fix: a refused connection, a failed migration's SQL.
            // A transparent wrapper's source says the same again; show each text once.
            let mut shown = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(inner) = cause {
                let text = inner.to_string();
                if text != shown {
                    eprintln!("  caused by: {text}");
                }
                shown = text;
                cause = inner.source();
            }
            ExitCode::FAILURE
        }
    }
}
