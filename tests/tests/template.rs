//! Checks `infra/template.yaml` against the code, offline, for what `sam validate --lint`,
//! cfn-lint and checkov cannot know (they run in `scripts/check-infra`):
//!
//! - **Environment.** Every variable a function's code reads is set in that function's
//!   `Environment` (with `Globals`). "What the code reads" is its binary's `Config::VARIABLES`
//!   (`functions/<f>/src/config.rs`; the media worker's `functions/processor/src/media/config.rs`):
//!   `main` reads nothing but its `Config`, and each crate's unit test checks that
//!   `Config::from_lookup` reads exactly the variables it declares. Functions are named by their
//!   binary (`Metadata.BuildProperties.Binary`), which their crate (`CodeUri`) must have.
//!   Variables with a default in the code (`VIBER_API_URL`, `PUBLIC_BASE_URL`, `*_MAX_RECEIVES`,
//!   `RUST_LOG`) must be set too: the template states every setting. Only `AWS_*` (set by Lambda
//!   itself, read by the SDK) is exempt. Variables set but not read are printed, not refused.
//! - **IAM.** No `Allow` statement anywhere grants a wildcard action on a wildcard resource (or
//!   uses `NotAction` / `NotResource`); each function runs under its own role from this template
//!   (no managed policies, whose contents are not visible here) and that role allows exactly the
//!   actions listed in [`EXPECTED_ACTIONS`].
//! - **Queues.** Each SQS event source reports batch item failures, the queue's visibility
//!   timeout is at least 6 × the consumer's timeout, its `maxReceiveCount` equals the
//!   consumer's `*_MAX_RECEIVES`, the consumer is given the queue's URL (`*_QUEUE_URL`, for the
//!   back-off of failed records), FIFO batches are ≤ 10 without a batching window, maximum
//!   concurrency is set, and the dead-letter queue is of the same type.
//! - **Operations.** Every function has its own log group with a retention, JSON logs, the
//!   runtime/architecture/build method of the issue, and error and throttle alarms; every DLQ
//!   has a depth alarm and the inbound queue an age alarm; routes and outputs exist; the table
//!   mirrors `shared::aws::schema`.
//!
//! The negative tests feed the same checker deliberately broken input, so it cannot pass by
//! checking nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;
use shared::aws::schema::{EXPIRES_AT, INDEXES, IndexProjection, PARTITION_KEY, SORT_KEY};
use shared::config::{INBOUND_QUEUE_URL, RUST_LOG, TABLE_NAME, Variable};

/// Each function's variables, by binary name, as its `Config` declares them.
fn declared_variables() -> BTreeMap<String, Vec<Variable>> {
    [
        ("api", api::config::Config::VARIABLES),
        ("processor", processor::config::Config::VARIABLES),
        ("media-worker", processor::media::config::Config::VARIABLES),
        ("sender", sender::config::Config::VARIABLES),
        ("webhook", webhook::config::Config::VARIABLES),
    ]
    .into_iter()
    .map(|(name, variables)| (name.to_owned(), variables.to_vec()))
    .collect()
}

/// Each function's IAM actions: exactly what its code calls (docs/deploy.md "Least privilege", docs/data-model.md).
/// `logs:*` for its own log group are checked separately. TransactWriteItems has no IAM action
/// of its own; it needs the item actions it uses.
const EXPECTED_ACTIONS: &[(&str, &[&str])] = &[
    (
        "webhook",
        &["dynamodb:GetItem", "sqs:SendMessage", "sqs:GetQueueAttributes"],
    ),
    (
        "processor",
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:Query",
            "sqs:SendMessage",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        ],
    ),
    (
        "media-worker",
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "s3:PutObject",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        ],
    ),
    (
        "sender",
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:Query",
            "s3:GetObject",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        ],
    ),
    (
        "api",
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
            "s3:PutObject",
            "s3:GetObject",
            "sqs:SendMessage",
        ],
    ),
];

const LOG_ACTIONS: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];

// ---------------------------------------------------------------- the tests

