//! A contact's group, labels and custom fields: their bounds (the staff API refuses anything
//! outside them, docs/staff-api.md), and what a bot's contact template gives a new contact.
//!
//! The bounds keep a contact item and its label entries small (a new contact's write cost is in
//! docs/cost.md) and the lists by group and label cheap to key: a group and a label are index
//! partition keys (docs/data-model.md).

use std::collections::BTreeMap;

use crate::model::{Contact, ContactTemplate};

pub const GROUP_MAX_CHARS: usize = 64;
pub const LABELS_MAX: usize = 10;
pub const LABEL_MAX_CHARS: usize = 32;
pub const FIELDS_MAX: usize = 20;
pub const FIELD_NAME_MAX_CHARS: usize = 32;
pub const FIELD_VALUE_MAX_CHARS: usize = 256;

/// Why a group, a label list or a field map is refused; each has its API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("group must be 1 to {GROUP_MAX_CHARS} characters without control characters")]
    InvalidGroup,
    #[error("each label must be 1 to {LABEL_MAX_CHARS} characters without control characters")]
    InvalidLabel,
    #[error("at most {LABELS_MAX} labels")]
    TooManyLabels,
    #[error("each field name must be 1 to {FIELD_NAME_MAX_CHARS} characters without control characters")]
    InvalidFieldName,
    #[error("each field value must be at most {FIELD_VALUE_MAX_CHARS} characters without control characters")]
    InvalidFieldValue,
    #[error("at most {FIELDS_MAX} fields")]
    TooManyFields,
}

impl TagError {
    /// The staff API's error code of this refusal (400).
    pub fn code(&self) -> &'static str {
        match self {
            TagError::InvalidGroup => "invalid_group",
            TagError::InvalidLabel => "invalid_label",
            TagError::TooManyLabels => "too_many_labels",
            TagError::InvalidFieldName => "invalid_field_name",
            TagError::InvalidFieldValue => "invalid_field_value",
            TagError::TooManyFields => "too_many_fields",
        }
    }
}

/// `raw` trimmed, if it is 1 to `max` characters without control characters.
fn bounded(raw: &str, min: usize, max: usize) -> Option<String> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    (min <= chars && chars <= max && !trimmed.chars().any(char::is_control)).then(|| trimmed.to_owned())
}

/// A group as stored: trimmed, 1 to [`GROUP_MAX_CHARS`] characters.
pub fn check_group(raw: &str) -> Result<String, TagError> {
    bounded(raw, 1, GROUP_MAX_CHARS).ok_or(TagError::InvalidGroup)
}

