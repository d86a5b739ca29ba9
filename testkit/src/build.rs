//! Records for tests and benches with sensible defaults, so that a test says only what it is
//! about: `build::integration("acme").send_as_staff(true).build()`,
//! `build::staff("olga").owner().build()`, `build::task("t1").status(TaskStatus::Waiting).build()`.
//! Times default to now; ids must be valid (a test's typo panics at once).

use shared::ids::{ContactId, IntegrationId, StaffId, TaskId};
use shared::model::{
    BotProfile, Contact, ContactTemplate, CurrentTask, Integration, IntegrationOptions, Role, StaffMember, Task,
    TaskState, TaskStatus, TaskTemplate,
};
use shared::secret::AuthToken;
use shared::time::Timestamp;

use crate::fixtures::DOC_TOKEN;

/// Integration `id`: "Acme", whose bot "Acme Support" (`acmesupport`, no icon) has the fixtures'
/// token, with the default template and options, connected by no one in particular.
pub fn integration(id: &str) -> IntegrationBuilder {
    let id = integration_id(id);
    IntegrationBuilder(Integration {
        name: "Acme".into(),
        auth_token: AuthToken::new(DOC_TOKEN),
        bot: BotProfile {
            name: "Acme Support".into(),
            uri: "acmesupport".into(),
            icon: None,
        },
        webhook_url: format!("https://api.example.com/viber/{id}"),
        template: TaskTemplate::default(),
        options: IntegrationOptions::default(),
        contact_template: ContactTemplate::default(),
        connected_by: None,
        created_at: Timestamp::now(),
        id,
    })
}

pub struct IntegrationBuilder(Integration);

impl IntegrationBuilder {
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = name.into();
        self
    }

    /// The bot's token (the fixtures' `DOC_TOKEN` otherwise).
    pub fn token(mut self, token: &str) -> Self {
        self.0.auth_token = AuthToken::new(token);
        self
    }

    /// The bot's name and `uri` (its deep link).
    pub fn bot(mut self, name: &str, uri: &str) -> Self {
        self.0.bot.name = name.into();
        self.0.bot.uri = uri.into();
        self
    }

    pub fn icon(mut self, url: &str) -> Self {
        self.0.bot.icon = Some(url.into());
        self
    }

    pub fn webhook_url(mut self, url: &str) -> Self {
        self.0.webhook_url = url.into();
        self
    }

    pub fn template(mut self, template: TaskTemplate) -> Self {
        self.0.template = template;
        self
    }

    /// What the bot's new contacts get.
    pub fn contact_template(mut self, template: ContactTemplate) -> Self {
        self.0.contact_template = template;
        self
    }

    pub fn options(mut self, options: IntegrationOptions) -> Self {
        self.0.options = options;
        self
    }

    pub fn send_as_staff(mut self, on: bool) -> Self {
        self.0.options.send_as_staff = on;
        self
    }

    pub fn new_task_if_no_active(mut self, on: bool) -> Self {
        self.0.options.new_task_if_no_active = on;
        self
    }

    pub fn welcome_message(mut self, text: Option<&str>) -> Self {
        self.0.options.welcome_message = text.map(str::to_owned);
        self
    }

    pub fn connected_by(mut self, id: &str) -> Self {
        self.0.connected_by = Some(staff_id(id));
        self
    }

    pub fn created_at(mut self, at: Timestamp) -> Self {
        self.0.created_at = at;
        self
    }

    pub fn build(self) -> Integration {
        self.0
    }
}

/// Staff member `id`, named `id`, a `staff` without an avatar.
pub fn staff(id: &str) -> StaffBuilder {
    StaffBuilder(StaffMember {
        id: staff_id(id),
        name: id.into(),
        avatar_url: None,
        role: Role::Staff,
        created_at: Timestamp::now(),
    })
}

pub struct StaffBuilder(StaffMember);

impl StaffBuilder {
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = name.into();
        self
    }

    pub fn avatar(mut self, url: &str) -> Self {
        self.0.avatar_url = Some(url.into());
        self
    }

    pub fn role(mut self, role: Role) -> Self {
        self.0.role = role;
        self
    }

    pub fn owner(self) -> Self {
        self.role(Role::Owner)
    }

    pub fn created_at(mut self, at: Timestamp) -> Self {
        self.0.created_at = at;
        self
    }

    pub fn build(self) -> StaffMember {
        self.0
    }
}

/// Task `id` of integration `acme` for contact `c1`: "Viber: Олена", `new`, no one assigned, no
/// participants, no previous task, every time now.
pub fn task(id: &str) -> TaskBuilder {
    let now = Timestamp::now();
    TaskBuilder(Task {
        id: TaskId::parse(id).expect("a valid task id"),
        integration_id: integration_id("acme"),
        title: "Viber: Олена".into(),
        description: String::new(),
        status: TaskStatus::New,
        requester_id: contact_id("c1"),
        assignee_id: None,
        participant_ids: Vec::new(),
        previous_task_id: None,
        created_at: now,
        updated_at: now,
        last_message_at: now,
        deleted: false,
        last_message: None,
        requester_name: None,
        requester_avatar: None,
    })
}

pub struct TaskBuilder(Task);