#[test]
fn the_template_matches_the_code() {
    let template = load(&root().join("infra/template.yaml"));
    let functions = functions(&template);
    assert_eq!(
        functions.keys().map(String::as_str).collect::<Vec<_>>(),
        ["api", "media-worker", "processor", "sender", "webhook"],
        "the template's functions (by binary)"
    );
    let reads = declared_variables();
    for (name, function) in &functions {
        let found: BTreeSet<&str> = reads[name].iter().map(|v| v.name).collect();
        // Not vacuous: every function needs its table.
        assert!(
            reads[name].contains(&TABLE_NAME),
            "{name}: its Config declares {found:?}"
        );
        println!("{name} reads {found:?}");
        // Set but not (yet) read is allowed: the template may lead the code.
        let unread: Vec<String> = environment(&template, function)
            .into_keys()
            .filter(|variable| !found.contains(variable.as_str()))
            .collect();
        if !unread.is_empty() {
            println!("{name}: set in the template, not read by its code: {unread:?}");
        }
    }
    let problems = check(&template, &reads);
    assert!(problems.is_empty(), "infra/template.yaml:\n  {}", problems.join("\n  "));
    let problems = check_table(&template);
    assert!(
        problems.is_empty(),
        "infra/template.yaml table:\n  {}",
        problems.join("\n  ")
    );
}

/// The sender's deadline is its Lambda's timeout (`sender::JOB_BUDGET`), and the outbound queue
/// hides a reply in flight for 6 × that: under a minute, so a reply whose sender died is sent
/// within a minute (issue 15, part 3).
#[test]
fn a_reply_in_flight_when_the_sender_dies_comes_back_within_a_minute() {
    let template = load(&root().join("infra/template.yaml"));
    let sender = &functions(&template)["sender"];
    let timeout = property(&template, sender, "Timeout").and_then(Value::as_u64);
    assert_eq!(timeout, Some(sender::JOB_BUDGET.as_secs()));
    let visibility = resources(&template)["OutboundQueue"]
        .get("Properties")
        .and_then(|p| p.get("VisibilityTimeout"))
        .and_then(Value::as_u64)
        .expect("the outbound queue's VisibilityTimeout is set");
    assert_eq!(visibility, 6 * sender::JOB_BUDGET.as_secs());
    assert!(visibility < 60, "{visibility}");
}

/// A reply job is sent before its comment is written (docs/outbox.md): the sender waits
/// `COMMENT_GRACE_SECONDS` for the write, which the API makes within its timeout, and drops the
/// job after that, which must come before the job's last receive, or a failed write would end in
/// the dead-letter queue and raise its alarm.
#[test]
fn a_reply_job_whose_comment_was_never_written_is_dropped_before_the_dead_letter_queue() {
    let template = load(&root().join("infra/template.yaml"));
    let grace = Duration::from_secs(shared::outbound::COMMENT_GRACE_SECONDS as u64);
    let api_timeout = property(&template, &functions(&template)["api"], "Timeout")
        .and_then(Value::as_u64)
        .expect("the api's Timeout is set");
    assert!(
        Duration::from_secs(api_timeout) < grace,
        "the API may still write the comment {api_timeout} s after queueing its job, past the grace of {grace:?}"
    );
    let max_receives = resources(&template)["OutboundQueue"]
        .get("Properties")
        .and_then(|p| p.get("RedrivePolicy"))
        .and_then(|p| p.get("maxReceiveCount"))
        .and_then(Value::as_u64)
        .expect("the outbound queue's maxReceiveCount is set") as u32;
    // The earliest the last receive can come: every delay at its shortest, half its ceiling.
    let earliest_last_receive: Duration = (1..max_receives)
        .map(|receive| sender::BACKOFF.ceiling(receive) / 2)
        .sum();
    assert!(
        grace < earliest_last_receive,
        "the grace {grace:?} outlasts the last receive, which may come after {earliest_last_receive:?}"
    );
}

#[test]
fn the_checker_flags_a_broken_template() {
    let template: Value = serde_yaml::from_str(BROKEN).unwrap();
    let reads = BTreeMap::from([
        ("webhook".to_owned(), vec![TABLE_NAME, INBOUND_QUEUE_URL, RUST_LOG]),
        (
            "processor".to_owned(),
            vec![TABLE_NAME, processor::config::INBOUND_MAX_RECEIVES],
        ),
    ]);
    let problems = check(&template, &reads);
    let expected = [
        "webhook: its code reads INBOUND_QUEUE_URL, which",
        "webhook: its code reads RUST_LOG (it has a default",
        "grants wildcard action \"*\" on resource \"*\"",
        "grants wildcard action \"sqs:*\" on resource \"*\"",
        "ProcessorRole.Properties.Policies.PolicyDocument: an Allow with NotAction/NotResource",
        "processor: event Inbound must have FunctionResponseTypes [ReportBatchItemFailures]",
        "processor: Queue's VisibilityTimeout 30 is less than 6 x the function's timeout 60",
        "processor: Queue's maxReceiveCount 3 differs from INBOUND_MAX_RECEIVES 5",
        "processor: sets no *_QUEUE_URL to !Ref Queue, whose records its back-off postpones",
        "processor: FIFO queue Queue takes no batching window",
        "processor: event Inbound has no ScalingConfig.MaximumConcurrency",
        "dead-letter queue Dlq of Queue must be FIFO like it",
        "processor: role ProcessorRole allows s3:DeleteObject, which is not expected",
        "processor: role ProcessorRole does not allow sqs:DeleteMessage",
        "webhook: role WebhookRole uses managed policies",
        "webhook: no Errors alarm",
        "processor: no Throttles alarm",
        "dead-letter queue Dlq has no depth alarm",
        "processor: log group ProcessorLogGroup has no RetentionInDays",
        "processor: LoggingConfig.SystemLogLevel must be WARN",
        "processor: Runtime must be provided.al2023",
    ];
    for needle in expected {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "expected a problem containing {needle:?}, got:\n  {}",
            problems.join("\n  ")
        );
    }
}

