//! The queues as `infra/template.yaml` declares them, read at run time so that a fault run
//! measures the timeouts that are deployed: each queue's attributes (visibility timeout,
//! retention, FIFO settings) and its redrive policy (`maxReceiveCount` to a dead-letter queue of
//! the same type), created on moto the way CloudFormation would create them.

use std::path::Path;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;

use crate::Error;

/// The template's queue resources every version of the stack is given.
pub const INBOUND: &str = "InboundQueue";
pub const OUTBOUND: &str = "OutboundQueue";

/// One queue's settings from the template.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    pub resource: String,
    /// SQS attributes by name (`VisibilityTimeout`, `FifoQueue`, …) as strings.
    pub attributes: Vec<(String, String)>,
    /// `maxReceiveCount` and the dead-letter queue's settings, if it has a redrive policy.
    pub redrive: Option<(u32, Box<QueueSpec>)>,
}

impl QueueSpec {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Lowers the visibility timeout to at most `seconds`.
    pub fn cap_visibility(&mut self, seconds: u64) {
        let declared = self.attribute("VisibilityTimeout").and_then(|v| v.parse::<u64>().ok());
        let capped = declared.map_or(seconds, |declared| declared.min(seconds)).to_string();
        self.attributes.retain(|(key, _)| key != "VisibilityTimeout");
        self.attributes.push(("VisibilityTimeout".to_owned(), capped));
    }

    /// "visibility 540 s, maxReceiveCount 5" for the run's header.
    pub fn summary(&self) -> String {
        let visibility = self.attribute("VisibilityTimeout").unwrap_or("30 (SQS default)");
        match &self.redrive {
            Some((receives, _)) => format!("visibility {visibility} s, maxReceiveCount {receives} to a DLQ"),
            None => format!("visibility {visibility} s, no DLQ"),
        }
    }
}

/// The SQS attributes a template property maps to; properties that are not queue attributes
/// (encryption at rest, which moto ignores) are left out.
const ATTRIBUTES: &[(&str, QueueAttributeName)] = &[
    ("FifoQueue", QueueAttributeName::FifoQueue),
    (
        "ContentBasedDeduplication",
        QueueAttributeName::ContentBasedDeduplication,
    ),
    ("DeduplicationScope", QueueAttributeName::DeduplicationScope),
    ("FifoThroughputLimit", QueueAttributeName::FifoThroughputLimit),
    ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
    ("MessageRetentionPeriod", QueueAttributeName::MessageRetentionPeriod),
    ("DelaySeconds", QueueAttributeName::DelaySeconds),
    (
        "ReceiveMessageWaitTimeSeconds",
        QueueAttributeName::ReceiveMessageWaitTimeSeconds,
    ),
];

/// Every queue of the template at `path` that is not another's dead-letter queue (those come
/// with their queue), by resource name: the queues a function consumes.
pub fn queues(path: &Path) -> Result<Vec<QueueSpec>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let template: Value = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let resources = template["Resources"]
        .as_mapping()
        .ok_or_else(|| format!("{}: no Resources", path.display()))?;
    let queues: Vec<QueueSpec> = resources
        .iter()
        .filter(|(_, node)| node["Type"].as_str() == Some("AWS::SQS::Queue"))
        .filter_map(|(name, _)| name.as_str())
        .map(|name| queue_in(&template, name))
        .collect::<Result<_, _>>()?;
    let dead_letters: Vec<String> = queues
        .iter()
        .filter_map(|queue| Some(queue.redrive.as_ref()?.1.resource.clone()))
        .collect();
    let consumed: Vec<QueueSpec> = queues
        .into_iter()
        .filter(|queue| !dead_letters.contains(&queue.resource))
        .collect();
    for required in [INBOUND, OUTBOUND] {
        if !consumed.iter().any(|queue| queue.resource == required) {
            return Err(format!("{}: no queue {required}", path.display()).into());
        }
    }
    Ok(consumed)
}

/// The variable that gives a function the queue's URL, as the template names it:
/// `InboundQueue` → `INBOUND_QUEUE_URL`, `MediaQueue` → `MEDIA_QUEUE_URL`.
pub fn url_variable(resource: &str) -> String {
    let mut name = String::new();
    for (i, c) in resource.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    format!("{name}_URL")
}

