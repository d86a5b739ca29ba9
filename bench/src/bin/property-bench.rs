//! `property-bench`: the property tests of `shared/tests/properties.rs` (testkit's `properties`:
//! callback parser, signature check, text splitter, reply builder), each run for many cases with
//! proptest's `TestRunner`. Prints per target the cases run, the failures (must be 0, with the
//! shrunk input), the time and cases/s; exits non-zero on any failure.
//!
//! `cargo run --release -p viberdesk-bench --bin property-bench [-- --cases N] [--only TEXT]`

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use testkit::properties::TARGETS;

#[derive(Parser)]
struct Args {
    /// Cases per target.
    #[arg(long, default_value_t = 1_000_000)]
    cases: u32,
    /// Only the targets whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// The random seed (a run is reproducible).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut failed = false;
    println!(
        "{:<32} {:>10} {:>8} {:>10} {:>10}",
        "target", "cases", "failures", "time (s)", "cases/s"
    );
    for target in TARGETS {
        if args.only.as_deref().is_some_and(|only| !target.name.contains(only)) {
            continue;
        }
        let config = Config {
            cases: args.cases,
            // Nothing written next to the sources; a failure is printed instead.
            failure_persistence: None,
            ..Config::default()
        };
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&args.seed.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let started = Instant::now();
        let outcome = (target.run)(&mut runner);
        let seconds = started.elapsed().as_secs_f64();
        let failures = u64::from(outcome.failure.is_some());
        let cases = outcome.passed + failures;
        println!(
            "{:<32} {:>10} {:>8} {:>10.1} {:>10.0}",
            target.name,
            cases,
            failures,
            seconds,
            cases as f64 / seconds
        );
        if let Some(failure) = outcome.failure {
            println!("  {failure}");
            failed = true;
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