#[test]
fn a_function_names_a_binary_its_crate_builds() {
    assert!(has_binary("functions/processor", "processor"), "src/main.rs");
    assert!(
        has_binary("functions/processor", "media-worker"),
        "src/bin/media-worker.rs"
    );
    assert!(!has_binary("functions/processor", "sender"));
    assert!(!has_binary("functions/sender", "media-worker"));
}

/// What the first test relies on: a function reads its environment through its `Config` only, so
/// `Config::VARIABLES` is everything it reads. `shared::config::process_env` is the one read.
#[test]
fn nothing_but_shared_config_reads_the_environment() {
    let allowed = root().join("shared/src/config.rs");
    let mut stack: Vec<PathBuf> = ["functions", "shared/src", "local/src"]
        .iter()
        .map(|d| root().join(d))
        .collect();
    let mut readers = Vec::new();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            // A function crate's tests may set up their own environment.
            let entries = std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            stack.extend(entries.map(|e| e.unwrap().path()).filter(|p| !p.ends_with("tests")));
        } else if path.extension().is_some_and(|e| e == "rs") && path != allowed {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains("env::var") {
                readers.push(path.display().to_string());
            }
        }
    }
    assert!(
        readers.is_empty(),
        "read the environment through a Config (shared::config), not directly: {readers:?}"
    );
}

// ---------------------------------------------------------------- the template's functions

struct Function {
    /// The resource's logical id.
    logical_id: String,
    /// `functions/x`, from `CodeUri`.
    crate_dir: String,
    properties: Value,
    metadata: Value,
}

