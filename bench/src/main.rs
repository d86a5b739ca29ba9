//! `webhook-bench`: figures for the webhook Lambda, each printed next to its target. It reports
//! numbers rather than pass/fail, since timings move with the machine; it exits non-zero only
//! when a figure could not be measured (a failed build, a handler that did not answer 200, …).
//!
//! Modes (see `--help`): `callbacks` (default), `zip`, `serve`, `load`, `all`.

mod callbacks;
mod load;
mod runtime_api;
mod serve;
mod stats;
mod workspace;
mod zip_size;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Any failure that stops a measurement; it is printed and turned into exit code 1.
type Error = Box<dyn std::error::Error>;

#[derive(Parser)]
#[command(
    name = "webhook-bench",
    about = "Prints the webhook Lambda's figures against its targets"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Time per callback of verify + parse + build-queue-message, per fixture (the default).
    Callbacks,
    /// Size of the webhook's arm64 release zip, built with cargo lambda.
    Zip(zip_size::Options),
    /// Cold start, handler time and peak memory of the real binary behind a fake Runtime API.
    Serve(serve::Options),
    /// Callbacks/s, latency, CPU and memory of the release local stack pinned to one core,
    /// under signed callbacks over HTTP until its queue has drained.
    Load(load::Options),
    /// `callbacks`, then `serve`, then `zip`.
    All {
        #[command(flatten)]
        zip: zip_size::Options,
        #[command(flatten)]
        serve: serve::Options,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().mode.unwrap_or(Mode::Callbacks) {
        Mode::Callbacks => callbacks::run(),
        Mode::Zip(options) => zip_size::run(&options),
        Mode::Serve(options) => serve::run(&options),
        Mode::Load(options) => load::run(&options),
        Mode::All { zip, serve } => callbacks::run()
            .and_then(|()| serve::run(&serve))
            .and_then(|()| zip_size::run(&zip)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("webhook-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
