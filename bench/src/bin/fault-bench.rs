//! `fault-bench`: the local stack (`viberdesk-local` on moto, its queues as `infra/template.yaml`
//! declares them) under faults, counted from outside: SIGKILL mid-ingest and mid-reply with a
//! restart on the same state, a Viber storm, the AWS endpoint cut, receipts duplicated and out of
//! order. One row per scenario: accepted, stored, lost, duplicated, out of order, parts sent twice
//! (and why), replies failed, and the time from the fault until everything was stored or sent.
//! Exits non-zero when anything is lost or duplicated or an order broken (issue 15). See
//! bench/README.md.

#[path = "../fault/mod.rs"]
mod fault;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fault::scenarios::{self, Plan, Row, Scenario};
use fault::stack::{self, Setup};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(
    name = "fault-bench",
    about = "Counts what the local stack on moto loses, doubles or delays under faults"
)]
struct Cli {
    /// Clients writing at once (each one Viber user, one task).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=500))]
    clients: Option<u64>,
    /// Messages per client in the ingest and outage scenarios.
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=999))]
    messages: Option<u64>,
    /// One scenario, or all of them in turn.
    #[arg(long, value_enum)]
    scenario: Option<Scenario>,
    /// The version for the test command: 5 clients × 6 messages, a 3 s storm and outage, retries
    /// after 250 ms … 8 s, the inbound and outbound visibility timeouts at most 12 s, up to 60 s of
    /// waiting, the scenarios side by side (~20 s when nothing is lost).
    #[arg(long)]
    short: bool,
    /// Caps the inbound and outbound queues' visibility timeout (seconds): a crash's recovery
    /// waits it out. [default: the template's; 12 with --short]
    #[arg(long, value_parser = clap::value_parser!(u64).range(10..=43_200))]
    visibility: Option<u64>,
    /// Seconds to wait, per scenario, from the fault until everything is stored or sent.
    #[arg(long)]
    timeout: Option<u64>,
    /// Seconds the AWS endpoint stays unreachable.
    #[arg(long)]
    outage: Option<u64>,
    /// Seconds of the Viber storm.
    #[arg(long)]
    storm: Option<u64>,
    /// The viberdesk-local binary [default: builds one with `cargo build --release -p viberdesk-local`].
    #[arg(long)]
    local_bin: Option<PathBuf>,
    /// The template whose queue settings the run uses.
    #[arg(long)]
    template: Option<PathBuf>,
}

/// The short run's visibility timeout cap (seconds): over the sender's 8 s job budget
/// (`sender::JOB_BUDGET`) and the processor's 5 s timeout, so no record is received twice while
/// it is being handled.
const SHORT_VISIBILITY: u64 = 12;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

fn build_local() -> Result<PathBuf, Error> {
    println!("building the local stack: cargo build --release -p viberdesk-local");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "-p", "viberdesk-local"])
        .status()?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})").into());
    }
    Ok(target_dir().join("release").join("viberdesk-local"))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("fault-bench: {error}");
            ExitCode::from(2)
        }
    }
}

/// Runs the scenarios and prints the table: whether nothing was lost, doubled or reordered.
fn run(cli: Cli) -> Result<bool, Error> {
    if std::env::var_os(testkit::moto::ENDPOINT_VARIABLE).is_none() {
        return Err(format!(
            "{} is not set: start a moto server (see bench/README.md)",
            testkit::moto::ENDPOINT_VARIABLE
        )
        .into());
    }
    let seconds = |value: Option<u64>, short: u64, full: u64| {
        Duration::from_secs(value.unwrap_or(if cli.short { short } else { full }))
    };
    let plan = Plan {
        clients: cli.clients.unwrap_or(if cli.short { 5 } else { 30 }) as usize,
        messages: cli.messages.unwrap_or(if cli.short { 6 } else { 20 }) as usize,
        timeout: seconds(cli.timeout, 60, 120),
        storm: seconds(cli.storm, 3, 20),
        outage: seconds(cli.outage, 3, 10),
    };
    let binary = match cli.local_bin {
        Some(binary) => binary,
        None => build_local()?,
    };
    if !binary.is_file() {
        return Err(format!("no viberdesk-local binary at {}", binary.display()).into());
    }
    let setup = Setup {
        binary,
        template: cli
            .template
            .unwrap_or_else(|| workspace_root().join("infra/template.yaml")),
        log: stack::log_path(&target_dir()),
        short_retries: cli.short,
        // Above the sender's 8 s budget for a job, as the template's 48 s is.
        visibility_cap: cli.visibility.or(cli.short.then_some(SHORT_VISIBILITY)),
    };
    let queues: Vec<String> = setup
        .queues()?
        .iter()
        .map(|queue| format!("{} {}", queue.resource, queue.summary()))
        .collect();
    println!(
        "fault run: {} on moto ({}), its log in {}",
        setup.binary.display(),
        testkit::moto::endpoint(),
        setup.log.display()
    );
    println!("  queues from {}: {}", setup.template.display(), queues.join("; "));
    println!(
        "  {} clients × {} messages; storm {} s; AWS cut {} s; waiting up to {} s per scenario; retries {}",
        plan.clients,
        plan.messages,
        plan.storm.as_secs(),
        plan.outage.as_secs(),
        plan.timeout.as_secs(),
        if setup.short_retries {
            "after 250 ms … 8 s (--retry-backoff-ms)"
        } else {
            "on the Lambdas' back-off"
        }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let chosen: Vec<Scenario> = match cli.scenario {
        Some(one) => vec![one],
        None => scenarios::ALL.to_vec(),
    };
    let mut rows = Vec::new();
    if cli.short {
        // Side by side, each on its own moto resources, stack and fake Viber: a crash's recovery
        // waits out a queue's visibility timeout, so in turn the scenarios would take minutes,
        // and at once they take about as long as the slowest.
        let all = futures::future::join_all(chosen.iter().map(|scenario| scenarios::run(*scenario, &setup, &plan)));
        for row in runtime.block_on(all) {
            let row = row?;
            println!("  {}: {}", row.name, row.note);
            rows.push(row);
        }
    } else {
        for scenario in chosen {
            let row = runtime.block_on(scenarios::run(scenario, &setup, &plan))?;
            println!("  {}: {}", row.name, row.note);
            rows.push(row);
        }
    }
    print_table(&rows);
    let clean = rows.iter().all(|row| !row.broken());
    println!(
        "{}",
        if clean {
            "nothing lost, duplicated or out of order"
        } else {
            "FAULTS: something was lost, duplicated or out of order (see above)"
        }
    );
    Ok(clean)
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| scenario | accepted | stored / sent | lost | duplicated | out of order | parts sent twice (answer lost / unexplained) | replies failed | everything stored or sent |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in rows {
        let settled = match row.settled {
            Some(after) => format!("{:.1} s after the fault", after.as_secs_f64()),
            None => "not within the timeout".to_owned(),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} ({} / {}) | {} | {} |",
            row.name,
            row.accepted,
            row.stored,
            row.lost,
            row.duplicated,
            row.out_of_order,
            row.doubles.answer_lost + row.doubles.unexplained,
            row.doubles.answer_lost,
            row.doubles.unexplained,
            row.replies_failed,
            settled
        );
    }
}