/// The template's `AWS::Serverless::Function`s by binary name (`Metadata.BuildProperties.Binary`,
/// else the last part of `CodeUri`: a crate's main binary is named after it).
fn functions(template: &Value) -> BTreeMap<String, Function> {
    let mut functions = BTreeMap::new();
    for (logical_id, resource) in &resources(template) {
        if str_at(resource, &["Type"]) != Some("AWS::Serverless::Function") {
            continue;
        }
        let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
        let code_uri = str_at(&properties, &["CodeUri"]).unwrap_or_default();
        let crate_dir = normalize(Path::new("infra").join(code_uri));
        let metadata = resource.get("Metadata").cloned().unwrap_or(Value::Null);
        let name = str_at(&metadata, &["BuildProperties", "Binary"])
            .map(str::to_owned)
            .or_else(|| {
                Path::new(&crate_dir)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| logical_id.clone());
        functions.insert(
            name,
            Function {
                logical_id: logical_id.clone(),
                crate_dir,
                properties,
                metadata,
            },
        );
    }
    functions
}

/// Whether the crate at `crate_dir` builds the binary `name`: its `src/main.rs` when named after
/// the crate, else `src/bin/{name}.rs`.
fn has_binary(crate_dir: &str, name: &str) -> bool {
    let dir = root().join(crate_dir);
    let main = dir.file_name().is_some_and(|n| n == name) && dir.join("src/main.rs").is_file();
    main || dir.join("src/bin").join(format!("{name}.rs")).is_file()
}

/// `infra/../functions/x` → `functions/x`.
fn normalize(path: PathBuf) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

/// A function property, else the `Globals.Function` one.
fn property<'a>(template: &'a Value, function: &'a Function, key: &str) -> Option<&'a Value> {
    function
        .properties
        .get(key)
        .or_else(|| template.get("Globals")?.get("Function")?.get(key))
}

fn environment(template: &Value, function: &Function) -> BTreeMap<String, Value> {
    let mut variables = BTreeMap::new();
    let global = template
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Environment"))
        .and_then(|e| e.get("Variables"));
    let own = function.properties.get("Environment").and_then(|e| e.get("Variables"));
    for source in [global, own].into_iter().flatten() {
        if let Some(map) = source.as_mapping() {
            for (key, value) in map {
                if let Some(key) = key.as_str() {
                    variables.insert(key.to_owned(), value.clone());
                }
            }
        }
    }
    variables
}

// ---------------------------------------------------------------- the checker

/// Every problem found; `reads` maps a function (crate name) to the variables its code reads.
fn check(template: &Value, reads: &BTreeMap<String, Vec<Variable>>) -> Vec<String> {
    let mut problems = Vec::new();
    let resources = resources(template);
    let functions = functions(template);
    let alarms = alarms(template);

    for (name, function) in &functions {
        let p = |text: String| format!("{name}: {text}");
        let env = environment(template, function);

        // Environment: everything the code reads.
        for variable in reads.get(name).into_iter().flatten() {
            if variable.name.starts_with("AWS_") {
                continue;
            }
            if !env.contains_key(variable.name) {
                let default = match variable.required {
                    true => "",
                    false => " (it has a default, but the template states every setting)",
                };
                problems.push(p(format!(
                    "its code reads {}{default}, which its Environment does not set",
                    variable.name
                )));
            }
        }

        // Runtime, architecture, handler, build.
        if property(template, function, "Runtime").and_then(Value::as_str) != Some("provided.al2023") {
            problems.push(p("Runtime must be provided.al2023".into()));
        }
        let arm64 = property(template, function, "Architectures")
            .and_then(Value::as_sequence)
            .is_some_and(|a| a.len() == 1 && a[0].as_str() == Some("arm64"));
        if !arm64 {
            problems.push(p("Architectures must be [arm64]".into()));
        }
        if property(template, function, "Handler").and_then(Value::as_str) != Some("bootstrap") {
            problems.push(p("Handler must be bootstrap".into()));
        }
        if str_at(&function.metadata, &["BuildMethod"]) != Some("rust-cargolambda") {
            problems.push(p("Metadata.BuildMethod must be rust-cargolambda".into()));
        }
        if str_at(&function.metadata, &["BuildProperties", "Binary"]).is_none() {
            problems.push(p("Metadata.BuildProperties.Binary must name the binary".into()));
        } else if !has_binary(&function.crate_dir, name) {
            problems.push(p(format!("{} has no binary {name}", function.crate_dir)));
        }
        let timeout = property(template, function, "Timeout")
            .and_then(Value::as_u64)
            .unwrap_or(3);
        if property(template, function, "MemorySize")
            .and_then(Value::as_u64)
            .is_none()
        {
            problems.push(p("MemorySize must be set".into()));
        }

        // Logs: its own group, with retention, JSON.
        match function
            .properties
            .get("LoggingConfig")
            .and_then(|l| l.get("LogGroup"))
            .and_then(reference)
        {
            Some((group, _)) => match resources.get(&group) {
                Some(resource) if str_at(resource, &["Type"]) == Some("AWS::Logs::LogGroup") => {
                    if resource
                        .get("Properties")
                        .and_then(|p| p.get("RetentionInDays"))
                        .is_none()
                    {
                        problems.push(p(format!("log group {group} has no RetentionInDays")));
                    }
                }
                _ => problems.push(p(format!("LoggingConfig.LogGroup {group} is not a log group here"))),
            },
            None => problems.push(p("LoggingConfig.LogGroup must name its own log group".into())),
        }
        if str_at(&function.properties, &["LoggingConfig", "LogFormat"]) != Some("JSON") {
            problems.push(p("LoggingConfig.LogFormat must be JSON".into()));
        }
        // Platform lines cost more than the application's (docs/cost.md).
        if str_at(&function.properties, &["LoggingConfig", "SystemLogLevel"]) != Some("WARN") {
            problems.push(p("LoggingConfig.SystemLogLevel must be WARN".into()));
        }

        // Alarms on errors and throttles.
        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().any(|alarm| {
                alarm.namespace == "AWS/Lambda"
                    && alarm.metric == metric
                    && alarm
                        .dimension
                        .as_ref()
                        .is_some_and(|(d, target)| d == "FunctionName" && target == &function.logical_id)
            });
            if !found {
                problems.push(p(format!("no {metric} alarm")));
            }
        }

        // IAM: its own role with exactly the expected actions.
        problems.extend(check_role(name, function, &resources).into_iter().map(&p));

        // Event sources.
        let events = function.properties.get("Events").and_then(Value::as_mapping);
        for (event_name, event) in events.into_iter().flatten() {
            let event_name = event_name.as_str().unwrap_or_default();
            if str_at(event, &["Type"]) != Some("SQS") {
                continue;
            }
            let props = event.get("Properties").cloned().unwrap_or(Value::Null);
            let report = props
                .get("FunctionResponseTypes")
                .and_then(Value::as_sequence)
                .is_some_and(|t| t.len() == 1 && t[0].as_str() == Some("ReportBatchItemFailures"));
            if !report {
                problems.push(p(format!(
                    "event {event_name} must have FunctionResponseTypes [ReportBatchItemFailures]"
                )));
            }
            if str_at(&props, &["ScalingConfig", "MaximumConcurrency"]).is_none()
                && props
                    .get("ScalingConfig")
                    .and_then(|s| s.get("MaximumConcurrency"))
                    .and_then(Value::as_u64)
                    .is_none()
            {
                problems.push(p(format!("event {event_name} has no ScalingConfig.MaximumConcurrency")));
            }
            let Some((queue, _)) = props.get("Queue").and_then(reference) else {
                problems.push(p(format!("event {event_name}: Queue must reference a queue here")));
                continue;
            };
            let Some(queue_props) = resources.get(&queue).and_then(|q| q.get("Properties")) else {
                problems.push(p(format!("event {event_name}: no queue {queue}")));
                continue;
            };
            let fifo = queue_props.get("FifoQueue").and_then(Value::as_bool) == Some(true);
            let batch = props.get("BatchSize").and_then(Value::as_u64);
            if batch.is_none() {
                problems.push(p(format!("event {event_name} must set BatchSize")));
            }
            if fifo {
                if batch.is_some_and(|b| b > 10) {
                    problems.push(p(format!("FIFO queue {queue} takes batches of at most 10")));
                }
                if props.get("MaximumBatchingWindowInSeconds").is_some() {
                    problems.push(p(format!("FIFO queue {queue} takes no batching window")));
                }
            }
            let visibility = queue_props
                .get("VisibilityTimeout")
                .and_then(Value::as_u64)
                .unwrap_or(30);
            if visibility < 6 * timeout {
                problems.push(p(format!(
                    "{queue}'s VisibilityTimeout {visibility} is less than 6 x the function's timeout {timeout}"
                )));
            }
            // The back-off (`shared::retry::postpone_retries`) changes the visibility of the
            // records the function received: it is told that queue's URL.
            let told_url = env.iter().any(|(name, value)| {
                name.ends_with("_QUEUE_URL")
                    && reference(value).is_some_and(|(to, attribute)| to == queue && attribute.is_none())
            });
            if !told_url {
                problems.push(p(format!(
                    "sets no *_QUEUE_URL to !Ref {queue}, whose records its back-off postpones"
                )));
            }
            let redrive = queue_props.get("RedrivePolicy");
            let max_receives = redrive
                .and_then(|r| r.get("maxReceiveCount"))
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
            let variables: Vec<(&String, &Value)> = env.iter().filter(|(k, _)| k.ends_with("_MAX_RECEIVES")).collect();
            match (max_receives, variables.as_slice()) {
                (None, _) => problems.push(p(format!("{queue} has no RedrivePolicy.maxReceiveCount"))),
                (Some(_), []) => problems.push(p("sets no *_MAX_RECEIVES for its queue".into())),
                (Some(count), [(variable, value)]) => {
                    let told = value.as_str().and_then(|v| v.parse::<u64>().ok()).or(value.as_u64());
                    if told != Some(count) {
                        problems.push(p(format!(
                            "{queue}'s maxReceiveCount {count} differs from {variable} {}",
                            value
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| format!("{value:?}"))
                        )));
                    }
                }
                (Some(_), _) => problems.push(p("sets more than one *_MAX_RECEIVES".into())),
            }
            if let Some((dlq, _)) = redrive.and_then(|r| r.get("deadLetterTargetArn")).and_then(reference) {
                let dlq_fifo = resources
                    .get(&dlq)
                    .and_then(|d| d.get("Properties"))
                    .and_then(|d| d.get("FifoQueue"))
                    .and_then(Value::as_bool)
                    == Some(true);
                if dlq_fifo != fifo {
                    problems.push(format!(
                        "dead-letter queue {dlq} of {queue} must be {} like it",
                        if fifo { "FIFO" } else { "standard" }
                    ));
                }
            } else {
                problems.push(p(format!("{queue} has no dead-letter queue")));
            }
        }
    }

    // Every dead-letter queue has a depth alarm.
    for (id, resource) in &resources {
        let Some(redrive) = resource.get("Properties").and_then(|p| p.get("RedrivePolicy")) else {
            continue;
        };
        let Some((dlq, _)) = redrive.get("deadLetterTargetArn").and_then(reference) else {
            continue;
        };
        let alarmed = alarms.iter().any(|a| {
            a.namespace == "AWS/SQS"
                && a.metric == "ApproximateNumberOfMessagesVisible"
                && a.dimension.as_ref().is_some_and(|(d, t)| d == "QueueName" && t == &dlq)
        });
        if !alarmed {
            problems.push(format!("dead-letter queue {dlq} has no depth alarm (source {id})"));
        }
    }

    // The inbound queue's oldest message.
    if let Some(processor) = functions.get("processor") {
        let inbound = processor
            .properties
            .get("Events")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(_, e)| e.get("Properties")?.get("Queue").and_then(reference))
            .map(|(q, _)| q)
            .next();
        if let Some(inbound) = inbound {
            let alarmed = alarms.iter().any(|a| {
                a.metric == "ApproximateAgeOfOldestMessage" && a.dimension.as_ref().is_some_and(|(_, t)| t == &inbound)
            });
            if !alarmed {
                problems.push(format!(
                    "inbound queue {inbound} has no ApproximateAgeOfOldestMessage alarm"
                ));
            }
        }
    }

    // No wildcard grants anywhere (roles, inline function policies, resource policies).
    walk_statements(template, &mut |path, statement| {
        if let Some(problem) = wildcard_grant(statement) {
            problems.push(format!("{path}: {problem}"));
        }
    });

    problems
}