impl TaskBuilder {
    pub fn integration(mut self, id: &IntegrationId) -> Self {
        self.0.integration_id = id.clone();
        self
    }

    /// The contact whose message opened the task.
    pub fn requester(mut self, id: &ContactId) -> Self {
        self.0.requester_id = id.clone();
        self
    }

    pub fn title(mut self, title: &str) -> Self {
        self.0.title = title.into();
        self
    }

    pub fn description(mut self, description: &str) -> Self {
        self.0.description = description.into();
        self
    }

    pub fn status(mut self, status: TaskStatus) -> Self {
        self.0.status = status;
        self
    }

    pub fn assignee(mut self, id: Option<&str>) -> Self {
        self.0.assignee_id = id.map(staff_id);
        self
    }

    pub fn participants(mut self, ids: &[&str]) -> Self {
        self.0.participant_ids = ids.iter().copied().map(staff_id).collect();
        self
    }

    pub fn previous(mut self, id: Option<TaskId>) -> Self {
        self.0.previous_task_id = id;
        self
    }

    /// Created, updated and last written to at `at`.
    pub fn at(mut self, at: Timestamp) -> Self {
        self.0.created_at = at;
        self.0.updated_at = at;
        self.0.last_message_at = at;
        self
    }

    /// What the inbox's lists show: the client's name and their last message.
    pub fn shown_as(mut self, requester_name: &str, kind: &str, preview: Option<&str>) -> Self {
        self.0.requester_name = Some(requester_name.into());
        self.0.last_message = Some(shared::model::LastMessage {
            kind: kind.into(),
            preview: preview.map(str::to_owned),
        });
        self
    }

    /// Where the client's avatar copy is in the blob store.
    pub fn requester_avatar(mut self, blob_key: &str) -> Self {
        self.0.requester_avatar = Some(blob_key.into());
        self
    }

    pub fn build(self) -> Task {
        self.0
    }
}

/// Contact `id` of integration `acme`: Viber user `u==`, "Олена", subscribed, in no task yet,
/// version 1, every time now.
pub fn contact(id: &str) -> ContactBuilder {
    let now = Timestamp::now();
    ContactBuilder(Contact {
        id: contact_id(id),
        integration_id: integration_id("acme"),
        viber_user_id: "u==".into(),
        name: Some("Олена".into()),
        avatar_url: None,
        language: None,
        country: None,
        api_version: None,
        phone: None,
        subscribed: true,
        subscription_changed_at: None,
        created_at: now,
        updated_at: now,
        current_task: None,
        version: 1,
        avatar: None,
        group: None,
        labels: Vec::new(),
        fields: Default::default(),
    })
}

/// Viber user `user` of `integration` as a contact, with the id the processor gives them.
pub fn contact_of(integration: &IntegrationId, user: &str) -> ContactBuilder {
    let mut builder = contact("c1").user(user);
    builder.0.id = shared::rules::contact_id(integration, user);
    builder.0.integration_id = integration.clone();
    builder
}

pub struct ContactBuilder(Contact);

impl ContactBuilder {
    pub fn integration(mut self, id: &IntegrationId) -> Self {
        self.0.integration_id = id.clone();
        self
    }

    /// The Viber user id.
    pub fn user(mut self, user: &str) -> Self {
        self.0.viber_user_id = user.into();
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.0.name = Some(name.into());
        self
    }

    /// Language, country and `api_version` as a Ukrainian client's phone reports them.
    pub fn from_ukraine(mut self) -> Self {
        self.0.language = Some("uk".into());
        self.0.country = Some("UA".into());
        self.0.api_version = Some(10);
        self
    }

    /// The contact's current task, active.
    pub fn writing_in(mut self, task: &TaskId) -> Self {
        self.0.current_task = Some(CurrentTask {
            id: task.clone(),
            state: TaskState::Active,
            since: None,
            previous: None,
        });
        self
    }

    pub fn version(mut self, version: u64) -> Self {
        self.0.version = version;
        self
    }

    /// In `group` (as a bot's contact template or staff put it there).
    pub fn group(mut self, group: &str) -> Self {
        self.0.group = Some(group.into());
        self
    }

    pub fn labels(mut self, labels: &[&str]) -> Self {
        self.0.labels = labels.iter().map(|label| (*label).to_owned()).collect();
        self
    }

    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.0.fields.insert(name.into(), value.into());
        self
    }

    /// Created and last updated at `at`.
    pub fn at(self, at: Timestamp) -> Self {
        self.created_at(at).updated_at(at)
    }

    pub fn created_at(mut self, at: Timestamp) -> Self {
        self.0.created_at = at;
        self
    }

    pub fn updated_at(mut self, at: Timestamp) -> Self {
        self.0.updated_at = at;
        self
    }

    pub fn build(self) -> Contact {
        self.0
    }
}

fn integration_id(id: &str) -> IntegrationId {
    IntegrationId::parse(id).expect("a valid integration id")
}

fn contact_id(id: &str) -> ContactId {
    ContactId::parse(id).expect("a valid contact id")
}

fn staff_id(id: &str) -> StaffId {
    StaffId::parse(id).expect("a valid staff id")
}
