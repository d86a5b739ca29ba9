//! The helpdesk's rules (docs/rules.md) as pure functions: no I/O, tested directly.

use sha2::{Digest, Sha256};

use crate::ids::{ContactId, IntegrationId, StaffId, TaskId};
use crate::model::{Comment, CommentStatus, Contact, CurrentTask, LastMessage, MessageDetails, TaskState};
use crate::time::Timestamp;
use crate::viber::callback::{Message, UserProfile};

mod contact_tags;
mod quick_replies;

pub use contact_tags::{
    FIELD_NAME_MAX_CHARS, FIELD_VALUE_MAX_CHARS, FIELDS_MAX, GROUP_MAX_CHARS, LABEL_MAX_CHARS, LABELS_MAX, TagError,
    apply_contact_template, check_fields, check_group, check_labels, check_template,
};

pub use quick_replies::render_quick_reply;

/// A contact's id, derived from the integration and the Viber user id (unique per bot), so the
/// same user always maps to the same contact without an index lookup.
pub fn contact_id(integration_id: &IntegrationId, viber_user_id: &str) -> ContactId {
    let mut hash = Sha256::new();
    hash.update(integration_id.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(viber_user_id.as_bytes());
    ContactId::parse(&hex::encode(&hash.finalize()[..16])).expect("hex is a valid id")
}

/// The id of the task a client message opens, if it opens one: derived from the message (Viber's
/// time, then a hash of the integration and the message token, in the shape of generated ids),
/// so every delivery of the message names the same task and one cut short is finished, never
/// opened twice (docs/data-model.md, "A client message").
pub fn inbound_task_id(integration_id: &IntegrationId, message_token: u64, sent_at: Timestamp) -> TaskId {
    let mut hash = Sha256::new();
    hash.update(integration_id.as_str().as_bytes());
    hash.update(b"\ntask\n");
    hash.update(message_token.to_string().as_bytes());
    let millis = sent_at.millis().max(0) as u64 & 0xffff_ffff_ffff;
    TaskId::parse(&format!("{millis:012x}{}", hex::encode(&hash.finalize()[..6]))).expect("hex is a valid id")
}

/// The contact after a callback carrying the user's profile: profile fields Viber sent replace
/// the stored ones (a missing field keeps what was known); a shared contact card adds the phone.
pub fn merge_profile(
    existing: Option<&Contact>,
    integration_id: &IntegrationId,
    profile: &UserProfile,
    phone: Option<&str>,
    now: Timestamp,
) -> Contact {
    let mut contact = existing.cloned().unwrap_or_else(|| Contact {
        id: contact_id(integration_id, &profile.id),
        integration_id: integration_id.clone(),
        viber_user_id: profile.id.clone(),
        name: None,
        avatar_url: None,
        language: None,
        country: None,
        api_version: None,
        phone: None,
        subscribed: false,
        subscription_changed_at: None,
        created_at: now,
        updated_at: now,
        current_task: None,
        version: 0,
        avatar: None,
        group: None,
        labels: Vec::new(),
        fields: Default::default(),
    });
    let keep = |new: &Option<String>, old: Option<String>| new.clone().or(old);
    contact.name = keep(&profile.name, contact.name.take());
    contact.avatar_url = keep(&profile.avatar, contact.avatar_url.take());
    contact.language = keep(&profile.language, contact.language.take());
    contact.country = keep(&profile.country, contact.country.take());
    contact.api_version = profile.api_version.or(contact.api_version);
    if let Some(phone) = phone.filter(|p| !p.trim().is_empty()) {
        contact.phone = Some(phone.trim().to_owned());
    }
    contact.updated_at = now;
    contact
}

/// Records a subscription signal sent at `event_time`, unless a later one was already recorded
/// (Viber's callbacks can arrive out of order).
pub fn apply_subscription(contact: &mut Contact, subscribed: bool, event_time: Timestamp) -> bool {
    if contact.subscription_changed_at.is_some_and(|at| at > event_time) {
        return false;
    }
    contact.subscribed = subscribed;
    contact.subscription_changed_at = Some(event_time);
    true
}

/// A client's message subscribes them (Viber subscribes a user by their first message): recorded
/// only when it changes the subscription, so the messages of a subscribed client leave their
/// contact unwritten (docs/cost.md). (An unsubscription Viber sent before such a message but
/// delivered after it then wins; Viber delivers a user's callbacks in order but for retries.)
pub fn message_subscribes(contact: &mut Contact, sent_at: Timestamp) -> bool {
    !contact.subscribed && apply_subscription(contact, true, sent_at)
}

/// Where a client's message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Into the current task (`require_active`: only while it is still active).
    Append { task_id: TaskId, require_active: bool },
    /// Into a new task, linking the previous one if there was one.
    Create { previous: Option<TaskId> },
    /// Into the task this very message opened: an earlier delivery wrote the contact pointing at
    /// it and was cut short before the task or its comment; they are written now, the task with
    /// its `previous`.
    Finish { previous: Option<TaskId> },
}