/// The function's role: defined here, no managed policies, exactly [`EXPECTED_ACTIONS`] plus
/// writing to its own log group.
fn check_role(name: &str, function: &Function, resources: &BTreeMap<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    if function.properties.get("Policies").is_some() {
        problems.push("set Policies on its Role, not on the function".into());
    }
    let Some((role, _)) = function.properties.get("Role").and_then(reference) else {
        problems.push("has no Role of its own from this template".into());
        return problems;
    };
    let Some(role_props) = resources.get(&role).and_then(|r| r.get("Properties")) else {
        problems.push(format!("no role {role}"));
        return problems;
    };
    if role_props.get("ManagedPolicyArns").is_some() {
        problems.push(format!(
            "role {role} uses managed policies, which this test cannot read"
        ));
    }
    let mut allowed = BTreeSet::new();
    walk_statements(role_props, &mut |_, statement| {
        if str_at(statement, &["Effect"]) == Some("Allow") {
            allowed.extend(strings(statement.get("Action")));
        }
    });
    // The assume-role statement is not a permission.
    allowed.remove("sts:AssumeRole");
    let expected: BTreeSet<String> = EXPECTED_ACTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, actions)| actions.iter().chain(LOG_ACTIONS).map(|a| a.to_string()).collect())
        .unwrap_or_default();
    for extra in allowed.difference(&expected) {
        problems.push(format!("role {role} allows {extra}, which is not expected"));
    }
    for missing in expected.difference(&allowed) {
        problems.push(format!("role {role} does not allow {missing}"));
    }
    problems
}

