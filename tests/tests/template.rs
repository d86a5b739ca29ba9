//! Checks `infra/template.yaml` against the code, offline, for what `sam validate --lint`,
//! cfn-lint and checkov cannot know (they run in `scripts/check-infra`):
//!
//! - **Environment.** Every variable a function's code reads is set in that function's
//!   `Environment` (with `Globals`). "What the code reads" is found by scanning the function
//!   crate's `src/` (see [`scan_reads`]): the first argument of `required(…)`, `env::var(…)`,
//!   `env::var_os(…)` and `max_receives(…)`, as a string literal or a `const NAME: &str = "…"`
//!   of the crate or of `shared`; plus every `shared` helper the crate calls that reads a fixed
//!   variable itself, directly or through another helper (`viber_api_url()` → `VIBER_API_URL`,
//!   `telemetry::init_json()` → `RUST_LOG`). A read whose variable cannot be resolved fails the
//!   test rather than being skipped. Variables with a default in the code (`VIBER_API_URL`,
//!   `*_MAX_RECEIVES`, `RUST_LOG`) must be set too: the template states every setting.
//!   Only `AWS_*` (set by Lambda itself) is exempt.
//! - **IAM.** No `Allow` statement anywhere grants a wildcard action on a wildcard resource (or
//!   uses `NotAction` / `NotResource`); each function runs under its own role from this template
//!   (no managed policies, whose contents are not visible here) and that role allows exactly the
//!   actions listed in [`EXPECTED_ACTIONS`].
//! - **Queues.** Each SQS event source reports batch item failures, the queue's visibility
//!   timeout is at least 6 × the consumer's timeout, its `maxReceiveCount` equals the
//!   consumer's `*_MAX_RECEIVES`, FIFO batches are ≤ 10 without a batching window, maximum
//!   concurrency is set, and the dead-letter queue is of the same type.
//! - **Operations.** Every function has its own log group with a retention, JSON logs, the
//!   runtime/architecture/build method of the issue, and error and throttle alarms; every DLQ
//!   has a depth alarm and the inbound queue an age alarm; routes and outputs exist; the table
//!   mirrors `shared/src/aws/schema.rs`.
//!
//! The negative tests feed the same checker deliberately broken input, so it cannot pass by
//! checking nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// Each function's IAM actions: exactly what its code calls (DESIGN.md, docs/data-model.md).
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
        ["api", "processor", "sender", "webhook"],
        "the template's functions (by crate)"
    );
    let shared = SourceTree::read(&root().join("shared/src"));
    let mut reads = BTreeMap::new();
    for (name, function) in &functions {
        let code = SourceTree::read(&root().join(&function.crate_dir).join("src"));
        let found = scan_reads(&code, &shared).unwrap_or_else(|problems| panic!("{name}: {}", problems.join("\n")));
        // Not vacuous: every function needs its table.
        assert!(found.contains("TABLE_NAME"), "{name}: the scan found {found:?}");
        println!("{name} reads {found:?}");
        // Set but not (yet) read is allowed: the template may lead the code.
        let unread: Vec<String> = environment(&template, function)
            .into_keys()
            .filter(|variable| !found.contains(variable))
            .collect();
        if !unread.is_empty() {
            println!("{name}: set in the template, not read by its code: {unread:?}");
        }
        reads.insert(name.clone(), found);
    }
    let problems = check(&template, &reads);
    assert!(problems.is_empty(), "infra/template.yaml:\n  {}", problems.join("\n  "));
    let problems = check_table(&template, &shared);
    assert!(
        problems.is_empty(),
        "infra/template.yaml table:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checker_flags_a_broken_template() {
    let template: Value = serde_yaml::from_str(BROKEN).unwrap();
    let reads = BTreeMap::from([
        ("webhook".to_owned(), set(&["TABLE_NAME", "INBOUND_QUEUE_URL"])),
        ("processor".to_owned(), set(&["TABLE_NAME", "INBOUND_MAX_RECEIVES"])),
    ]);
    let problems = check(&template, &reads);
    let expected = [
        "webhook: its code reads INBOUND_QUEUE_URL",
        "grants wildcard action \"*\" on resource \"*\"",
        "grants wildcard action \"sqs:*\" on resource \"*\"",
        "ProcessorRole.Properties.Policies.PolicyDocument: an Allow with NotAction/NotResource",
        "processor: event Inbound must have FunctionResponseTypes [ReportBatchItemFailures]",
        "processor: Queue's VisibilityTimeout 30 is less than 6 x the function's timeout 60",
        "processor: Queue's maxReceiveCount 3 differs from INBOUND_MAX_RECEIVES 5",
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
fn the_scan_finds_every_kind_of_read_and_refuses_unknown_ones() {
    let shared = SourceTree::from_files(&[(
        "config.rs",
        r#"
pub fn required(name: &'static str) -> Result<String, ()> { std::env::var(name).map_err(|_| ()) }
pub fn viber_api_url() -> String { std::env::var("VIBER_API_URL").unwrap_or_default() }
fn filter() -> String { std::env::var("RUST_LOG").unwrap_or_default() }
pub fn init_json() { let _ = (filter()); }
pub fn max_receives(variable: &'static str, default: u32) -> u32 { std::env::var(variable).map(|_| default).unwrap_or(default) }
pub const SHARED_NAME: &str = "FROM_SHARED";
"#,
    )]);
    let code = SourceTree::from_files(&[(
        "main.rs",
        r#"
pub const MAX_RECEIVES_VARIABLE: &str = "X_MAX_RECEIVES";
fn main() {
    shared::telemetry::init_json();
    let a = required("TABLE_NAME")?;
    let b = std::env::var("PLAIN").ok();
    let c = std::env::var_os("OS_VAR");
    let d = shared::config::max_receives(MAX_RECEIVES_VARIABLE, 5);
    let e = ViberClient::new(&viber_api_url());
    let f = required(shared::config::SHARED_NAME)?;
    let g = value.filter(|v| !v.is_empty());
}
#[cfg(test)]
mod tests {
    fn t() { std::env::var("ONLY_IN_TESTS").ok(); }
}
"#,
    )]);
    assert_eq!(
        scan_reads(&code, &shared).unwrap(),
        set(&[
            "FROM_SHARED",
            "OS_VAR",
            "PLAIN",
            "RUST_LOG",
            "TABLE_NAME",
            "VIBER_API_URL",
            "X_MAX_RECEIVES"
        ])
    );

    let unknown = SourceTree::from_files(&[("main.rs", "fn main() { let name = pick(); std::env::var(name); }")]);
    let problems = scan_reads(&unknown, &shared).unwrap_err();
    assert!(problems[0].contains("cannot tell which variable"), "{problems:?}");
}

// ---------------------------------------------------------------- the template's functions

struct Function {
    /// The resource's logical id.
    logical_id: String,
    /// Relative to the repository root (`functions/webhook`).
    crate_dir: String,
    properties: Value,
    metadata: Value,
}

/// The template's `AWS::Serverless::Function`s by crate name (the last part of `CodeUri`).
fn functions(template: &Value) -> BTreeMap<String, Function> {
    let mut functions = BTreeMap::new();
    for (logical_id, resource) in &resources(template) {
        if str_at(resource, &["Type"]) != Some("AWS::Serverless::Function") {
            continue;
        }
        let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
        let code_uri = str_at(&properties, &["CodeUri"]).unwrap_or_default();
        let crate_dir = normalize(Path::new("infra").join(code_uri));
        let name = Path::new(&crate_dir)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| logical_id.clone());
        functions.insert(
            name,
            Function {
                logical_id: logical_id.clone(),
                crate_dir,
                properties,
                metadata: resource.get("Metadata").cloned().unwrap_or(Value::Null),
            },
        );
    }
    functions
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
fn check(template: &Value, reads: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    let resources = resources(template);
    let functions = functions(template);
    let alarms = alarms(template);

    for (name, function) in &functions {
        let p = |text: String| format!("{name}: {text}");
        let env = environment(template, function);

        // Environment: everything the code reads.
        for variable in reads.get(name).into_iter().flatten() {
            if variable.starts_with("AWS_") {
                continue;
            }
            if !env.contains_key(variable) {
                problems.push(p(format!(
                    "its code reads {variable}, which its Environment does not set"
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
        if str_at(&function.metadata, &["BuildProperties", "Binary"]) != Some(name.as_str()) {
            problems.push(p(format!("Metadata.BuildProperties.Binary must be {name}")));
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

/// The table mirrors `shared/src/aws/schema.rs`: keys, TTL attribute, indexes; on-demand,
/// point-in-time recovery, deletion protection from a parameter. Also the routes and outputs.
fn check_table(template: &Value, shared: &SourceTree) -> Vec<String> {
    let mut problems = Vec::new();
    let resources = resources(template);
    let schema = shared
        .files
        .iter()
        .find(|(path, _)| path.ends_with("aws/schema.rs"))
        .map(|(_, text)| text.as_str())
        .unwrap_or_default();
    let constants = constants(schema);
    let fields = |field: &str| -> Vec<String> {
        let needle = format!("{field}: \"");
        schema
            .match_indices(&needle)
            .filter_map(|(at, _)| {
                let rest = &schema[at + needle.len()..];
                Some(rest[..rest.find('"')?].to_owned())
            })
            .collect()
    };
    let index_names = fields("name");
    let index_keys = fields("partition_key");
    if index_names.len() != 4 || index_keys.len() != 4 {
        problems.push(format!("schema.rs scan found indexes {index_names:?} / {index_keys:?}"));
    }
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
    if str_at(table, &["TimeToLiveSpecification", "AttributeName"]) != constants.get("EXPIRES_AT").map(String::as_str) {
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
    let expected_key = ["PARTITION_KEY", "SORT_KEY"]
        .iter()
        .filter_map(|c| constants.get(*c).cloned())
        .collect::<Vec<_>>();
    if key_schema(table.get("KeySchema")) != expected_key {
        problems.push(format!("KeySchema differs from schema.rs {expected_key:?}"));
    }
    let indexes: Vec<(String, Vec<String>)> = table
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .map(|i| {
            (
                str_at(i, &["IndexName"]).unwrap_or_default().to_owned(),
                key_schema(i.get("KeySchema")),
            )
        })
        .collect();
    let recency = constants.get("RECENCY_KEY").cloned().unwrap_or_default();
    let expected: Vec<(String, Vec<String>)> = index_names
        .iter()
        .zip(&index_keys)
        .map(|(n, k)| (n.clone(), vec![k.clone(), recency.clone()]))
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

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

// ---------------------------------------------------------------- the source scan

/// Rust sources, test modules cut off (`#[cfg(test)]` to the end of the file: the repository
/// keeps unit tests last), comments removed.
struct SourceTree {
    files: Vec<(String, String)>,
}

impl SourceTree {
    fn read(dir: &Path) -> Self {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    files.push((path.display().to_string(), text));
                }
            }
        }
        files.sort();
        Self::from_owned(files)
    }

    fn from_files(files: &[(&str, &str)]) -> Self {
        Self::from_owned(files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect())
    }

    fn from_owned(files: Vec<(String, String)>) -> Self {
        let files = files
            .into_iter()
            .map(|(path, text)| {
                let text = match text.find("#[cfg(test)]") {
                    Some(at) => text[..at].to_owned(),
                    None => text,
                };
                let code: String = text
                    .lines()
                    .map(|line| match line.trim_start().starts_with("//") {
                        true => "",
                        false => line,
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                (path, code)
            })
            .collect();
        Self { files }
    }

    fn all(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(_, t)| t.as_str())
    }
}

/// The functions that read an environment variable by their first argument.
const READERS: &[&str] = &["required", "env::var", "env::var_os", "max_receives"];

/// The variables `code` reads (see the module docs), or why some read cannot be resolved.
fn scan_reads(code: &SourceTree, shared: &SourceTree) -> Result<BTreeSet<String>, Vec<String>> {
    let mut constants = BTreeMap::new();
    for text in shared.all().chain(code.all()) {
        constants.extend(self::constants(text));
    }
    let helpers = helper_reads(shared, &constants);
    let mut reads = BTreeSet::new();
    let mut problems = Vec::new();
    for (path, text) in &code.files {
        for (argument, line) in reader_arguments(text) {
            match resolve(&argument, &constants) {
                Some(variable) => {
                    reads.insert(variable);
                }
                None => problems.push(format!(
                    "{path}:{line}: cannot tell which variable `{argument}` names; use a string literal or a `const NAME: &str`"
                )),
            }
        }
        for name in called_functions(text) {
            if let Some(variables) = helpers.get(&name) {
                reads.extend(variables.iter().cloned());
            }
        }
    }
    if problems.is_empty() { Ok(reads) } else { Err(problems) }
}

/// `shared`'s functions that read fixed variables, directly or through each other (by name).
fn helper_reads(shared: &SourceTree, constants: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut bodies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for text in shared.all() {
        for (name, body) in function_bodies(text) {
            bodies.entry(name).or_default().push(body);
        }
    }
    let mut reads: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, versions) in &bodies {
        for body in versions {
            for (argument, _) in reader_arguments(body) {
                if let Some(variable) = resolve(&argument, constants) {
                    reads.entry(name.clone()).or_default().insert(variable);
                }
            }
        }
    }
    // Through other helpers, until nothing changes.
    loop {
        let mut changed = false;
        for (name, versions) in &bodies {
            for body in versions {
                for callee in called_functions(body) {
                    if &callee == name {
                        continue;
                    }
                    let inherited = reads.get(&callee).cloned().unwrap_or_default();
                    let own = reads.entry(name.clone()).or_default();
                    for variable in inherited {
                        changed |= own.insert(variable);
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    reads.retain(|_, v| !v.is_empty());
    reads
}

/// `const NAME: &str = "VALUE";` (also `pub`, `pub(crate)`, `&'static str`).
fn constants(text: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for line in text.lines() {
        let Some(at) = line.find("const ") else { continue };
        let rest = &line[at + "const ".len()..];
        let Some((name, rest)) = rest.split_once(':') else {
            continue;
        };
        let Some((kind, value)) = rest.split_once('=') else {
            continue;
        };
        if !kind.contains("str") {
            continue;
        }
        let value = value.trim().trim_end_matches(';').trim();
        if let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            found.insert(name.trim().to_owned(), value.to_owned());
        }
    }
    found
}

/// The raw first argument of every call to a [`READERS`] function, with its line number.
fn reader_arguments(text: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for reader in READERS {
        let needle = format!("{reader}(");
        for (at, _) in text.match_indices(&needle) {
            let before = text[..at].chars().next_back();
            // `env::var(` inside `std::env::var(` is fine; `xrequired(` or `.required(` is not ours,
            // nor is the definition `fn required(`.
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') || text[..at].ends_with("fn ") {
                continue;
            }
            let args = &text[at + needle.len()..];
            let end = args.find([',', ')']).unwrap_or(args.len());
            let argument = args[..end].trim().to_owned();
            let line = text[..at].lines().count().max(1);
            found.push((argument, line));
        }
    }
    found
}

/// A literal, a known constant (by its last path segment), or nothing. Parameters of the helpers
/// themselves (`required(name)`) resolve to nothing and are left to their callers.
fn resolve(argument: &str, constants: &BTreeMap<String, String>) -> Option<String> {
    if let Some(literal) = argument.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
        return Some(literal.to_owned());
    }
    let name = argument.trim_start_matches('&').rsplit("::").next()?;
    constants.get(name).cloned()
}

/// Names of free functions or paths called in `text` (`foo(`, `a::b::foo(`), not methods.
fn called_functions(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices('(') {
        let mut start = at;
        while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            start -= 1;
        }
        if start == at {
            continue;
        }
        let before = &text[..start];
        if before.ends_with('.') || before.ends_with("fn ") {
            continue;
        }
        names.insert(text[start..at].to_owned());
    }
    names
}

/// Every `fn name(…) … { body }` in `text`, by brace matching.
fn function_bodies(text: &str) -> Vec<(String, String)> {
    let mut bodies = Vec::new();
    for (at, _) in text.match_indices("fn ") {
        if at > 0 && text.as_bytes()[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &text[at + 3..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue;
        }
        let Some(open) = rest.find('{') else { continue };
        // A declaration without a body (`fn x();` in a trait) ends before its `{`.
        if rest[..open].contains(';') {
            continue;
        }
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(end) = end {
            bodies.push((name, rest[open..=end].to_owned()));
        }
    }
    bodies
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
      LoggingConfig: { LogFormat: JSON, LogGroup: !Ref WebhookLogGroup }
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