/// Where a client message goes, `own_task` being the task id derived from it
/// ([`inbound_task_id`]) and `missing` a task found not to exist: the contact's current task is
/// finished when this message opened it; one that does not exist (a message that opened it
/// never completed and was given up on) counts as deleted, a new task taking its predecessor;
/// otherwise [`route_message`].
pub fn route_inbound(
    current: Option<&CurrentTask>,
    own_task: &TaskId,
    missing: Option<&TaskId>,
    new_task_if_no_active: bool,
) -> Route {
    match current {
        Some(current) if &current.id == own_task => Route::Finish {
            previous: current.previous.clone(),
        },
        Some(current) if missing == Some(&current.id) => Route::Create {
            previous: current.previous.clone(),
        },
        _ => route_message(current, new_task_if_no_active),
    }
}

/// The first message opens a task; later ones join it. When the last task was deleted a new one
/// is opened anyway; when it is completed or cancelled, the "new task if no active task" option
/// decides.
pub fn route_message(current: Option<&CurrentTask>, new_task_if_no_active: bool) -> Route {
    match current {
        None => Route::Create { previous: None },
        Some(CurrentTask {
            id,
            state: TaskState::Active,
            ..
        }) => Route::Append {
            task_id: id.clone(),
            require_active: new_task_if_no_active,
        },
        Some(CurrentTask {
            id,
            state: TaskState::Inactive,
            ..
        }) if !new_task_if_no_active => Route::Append {
            task_id: id.clone(),
            require_active: false,
        },
        Some(CurrentTask { id, .. }) => Route::Create {
            previous: Some(id.clone()),
        },
    }
}

/// How far Viber's clock may be ahead of ours: a message's time is Viber's, a task's creation
/// ours.
pub const CLOCK_SKEW_MARGIN_MILLIS: i64 = 10_000;

/// Whether a message sent at `sent_at` may have been applied before the task created at
/// `task_created_at` became its contact's current one, i.e. into an earlier task: a message is
/// applied after it was sent, and a contact's task changes only when a newer one is created, so
/// only a task created after the message (give or take clock skew) can hide an earlier delivery
/// of it in its predecessors. `None` (creation unknown) may.
pub fn may_predate(task_created_at: Option<Timestamp>, sent_at: Timestamp) -> bool {
    task_created_at.is_none_or(|created| created.millis() + CLOCK_SKEW_MARGIN_MILLIS > sent_at.millis())
}

/// Whether a message leaves its contact as stored: the same profile, subscription, avatar copy
/// and current task (the update time and version aside), so the contact need not be written.
pub fn contact_unchanged(stored: &Contact, updated: &Contact) -> bool {
    let comparable = |contact: &Contact| Contact {
        updated_at: stored.updated_at,
        version: stored.version,
        ..contact.clone()
    };
    comparable(updated) == *stored
}