/// Why an IAM statement is a wildcard grant, if it is.
fn wildcard_grant(statement: &Value) -> Option<String> {
    if str_at(statement, &["Effect"]) != Some("Allow") {
        return None;
    }
    if statement.get("NotAction").is_some() || statement.get("NotResource").is_some() {
        return Some("an Allow with NotAction/NotResource grants everything else".into());
    }
    let resources = strings(statement.get("Resource"));
    let wildcard_resource = resources.iter().find(|r| *r == "*" || r.ends_with(":*"));
    let wildcard_action = strings(statement.get("Action"))
        .into_iter()
        .find(|a| a == "*" || a.ends_with(":*"));
    match (wildcard_action, wildcard_resource) {
        (Some(action), Some(resource)) => Some(format!("grants wildcard action {action:?} on resource {resource:?}")),
        _ => None,
    }
}

/// Calls `visit` for every IAM statement below `value` (any mapping with a `Statement` list),
/// with a path for messages. The assume-role documents are visited too (harmless: they allow
/// `sts:AssumeRole` to a service, no resource).
fn walk_statements(value: &Value, visit: &mut dyn FnMut(&str, &Value)) {
    fn walk(value: &Value, path: &mut Vec<String>, visit: &mut dyn FnMut(&str, &Value)) {
        match value {
            Value::Mapping(map) => {
                for (key, child) in map {
                    let key = key.as_str().unwrap_or("?").to_owned();
                    if key == "Statement" {
                        let statements = match child {
                            Value::Sequence(items) => items.clone(),
                            other => vec![other.clone()],
                        };
                        for statement in &statements {
                            visit(&path.join("."), statement);
                        }
                    }
                    path.push(key);
                    walk(child, path, visit);
                    path.pop();
                }
            }
            Value::Sequence(items) => {
                for item in items {
                    walk(item, path, visit);
                }
            }
            Value::Tagged(tagged) => walk(&tagged.value, path, visit),
            _ => {}
        }
    }
    walk(value, &mut Vec::new(), visit);
}

