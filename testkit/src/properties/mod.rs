//! Property tests' generators and checks, shared by `shared/tests/properties.rs` (a few hundred
//! cases per property under `cargo test`) and the bench's `property-bench` (a million per target,
//! in release): each target is a strategy and a check, so both runs test exactly the same thing.
//!
//! - [`callbacks`]: `Callback::from_slice` never panics, and every callback Viber sends parses to
//!   the fields it was generated from;
//! - [`signature`]: `signature::verify` against an oracle, and every tampering refused;
//! - [`split`]: `reply::split_text` keeps every part within its limit and loses nothing;
//! - [`reply`]: `reply::build_messages` builds any valid reply within Viber's limits and refuses
//!   an invalid one with a justified typed error.

pub mod callbacks;
pub mod json;
pub mod reply;
pub mod signature;
pub mod split;
pub mod text;

use std::cell::Cell;
use std::fmt::Debug;

use proptest::strategy::Strategy;
use proptest::test_runner::{TestCaseError, TestRunner};

/// One property: its name and how to run it on a runner (which says how many cases).
pub struct Target {
    pub name: &'static str,
    pub run: fn(&mut TestRunner) -> Outcome,
}

/// How a run went.
#[derive(Debug)]
pub struct Outcome {
    /// Cases that passed before the first failure (all of them if none failed).
    pub passed: u64,
    /// The first failure, shrunk to a minimal input.
    pub failure: Option<String>,
}

/// Every property, for the bench (the tests name them one by one).
pub const TARGETS: &[Target] = &[
    Target {
        name: "callback: arbitrary bytes",
        run: |runner| run(runner, callbacks::arbitrary_bytes(), |b| callbacks::never_panics(&b)),
    },
    Target {
        name: "callback: mutated callbacks",
        run: |runner| run(runner, callbacks::mutated_callback(), |b| callbacks::never_panics(&b)),
    },
    Target {
        name: "callback: round trip",
        run: |runner| run(runner, callbacks::encoded_callback(), callbacks::round_trips),
    },
    Target {
        name: "signature: arbitrary headers",
        run: |runner| run(runner, signature::arbitrary_input(), signature::matches_the_oracle),
    },
    Target {
        name: "signature: tampering",
        run: |runner| run(runner, signature::tampering(), signature::refuses_tampering),
    },
    Target {
        name: "split_text",
        run: |runner| run(runner, split::split_input(), split::splits_validly),
    },
    Target {
        name: "build_messages: valid replies",
        run: |runner| run(runner, reply::valid_reply(), reply::builds),
    },
    Target {
        name: "build_messages: any reply",
        run: |runner| run(runner, reply::any_reply(), reply::builds_or_refuses),
    },
];

/// Runs `check` on the runner's number of cases.
pub fn run<S>(runner: &mut TestRunner, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>) -> Outcome
where
    S: Strategy,
    S::Value: Debug,
{
    // Shrinking runs the check again on smaller inputs: only the cases before it count.
    let passed = Cell::new(0);
    let failed = Cell::new(false);
    let result = runner.run(&strategy, |value| {
        let result = check(value);
        match &result {
            Ok(()) if !failed.get() => passed.set(passed.get() + 1),
            Ok(()) => {}
            Err(_) => failed.set(true),
        }
        result
    });
    Outcome {
        passed: passed.get(),
        failure: result.err().map(|error| error.to_string()),
    }
}