/// Template assignee, else the account owner, else whoever connected the integration.
pub fn choose_assignee(
    template_assignee: Option<&StaffId>,
    account_owner: Option<&StaffId>,
    connected_by: Option<&StaffId>,
) -> Option<StaffId> {
    template_assignee.or(account_owner).or(connected_by).cloned()
}

/// Fills a title pattern: `{name}`, `{phone}`, `{viber_user_id}`, `{bot}`. A contact without a
/// name is "Viber user".
pub fn render_title(pattern: &str, contact: &Contact, bot_name: &str) -> String {
    let name = contact
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("Viber user");
    let title = pattern
        .replace("{name}", name)
        .replace("{phone}", contact.phone.as_deref().unwrap_or(""))
        .replace("{viber_user_id}", &contact.viber_user_id)
        .replace("{bot}", bot_name);
    let title = title.trim();
    if title.is_empty() {
        format!("Viber: {name}")
    } else {
        title.to_owned()
    }
}

/// A new task's description: where it came from, and the task it follows.
pub fn task_description(contact: &Contact, previous: Option<&TaskId>) -> String {
    let who = contact.name.as_deref().unwrap_or("a Viber user");
    let mut description = format!("Conversation with {who} in Viber.");
    if let Some(previous) = previous {
        description.push_str(&format!(" Continues task {previous} (/api/tasks/{previous})."));
    }
    description
}

/// The text a client's message shows as in the task. Media keep their caption; the file itself
/// becomes an attachment.
pub fn comment_text(message: &Message) -> Option<String> {
    let text = match message {
        Message::Text(m) => Some(m.text.clone()),
        Message::Picture(m) | Message::Video(m) | Message::File(m) => m.text.clone().filter(|t| !t.is_empty()),
        Message::Sticker(m) => Some(format!("[sticker {}]", m.sticker_id)),
        Message::Contact(m) => {
            let name = m.contact.name.as_deref().unwrap_or("");
            let phone = m.contact.phone_number.as_deref().unwrap_or("");
            Some(format!("Shared contact: {name} {phone}").trim().to_owned())
        }
        Message::Location(m) => Some(format!(
            "Location: {}, {} https://maps.google.com/?q={},{}",
            m.location.lat, m.location.lon, m.location.lat, m.location.lon
        )),
        Message::Url(m) => Some(m.media.clone()),
        Message::RichMedia(m) => Some(m.alt_text.clone().unwrap_or_else(|| "[rich media]".to_owned())),
        Message::Unknown(m) => Some(format!("[unsupported Viber message type: {}]", m.kind)),
    };
    text.filter(|t| !t.is_empty())
}

/// How long a task list's preview of the client's last message is, at most (characters).
pub const PREVIEW_MAX_CHARS: usize = 200;

/// The client's message as task lists show it: its type, and its text (`comment_text`) cut to
/// [`PREVIEW_MAX_CHARS`] characters, ending in `…` when cut.
pub fn last_message(message: &Message) -> LastMessage {
    let preview = comment_text(message).map(|text| {
        let text = text.trim();
        if text.chars().count() <= PREVIEW_MAX_CHARS {
            return text.to_owned();
        }
        let head: String = text.chars().take(PREVIEW_MAX_CHARS - 1).collect();
        format!("{}…", head.trim_end())
    });
    LastMessage {
        kind: message.kind().to_owned(),
        preview: preview.filter(|p| !p.is_empty()),
    }
}

/// What a location, a shared contact card or a sticker carries beyond the comment's text, for
/// the inbox to show it as such (a map link, a phone, the sticker).
pub fn message_details(message: &Message) -> Option<MessageDetails> {
    match message {
        Message::Location(m) => Some(MessageDetails::Location {
            lat: m.location.lat,
            lon: m.location.lon,
        }),
        Message::Contact(m) => Some(MessageDetails::SharedContact {
            name: m.contact.name.clone().filter(|n| !n.trim().is_empty()),
            phone: m.contact.phone_number.clone().filter(|p| !p.trim().is_empty()),
        }),
        Message::Sticker(m) => Some(MessageDetails::Sticker {
            sticker_id: m.sticker_id.to_string(),
        }),
        _ => None,
    }
}

