//! Logging: JSON lines in Lambda (CloudWatch), readable lines locally. `RUST_LOG` filters (each
//! `Config` reads it, see `shared::config::RUST_LOG`).

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `RUST_LOG` as a list of `target=level` directives (e.g. `info,shared=debug`); `info` otherwise.
/// `Targets` rather than `EnvFilter`: no regex engine in the Lambda binaries.
fn filter(directives: Option<&str>) -> Targets {
    directives
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// For Lambda: one JSON object per line; CloudWatch adds the time.
pub fn init_json(log_filter: Option<&str>) {
    init_json_to(log_filter, std::io::stdout);
}

/// The Lambda format written to `writer` instead of stdout: the benches count the bytes a
/// message costs in CloudWatch Logs with it.
pub fn init_json_to<W>(log_filter: Option<&str>, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(format)
        .with(filter(log_filter))
        .try_init();
}

/// For the local stack: readable lines, written to `writer` (the local stack's own stdout writer,
/// which never blocks the thread that logs).
pub fn init_text_to<W>(log_filter: Option<&str>, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::layer().with_target(false).with_writer(writer);
    let _ = tracing_subscriber::registry()
        .with(format)
        .with(filter(log_filter))
        .try_init();
}