/// Labels as stored: each trimmed and 1 to [`LABEL_MAX_CHARS`] characters, repeats dropped (the
/// first kept, in the order given), at most [`LABELS_MAX`] of them.
pub fn check_labels(raw: &[String]) -> Result<Vec<String>, TagError> {
    let mut labels: Vec<String> = Vec::with_capacity(raw.len().min(LABELS_MAX));
    for label in raw {
        let label = bounded(label, 1, LABEL_MAX_CHARS).ok_or(TagError::InvalidLabel)?;
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    if labels.len() > LABELS_MAX {
        return Err(TagError::TooManyLabels);
    }
    Ok(labels)
}

/// Fields as stored: names trimmed and 1 to [`FIELD_NAME_MAX_CHARS`] characters, values trimmed
/// and at most [`FIELD_VALUE_MAX_CHARS`] (an empty value is kept: the field is known to be
/// empty), at most [`FIELDS_MAX`] fields. Two names equal once trimmed are one field.
pub fn check_fields(raw: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, TagError> {
    if raw.len() > FIELDS_MAX {
        return Err(TagError::TooManyFields);
    }
    raw.iter()
        .map(|(name, value)| {
            let name = bounded(name, 1, FIELD_NAME_MAX_CHARS).ok_or(TagError::InvalidFieldName)?;
            let value = bounded(value, 0, FIELD_VALUE_MAX_CHARS).ok_or(TagError::InvalidFieldValue)?;
            Ok((name, value))
        })
        .collect()
}

/// A contact template as stored: every part checked as a contact's would be.
pub fn check_template(template: &ContactTemplate) -> Result<ContactTemplate, TagError> {
    Ok(ContactTemplate {
        group: template.group.as_deref().map(check_group).transpose()?,
        labels: check_labels(&template.labels)?,
        fields: check_fields(&template.fields)?,
    })
}

/// A contact just created from a callback gets its bot's template: the group, the labels and the
/// fields' default values. Only for a new contact: callers never apply it to a stored one, so a
/// template change leaves existing contacts as they are.
pub fn apply_contact_template(contact: &mut Contact, template: &ContactTemplate) {
    contact.group = template.group.clone();
    contact.labels = template.labels.clone();
    contact.fields = template.fields.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IntegrationId;
    use crate::time::Timestamp;
    use crate::viber::callback::UserProfile;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_group_is_trimmed_and_bounded() {
        assert_eq!(check_group("  Retail clients ").unwrap(), "Retail clients");
        assert_eq!(check_group(&"я".repeat(GROUP_MAX_CHARS)).unwrap().chars().count(), 64);
        for bad in ["", "   ", &"x".repeat(GROUP_MAX_CHARS + 1), "a\nb"] {
            assert_eq!(check_group(bad), Err(TagError::InvalidGroup), "{bad:?}");
        }
    }

    #[test]
    fn labels_are_trimmed_deduplicated_and_counted() {
        assert_eq!(
            check_labels(&strings(&[" vip", "b2b", "vip "])).unwrap(),
            strings(&["vip", "b2b"])
        );
        let eleven: Vec<String> = (0..=LABELS_MAX).map(|n| format!("l{n}")).collect();
        assert_eq!(check_labels(&eleven), Err(TagError::TooManyLabels));
        let repeated: Vec<String> = (0..=LABELS_MAX).map(|_| "same".to_owned()).collect();
        assert_eq!(check_labels(&repeated).unwrap(), strings(&["same"]));
        for bad in ["", " ", &"x".repeat(LABEL_MAX_CHARS + 1), "tab\there"] {
            assert_eq!(check_labels(&strings(&[bad])), Err(TagError::InvalidLabel), "{bad:?}");
        }
    }

    #[test]
    fn fields_have_bounded_names_values_and_count() {
        assert_eq!(
            check_fields(&map(&[(" source ", " Viber bot Acme "), ("note", "")])).unwrap(),
            map(&[("source", "Viber bot Acme"), ("note", "")])
        );
        let name_too_long = "n".repeat(FIELD_NAME_MAX_CHARS + 1);
        assert_eq!(check_fields(&map(&[("", "x")])), Err(TagError::InvalidFieldName));
        assert_eq!(
            check_fields(&map(&[(&name_too_long, "x")])),
            Err(TagError::InvalidFieldName)
        );
        let value_too_long = "v".repeat(FIELD_VALUE_MAX_CHARS + 1);
        assert_eq!(
            check_fields(&map(&[("source", &value_too_long)])),
            Err(TagError::InvalidFieldValue)
        );
        let many: BTreeMap<String, String> = (0..=FIELDS_MAX).map(|n| (format!("f{n}"), String::new())).collect();
        assert_eq!(check_fields(&many), Err(TagError::TooManyFields));
    }

    #[test]
    fn each_refusal_has_its_own_code() {
        let errors = [
            TagError::InvalidGroup,
            TagError::InvalidLabel,
            TagError::TooManyLabels,
            TagError::InvalidFieldName,
            TagError::InvalidFieldValue,
            TagError::TooManyFields,
        ];
        let codes: std::collections::HashSet<_> = errors.iter().map(TagError::code).collect();
        assert_eq!(codes.len(), errors.len());
    }

    #[test]
    fn a_template_is_checked_part_by_part() {
        let template = ContactTemplate {
            group: Some(" Wholesale ".into()),
            labels: strings(&["b2b", "b2b"]),
            fields: map(&[("source", "Acme")]),
        };
        let checked = check_template(&template).unwrap();
        assert_eq!(checked.group.as_deref(), Some("Wholesale"));
        assert_eq!(checked.labels, strings(&["b2b"]));
        assert_eq!(
            check_template(&ContactTemplate::default()).unwrap(),
            ContactTemplate::default()
        );
        let bad = ContactTemplate {
            group: Some(String::new()),
            ..ContactTemplate::default()
        };
        assert_eq!(check_template(&bad), Err(TagError::InvalidGroup));
    }

    #[test]
    fn a_new_contact_gets_the_template_and_the_default_template_gives_nothing() {
        let integration = IntegrationId::parse("acme").unwrap();
        let profile = UserProfile {
            id: "u1".into(),
            name: Some("Olena".into()),
            avatar: None,
            language: None,
            country: None,
            api_version: None,
        };
        let mut contact = crate::rules::merge_profile(None, &integration, &profile, None, Timestamp::from_millis(1));
        let bare = contact.clone();
        apply_contact_template(&mut contact, &ContactTemplate::default());
        assert_eq!(contact, bare);
        let template = ContactTemplate {
            group: Some("Retail clients".into()),
            labels: strings(&["viber"]),
            fields: map(&[("source", "Viber bot Acme")]),
        };
        apply_contact_template(&mut contact, &template);
        assert_eq!(contact.group.as_deref(), Some("Retail clients"));
        assert_eq!(contact.labels, strings(&["viber"]));
        assert_eq!(contact.fields, map(&[("source", "Viber bot Acme")]));
    }
}