/// Whether a task is unread for a staff member: its last client message came after how far
/// they read it (never opened: unread).
pub fn is_unread(last_message_at: Timestamp, read_up_to: Option<Timestamp>) -> bool {
    read_up_to.is_none_or(|read| last_message_at > read)
}

/// A comment's status as staff see it. For a reply: the least advanced of ALL the Viber messages it
/// is sent as, a part Viber has not accepted yet counting as `queued`, and `failed` as soon as any
/// part (or the reply itself) failed. So a reply is `queued` until every part is accepted, `sent`
/// when all are, `delivered` / `seen` when all are. Parts only move forward and their count is
/// fixed when the reply is posted, so this never moves backwards either.
///
/// A reply stored before its part count was kept (`part_count` 0) shows the least advanced of
/// the parts recorded so far, and its stored status while none is.
pub fn effective_status(comment: &Comment) -> CommentStatus {
    if comment.parts.values().any(|s| *s == CommentStatus::Failed) || comment.status == CommentStatus::Failed {
        return CommentStatus::Failed;
    }
    let part_count = comment.outbound.as_ref().map_or(0, |plan| plan.part_count);
    if part_count > comment.parts.len() {
        return CommentStatus::Queued;
    }
    comment
        .parts
        .values()
        .copied()
        .min()
        .map_or(comment.status, |least| least.max(comment.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Author, AuthorKind};

    fn integration() -> IntegrationId {
        IntegrationId::parse("acme").unwrap()
    }

    fn profile(name: Option<&str>) -> UserProfile {
        UserProfile {
            id: "9Kf2mQ1xT7bVnC3pLs8aZw==".into(),
            name: name.map(str::to_owned),
            avatar: Some("https://a/1.jpg".into()),
            country: Some("UA".into()),
            language: Some("uk-UA".into()),
            api_version: Some(10),
        }
    }

    fn task(id: &str) -> TaskId {
        TaskId::parse(id).unwrap()
    }

    #[test]
    fn contact_id_is_stable_per_integration_and_user() {
        let a = contact_id(&integration(), "u1");
        assert_eq!(a, contact_id(&integration(), "u1"));
        assert_ne!(a, contact_id(&integration(), "u2"));
        assert_ne!(a, contact_id(&IntegrationId::parse("other").unwrap(), "u1"));
    }

    #[test]
    fn profile_updates_keep_known_fields_and_phone_only_from_a_card() {
        let now = Timestamp::from_millis(1000);
        let first = merge_profile(None, &integration(), &profile(Some("Олена")), None, now);
        assert_eq!(first.name.as_deref(), Some("Олена"));
        assert_eq!(first.phone, None);
        assert_eq!(first.created_at, now);
        let later = Timestamp::from_millis(2000);
        let with_card = merge_profile(
            Some(&first),
            &integration(),
            &profile(None),
            Some("+380671234567"),
            later,
        );
        assert_eq!(
            with_card.name.as_deref(),
            Some("Олена"),
            "a missing name keeps the known one"
        );
        assert_eq!(with_card.phone.as_deref(), Some("+380671234567"));
        assert_eq!(with_card.created_at, now);
        assert_eq!(with_card.updated_at, later);
    }

    #[test]
    fn only_a_task_created_after_the_message_can_hide_an_earlier_delivery() {
        let sent = Timestamp::from_millis(1_000_000);
        let before = Timestamp::from_millis(1_000_000 - CLOCK_SKEW_MARGIN_MILLIS);
        assert!(!may_predate(Some(before), sent));
        assert!(may_predate(Some(Timestamp::from_millis(1_000_000 - 1_000)), sent));
        assert!(may_predate(Some(Timestamp::from_millis(2_000_000)), sent));
        assert!(may_predate(None, sent), "an unknown creation may");
    }

    #[test]
    fn a_contact_is_unchanged_when_only_its_update_time_and_version_moved() {
        let now = Timestamp::from_millis(0);
        let stored = merge_profile(None, &integration(), &profile(Some("Олена")), None, now);
        let mut again = merge_profile(
            Some(&stored),
            &integration(),
            &profile(Some("Олена")),
            None,
            Timestamp::from_millis(9),
        );
        again.version = stored.version + 1;
        assert!(contact_unchanged(&stored, &again));
        let renamed = merge_profile(Some(&stored), &integration(), &profile(Some("Оля")), None, now);
        assert!(!contact_unchanged(&stored, &renamed));
        let mut subscribed = again.clone();
        apply_subscription(&mut subscribed, true, Timestamp::from_millis(5));
        assert!(!contact_unchanged(&stored, &subscribed));
    }

    #[test]
    fn a_message_subscribes_an_unsubscribed_client_only() {
        let mut contact = merge_profile(None, &integration(), &profile(None), None, Timestamp::from_millis(0));
        assert!(message_subscribes(&mut contact, Timestamp::from_millis(10)));
        assert!(contact.subscribed);
        let subscribed = contact.clone();
        assert!(!message_subscribes(&mut contact, Timestamp::from_millis(20)));
        assert_eq!(contact, subscribed, "a subscribed client's message changes nothing");
        assert!(apply_subscription(&mut contact, false, Timestamp::from_millis(30)));
        assert!(
            !message_subscribes(&mut contact, Timestamp::from_millis(25)),
            "older than the unsubscription"
        );
        assert!(message_subscribes(&mut contact, Timestamp::from_millis(40)));
    }

    #[test]
    fn later_subscription_signals_win_and_older_ones_are_ignored() {
        let mut contact = merge_profile(None, &integration(), &profile(None), None, Timestamp::from_millis(0));
        assert!(apply_subscription(&mut contact, false, Timestamp::from_millis(20)));
        assert!(!apply_subscription(&mut contact, true, Timestamp::from_millis(10)));
        assert!(!contact.subscribed);
        assert!(apply_subscription(&mut contact, true, Timestamp::from_millis(30)));
        assert!(contact.subscribed);
    }

    #[test]
    fn first_message_creates_a_task() {
        assert_eq!(route_message(None, true), Route::Create { previous: None });
        assert_eq!(route_message(None, false), Route::Create { previous: None });
    }

    #[test]
    fn a_messages_task_id_is_derived_from_it_and_sorts_by_its_time() {
        let integration = IntegrationId::parse("i1").unwrap();
        let at = Timestamp::from_millis(1_732_528_955_210);
        let id = inbound_task_id(&integration, 42, at);
        assert_eq!(id, inbound_task_id(&integration, 42, at));
        assert_eq!(id.as_str().len(), 24);
        assert!(id.as_str().starts_with("019362c5df4a"));
        assert_ne!(id, inbound_task_id(&integration, 43, at));
        assert_ne!(id, inbound_task_id(&IntegrationId::parse("i2").unwrap(), 42, at));
        assert!(inbound_task_id(&integration, 1, Timestamp::from_millis(1_732_528_955_211)) > id);
    }

    #[test]
    fn a_message_finishes_the_task_it_opened_and_a_missing_task_counts_as_deleted() {
        let opened = CurrentTask {
            id: task("t2"),
            state: TaskState::Active,
            since: None,
            previous: Some(task("t1")),
        };
        assert_eq!(
            route_inbound(Some(&opened), &task("t2"), None, true),
            Route::Finish {
                previous: Some(task("t1"))
            }
        );
        assert_eq!(
            route_inbound(Some(&opened), &task("t3"), Some(&task("t2")), false),
            Route::Create {
                previous: Some(task("t1"))
            }
        );
        assert_eq!(
            route_inbound(Some(&opened), &task("t3"), Some(&task("t9")), true),
            Route::Append {
                task_id: task("t2"),
                require_active: true
            }
        );
        assert_eq!(
            route_inbound(None, &task("t3"), None, true),
            Route::Create { previous: None }
        );
    }

    #[test]
    fn later_messages_join_the_active_task() {
        let current = CurrentTask {
            id: task("t1"),
            state: TaskState::Active,
            since: None,
            previous: None,
        };
        assert_eq!(
            route_message(Some(&current), true),
            Route::Append {
                task_id: task("t1"),
                require_active: true
            }
        );
    }

    #[test]
    fn an_inactive_task_follows_the_new_task_option() {
        let current = CurrentTask {
            id: task("t1"),
            state: TaskState::Inactive,
            since: None,
            previous: None,
        };
        assert_eq!(
            route_message(Some(&current), true),
            Route::Create {
                previous: Some(task("t1"))
            }
        );
        assert_eq!(
            route_message(Some(&current), false),
            Route::Append {
                task_id: task("t1"),
                require_active: false
            }
        );
    }

    #[test]
    fn a_deleted_task_always_gets_a_new_one() {
        let current = CurrentTask {
            id: task("t1"),
            state: TaskState::Deleted,
            since: None,
            previous: None,
        };
        assert_eq!(
            route_message(Some(&current), true),
            Route::Create {
                previous: Some(task("t1"))
            }
        );
        assert_eq!(
            route_message(Some(&current), false),
            Route::Create {
                previous: Some(task("t1"))
            }
        );
    }

    #[test]
    fn assignee_falls_back_from_template_to_owner_to_connector() {
        let (t, o, c) = (
            StaffId::parse("t").unwrap(),
            StaffId::parse("o").unwrap(),
            StaffId::parse("c").unwrap(),
        );
        assert_eq!(choose_assignee(Some(&t), Some(&o), Some(&c)), Some(t));
        assert_eq!(choose_assignee(None, Some(&o), Some(&c)), Some(o));
        assert_eq!(choose_assignee(None, None, Some(&c)), Some(c.clone()));
        assert_eq!(choose_assignee(None, None, None), None);
    }

    #[test]
    fn title_pattern_is_filled_from_the_contact() {
        let mut contact = merge_profile(
            None,
            &integration(),
            &profile(Some("Олена")),
            None,
            Timestamp::from_millis(0),
        );
        assert_eq!(render_title("Viber: {name}", &contact, "Acme"), "Viber: Олена");
        contact.phone = Some("+380671234567".into());
        assert_eq!(
            render_title("{bot} / {name} {phone}", &contact, "Acme"),
            "Acme / Олена +380671234567"
        );
        contact.name = None;
        assert_eq!(render_title("Viber: {name}", &contact, "Acme"), "Viber: Viber user");
        assert_eq!(render_title("  ", &contact, "Acme"), "Viber: Viber user");
    }

    #[test]
    fn a_follow_up_task_links_the_previous_one() {
        let contact = merge_profile(
            None,
            &integration(),
            &profile(Some("Олена")),
            None,
            Timestamp::from_millis(0),
        );
        assert!(task_description(&contact, Some(&task("t1"))).contains("t1"));
        assert!(!task_description(&contact, None).contains("Continues"));
    }

    #[test]
    fn a_last_message_keeps_its_type_and_a_short_preview() {
        let parse = |message: &str| -> Message { serde_json::from_str(message).unwrap() };
        let text = last_message(&parse(r#"{"type":"text","text":"  Де моє замовлення?  "}"#));
        assert_eq!(text.kind, "text");
        assert_eq!(text.preview.as_deref(), Some("Де моє замовлення?"));
        let picture = last_message(&parse(r#"{"type":"picture","media":"m","text":""}"#));
        assert_eq!((picture.kind.as_str(), picture.preview), ("picture", None));
        let long = "я".repeat(PREVIEW_MAX_CHARS + 5);
        let cut = last_message(&parse(&format!(r#"{{"type":"text","text":"{long}"}}"#)));
        let preview = cut.preview.unwrap();
        assert_eq!(preview.chars().count(), PREVIEW_MAX_CHARS);
        assert!(preview.ends_with('…'));
        let exact = "a".repeat(PREVIEW_MAX_CHARS);
        let kept = last_message(&parse(&format!(r#"{{"type":"text","text":"{exact}"}}"#)));
        assert_eq!(kept.preview.as_deref(), Some(exact.as_str()));
    }

    #[test]
    fn locations_contacts_and_stickers_keep_their_details() {
        let parse = |message: &str| -> Message { serde_json::from_str(message).unwrap() };
        assert_eq!(
            message_details(&parse(r#"{"type":"location","location":{"lat":50.45,"lon":30.52}}"#)),
            Some(MessageDetails::Location { lat: 50.45, lon: 30.52 })
        );
        assert_eq!(
            message_details(&parse(
                r#"{"type":"contact","contact":{"name":"Олена","phone_number":"+380501234567"}}"#
            )),
            Some(MessageDetails::SharedContact {
                name: Some("Олена".into()),
                phone: Some("+380501234567".into())
            })
        );
        assert_eq!(
            message_details(&parse(r#"{"type":"sticker","sticker_id":46105}"#)),
            Some(MessageDetails::Sticker {
                sticker_id: "46105".into()
            })
        );
        assert_eq!(message_details(&parse(r#"{"type":"text","text":"hi"}"#)), None);
    }

    #[test]
    fn a_task_is_unread_until_read_past_its_last_client_message() {
        let at = Timestamp::from_millis(5_000);
        assert!(is_unread(at, None));
        assert!(is_unread(at, Some(Timestamp::from_millis(4_999))));
        assert!(!is_unread(at, Some(at)));
        assert!(!is_unread(at, Some(Timestamp::from_millis(6_000))));
    }

    #[test]
    fn comment_text_for_each_message_type() {
        let parse = |message: &str| -> Message { serde_json::from_str(message).unwrap() };
        assert_eq!(
            comment_text(&parse(r#"{"type":"text","text":"hi"}"#)).as_deref(),
            Some("hi")
        );
        assert_eq!(
            comment_text(&parse(r#"{"type":"picture","media":"m","text":""}"#)),
            None
        );
        assert_eq!(
            comment_text(&parse(r#"{"type":"picture","media":"m","text":"box"}"#)).as_deref(),
            Some("box")
        );
        assert_eq!(
            comment_text(&parse(
                r#"{"type":"contact","contact":{"name":"O","phone_number":"+1"}}"#
            ))
            .as_deref(),
            Some("Shared contact: O +1")
        );
        assert!(
            comment_text(&parse(r#"{"type":"location","location":{"lat":1.5,"lon":2.5}}"#))
                .unwrap()
                .contains("1.5, 2.5")
        );
        assert_eq!(
            comment_text(&parse(r#"{"type":"url","media":"https://x"}"#)).as_deref(),
            Some("https://x")
        );
        assert_eq!(
            comment_text(&parse(r#"{"type":"sticker","sticker_id":5}"#)).as_deref(),
            Some("[sticker 5]")
        );
        assert!(
            comment_text(&parse(r#"{"type":"hologram"}"#))
                .unwrap()
                .contains("hologram")
        );
    }

    #[test]
    fn a_reply_shows_its_least_advanced_part_and_failed_wins() {
        let mut comment = Comment {
            id: crate::ids::CommentId::parse("c").unwrap(),
            task_id: task("t"),
            author: Author {
                kind: AuthorKind::Staff,
                id: "s".into(),
            },
            text: Some("hi".into()),
            attachment_ids: vec![],
            notify_client: true,
            status: CommentStatus::Queued,
            status_reason: None,
            created_at: Timestamp::from_millis(0),
            viber_message_type: None,
            viber_message_token: None,
            parts: Default::default(),
            outbound: None,
            details: None,
        };
        assert_eq!(effective_status(&comment), CommentStatus::Queued);
        comment.parts.insert("1".into(), CommentStatus::Seen);
        comment.parts.insert("2".into(), CommentStatus::Delivered);
        assert_eq!(effective_status(&comment), CommentStatus::Delivered);
        comment.parts.insert("3".into(), CommentStatus::Failed);
        assert_eq!(effective_status(&comment), CommentStatus::Failed);
    }

    fn reply_of(part_count: usize) -> Comment {
        Comment {
            id: crate::ids::CommentId::parse("c").unwrap(),
            task_id: task("t"),
            author: Author {
                kind: AuthorKind::Staff,
                id: "s".into(),
            },
            text: Some("hi".into()),
            attachment_ids: vec![],
            notify_client: true,
            status: CommentStatus::Queued,
            status_reason: None,
            created_at: Timestamp::from_millis(0),
            viber_message_type: None,
            viber_message_token: None,
            parts: Default::default(),
            outbound: Some(crate::model::OutboundPlan {
                integration_id: integration(),
                contact_id: contact_id(&integration(), "u1"),
                viber_user_id: "u1".into(),
                as_staff: None,
                attachments: vec![],
                part_count,
            }),
            details: None,
        }
    }

    #[test]
    fn a_reply_counts_every_part_an_unsent_one_as_queued() {
        let mut reply = reply_of(3);
        assert_eq!(effective_status(&reply), CommentStatus::Queued);
        // Text accepted, the picture waits for a retry: still queued.
        reply.parts.insert("1".into(), CommentStatus::Sent);
        assert_eq!(effective_status(&reply), CommentStatus::Queued);
        // Receipts for parts 1 and 2 before part 3 is recorded: still queued, not delivered.
        reply.parts.insert("1".into(), CommentStatus::Delivered);
        reply.parts.insert("2".into(), CommentStatus::Delivered);
        assert_eq!(effective_status(&reply), CommentStatus::Queued);
        // The third part is accepted: the least advanced is now `sent`.
        reply.parts.insert("3".into(), CommentStatus::Sent);
        reply.status = CommentStatus::Sent;
        assert_eq!(effective_status(&reply), CommentStatus::Sent);
        reply.parts.insert("3".into(), CommentStatus::Seen);
        assert_eq!(effective_status(&reply), CommentStatus::Delivered);
        reply.parts.insert("1".into(), CommentStatus::Seen);
        reply.parts.insert("2".into(), CommentStatus::Seen);
        assert_eq!(effective_status(&reply), CommentStatus::Seen);
    }

    #[test]
    fn one_failed_part_fails_the_reply_even_before_the_others_are_sent() {
        let mut reply = reply_of(3);
        reply.parts.insert("1".into(), CommentStatus::Delivered);
        reply.parts.insert("2".into(), CommentStatus::Failed);
        assert_eq!(effective_status(&reply), CommentStatus::Failed);
        let mut failed = reply_of(2);
        failed.status = CommentStatus::Failed;
        assert_eq!(effective_status(&failed), CommentStatus::Failed);
    }

    #[test]
    fn a_reply_status_never_moves_backwards_whatever_order_its_parts_advance_in() {
        use CommentStatus::{Delivered, Seen, Sent};
        // Every order of events on a 3-part reply: each part is recorded (sent), then may get
        // delivered and seen receipts; the shown status only ever moves forward.
        let events: Vec<(usize, CommentStatus)> = (0..3)
            .flat_map(|part| [(part, Sent), (part, Delivered), (part, Seen)])
            .collect();
        let mut state = 0x2545_f491_u64;
        let mut next_random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2_000 {
            let mut order = events.clone();
            for i in (1..order.len()).rev() {
                order.swap(i, (next_random() % (i as u64 + 1)) as usize);
            }
            let mut reply = reply_of(3);
            let mut shown = effective_status(&reply);
            for (part, status) in order {
                let key = part.to_string();
                // A receipt can only land once the part's token is recorded (it maps the token).
                let recorded = reply.parts.get(&key).copied();
                let Some(current) = recorded.or((status == Sent).then_some(Sent)) else {
                    continue;
                };
                reply.parts.insert(key, current.max(status));
                let next = effective_status(&reply);
                assert!(next >= shown, "{shown:?} -> {next:?}");
                shown = next;
            }
        }
    }
}