struct Alarm {
    namespace: String,
    metric: String,
    /// The first dimension: its name and the logical id it references.
    dimension: Option<(String, String)>,
}

fn alarms(template: &Value) -> Vec<Alarm> {
    resources(template)
        .values()
        .filter(|r| str_at(r, &["Type"]) == Some("AWS::CloudWatch::Alarm"))
        .filter_map(|r| {
            let props = r.get("Properties")?;
            let dimension = props
                .get("Dimensions")
                .and_then(Value::as_sequence)
                .and_then(|d| d.first())
                .and_then(|d| Some((str_at(d, &["Name"])?.to_owned(), reference(d.get("Value")?)?.0)));
            Some(Alarm {
                namespace: str_at(props, &["Namespace"])?.to_owned(),
                metric: str_at(props, &["MetricName"])?.to_owned(),
                dimension,
            })
        })
        .collect()
}

/// The table mirrors `shared::aws::schema`: keys, TTL attribute, indexes; on-demand,
/// point-in-time recovery, deletion protection from a parameter. Also the routes and outputs.
fn check_table(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let resources = resources(template);
    let tables: Vec<&Value> = resources
        .values()
        .filter(|r| str_at(r, &["Type"]) == Some("AWS::DynamoDB::Table"))
        .filter_map(|r| r.get("Properties"))
        .collect();
    let [table] = tables.as_slice() else {
        problems.push(format!("expected one table, found {}", tables.len()));
        return problems;
    };
    if str_at(table, &["BillingMode"]) != Some("PAY_PER_REQUEST") {
        problems.push("the table must be on-demand (PAY_PER_REQUEST)".into());
    }
    if table
        .get("PointInTimeRecoverySpecification")
        .and_then(|p| p.get("PointInTimeRecoveryEnabled"))
        .and_then(Value::as_bool)
        != Some(true)
    {
        problems.push("the table needs point-in-time recovery".into());
    }
    if table.get("DeletionProtectionEnabled").and_then(reference).is_none() {
        problems.push("DeletionProtectionEnabled must come from a parameter".into());
    }
    if str_at(table, &["TimeToLiveSpecification", "AttributeName"]) != Some(EXPIRES_AT) {
        problems.push("TTL attribute differs from schema.rs EXPIRES_AT".into());
    }
    let key_schema = |value: Option<&Value>| -> Vec<String> {
        value
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|k| str_at(k, &["AttributeName"]).map(str::to_owned))
            .collect()
    };
    let expected_key = [PARTITION_KEY, SORT_KEY].map(str::to_owned);
    if key_schema(table.get("KeySchema")) != expected_key {
        problems.push(format!("KeySchema differs from schema.rs {expected_key:?}"));
    }
    let indexes: Vec<(String, Vec<String>, String)> = table
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .map(|i| {
            (
                str_at(i, &["IndexName"]).unwrap_or_default().to_owned(),
                key_schema(i.get("KeySchema")),
                str_at(i, &["Projection", "ProjectionType"])
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, Vec<String>, String)> = INDEXES
        .iter()
        .map(|i| {
            let projection = match i.projection {
                IndexProjection::All => "ALL",
                IndexProjection::KeysOnly => "KEYS_ONLY",
            };
            (
                i.name.to_owned(),
                vec![i.partition_key.to_owned(), i.sort_key.to_owned()],
                projection.to_owned(),
            )
        })
        .collect();
    if indexes != expected {
        problems.push(format!("indexes {indexes:?} differ from schema.rs {expected:?}"));
    }

    // Routes.
    let functions = functions(template);
    for (function, path) in [
        ("webhook", "/viber/{integration_id}"),
        ("api", "/api/{proxy+}"),
        // The staff web inbox's page and files (functions/api/src/web.rs).
        ("api", "/"),
        ("api", "/app/{proxy+}"),
    ] {
        let routed = functions.get(function).is_some_and(|f| {
            f.properties
                .get("Events")
                .and_then(Value::as_mapping)
                .into_iter()
                .flatten()
                .any(|(_, e)| {
                    str_at(e, &["Type"]) == Some("HttpApi") && str_at(e, &["Properties", "Path"]) == Some(path)
                })
        });
        if !routed {
            problems.push(format!("no HttpApi route {path} to {function}"));
        }
    }
    for output in ["ApiBaseUrl", "WebhookUrlPattern"] {
        if template.get("Outputs").and_then(|o| o.get(output)).is_none() {
            problems.push(format!("no output {output}"));
        }
    }
    problems
}

// ---------------------------------------------------------------- YAML helpers

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn resources(template: &Value) -> BTreeMap<String, Value> {
    template
        .get("Resources")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
        .collect()
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut value = value;
    for key in path {
        value = value.get(*key)?;
    }
    value.as_str()
}

/// A string or a list of strings (IAM's `Action` / `Resource`); intrinsic functions are not
/// strings and count as specific.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// The logical id (and attribute) that `!Ref X`, `!GetAtt X.Attr`, `!GetAtt [X, Attr]`,
/// `{Ref: X}` or `{Fn::GetAtt: …}` points at.
fn reference(value: &Value) -> Option<(String, Option<String>)> {
    fn get_att(value: &Value) -> Option<(String, Option<String>)> {
        match value {
            Value::String(s) => {
                let (id, attr) = s.split_once('.')?;
                Some((id.to_owned(), Some(attr.to_owned())))
            }
            Value::Sequence(items) => Some((
                items.first()?.as_str()?.to_owned(),
                items.get(1)?.as_str().map(str::to_owned),
            )),
            _ => None,
        }
    }
    match value {
        Value::Tagged(tagged) => match tagged.tag.to_string().as_str() {
            "!Ref" => Some((tagged.value.as_str()?.to_owned(), None)),
            "!GetAtt" => get_att(&tagged.value),
            _ => None,
        },
        Value::Mapping(map) if map.len() == 1 => {
            if let Some(id) = map.get("Ref") {
                return Some((id.as_str()?.to_owned(), None));
            }
            get_att(map.get("Fn::GetAtt")?)
        }
        _ => None,
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

// ---------------------------------------------------------------- the broken template

/// Every rule broken once (see `the_checker_flags_a_broken_template`).
const BROKEN: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Handler: bootstrap
    Architectures: [arm64]
Resources:
  WebhookFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: webhook } }
    Properties:
      CodeUri: ../functions/webhook
      Runtime: provided.al2023
      MemorySize: 128
      Role: !GetAtt WebhookRole.Arn
      LoggingConfig: { LogFormat: JSON, SystemLogLevel: WARN, LogGroup: !Ref WebhookLogGroup }
      Environment:
        Variables:
          TABLE_NAME: !Ref Table
  WebhookLogGroup:
    Type: AWS::Logs::LogGroup
    Properties: { RetentionInDays: 30 }
  WebhookRole:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]
      Policies:
        - PolicyName: everything
          PolicyDocument:
            Statement:
              - { Effect: Allow, Action: "*", Resource: "*" }
              - { Effect: Allow, Action: ["sqs:*"], Resource: ["*"] }
  ProcessorFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: processor } }
    Properties:
      CodeUri: ../functions/processor
      Runtime: provided.al2
      MemorySize: 256
      Timeout: 60
      Role: !GetAtt ProcessorRole.Arn
      LoggingConfig: { LogFormat: JSON, LogGroup: !Ref ProcessorLogGroup }
      Environment:
        Variables: { TABLE_NAME: t, INBOUND_MAX_RECEIVES: "5" }
      Events:
        Inbound:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 5
            FunctionResponseTypes: [ReportBatchItemFailure]
  ProcessorLogGroup:
    Type: AWS::Logs::LogGroup
    Properties: {}
  ProcessorRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: processor
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem,
                         dynamodb:ConditionCheckItem, dynamodb:Query, s3:PutObject, s3:DeleteObject,
                         sqs:ReceiveMessage, sqs:GetQueueAttributes, sqs:ChangeMessageVisibility,
                         logs:CreateLogStream, logs:PutLogEvents]
                Resource: !GetAtt Table.Arn
              - { Effect: Allow, NotAction: "iam:*", Resource: "*" }
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      VisibilityTimeout: 30
      RedrivePolicy: { deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 3 }
  Dlq:
    Type: AWS::SQS::Queue
    Properties: {}
  ThrottlesAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Throttles
      Dimensions: [{ Name: FunctionName, Value: !Ref WebhookFunction }]
"#;