fn queue_in(template: &Value, resource: &str) -> Result<QueueSpec, Error> {
    let node = &template["Resources"][resource];
    if node["Type"].as_str() != Some("AWS::SQS::Queue") {
        return Err(format!("the template has no queue {resource}").into());
    }
    let properties = &node["Properties"];
    let mut attributes = Vec::new();
    for (name, _) in ATTRIBUTES {
        if let Some(value) = scalar(&properties[*name]) {
            attributes.push(((*name).to_owned(), value));
        }
    }
    let redrive = match properties.get("RedrivePolicy") {
        None => None,
        Some(policy) => {
            let receives = scalar(&policy["maxReceiveCount"])
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("{resource}: RedrivePolicy without a maxReceiveCount"))?;
            let target = dead_letter_resource(&policy["deadLetterTargetArn"])
                .ok_or_else(|| format!("{resource}: deadLetterTargetArn is not a !GetAtt X.Arn"))?;
            Some((receives, Box::new(queue_in(template, &target)?)))
        }
    };
    Ok(QueueSpec {
        resource: resource.to_owned(),
        attributes,
        redrive,
    })
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// `!GetAtt InboundDeadLetterQueue.Arn` (or the long form) → `InboundDeadLetterQueue`.
fn dead_letter_resource(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => match &tagged.value {
            Value::String(target) => target.strip_suffix(".Arn").map(str::to_owned),
            Value::Sequence(parts) => parts.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        },
        Value::Mapping(_) => value["Fn::GetAtt"]
            .as_sequence()
            .and_then(|parts| parts.first())
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// Creates the queue (and first its dead-letter queue) on the endpoint of `config`, under a
/// unique name: its URL.
pub async fn create(config: &SdkConfig, spec: &QueueSpec) -> Result<String, Error> {
    let client = aws_sdk_sqs::Client::new(config);
    let mut request = client.create_queue().queue_name(queue_name(spec));
    for (name, attribute) in ATTRIBUTES {
        if let Some(value) = spec.attribute(name) {
            request = request.attributes(attribute.clone(), value);
        }
    }
    if let Some((receives, dead_letters)) = &spec.redrive {
        let dlq_url = Box::pin(create(config, dead_letters)).await?;
        let arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
            .ok_or("moto answered no QueueArn")?;
        let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": receives});
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let created = request.send().await?;
    Ok(created.queue_url.ok_or("moto answered no queue URL")?)
}

fn queue_name(spec: &QueueSpec) -> String {
    let name = testkit::moto::unique(&spec.resource);
    if spec.attribute("FifoQueue") == Some("true") {
        format!("{name}.fifo")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_queues_are_read_with_their_dead_letter_queues() {
        let template = crate::workspace_root().join("infra/template.yaml");
        let queues = queues(&template).unwrap();
        for resource in [INBOUND, OUTBOUND] {
            let spec = queues.iter().find(|q| q.resource == resource).unwrap();
            assert_eq!(spec.attribute("FifoQueue"), Some("true"), "{resource}");
            assert!(spec.attribute("VisibilityTimeout").is_some(), "{resource}");
            let (receives, dlq) = spec.redrive.as_ref().expect("a redrive policy");
            assert!(*receives >= 1);
            assert_eq!(dlq.attribute("FifoQueue"), Some("true"), "a FIFO queue's DLQ is FIFO");
            assert!(dlq.redrive.is_none());
            assert!(
                !queues.iter().any(|q| q.resource == dlq.resource),
                "a DLQ comes with its queue"
            );
        }
    }

    #[test]
    fn a_queue_is_given_by_the_variable_of_its_name() {
        assert_eq!(url_variable(INBOUND), "INBOUND_QUEUE_URL");
        assert_eq!(url_variable("MediaQueue"), "MEDIA_QUEUE_URL");
        assert_eq!(url_variable("AvatarCopyQueue"), "AVATAR_COPY_QUEUE_URL");
    }
}
