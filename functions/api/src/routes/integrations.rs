//! `/api/integrations`: connecting Viber bots (owners only, except reading).
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/integrations` | every integration, oldest first |
//! | `POST /api/integrations` | 201: connects a bot: `get_account_info`, store, `set_webhook` |
//! | `GET /api/integrations/{id}` | the integration |
//! | `PATCH /api/integrations/{id}` | name, template, contact template, options; a new `auth_token` is verified and the webhook re-set |
//! | `DELETE /api/integrations/{id}` | 204: unsets the webhook and removes the integration (its tasks and contacts stay) |
//!
//! The bot's token is read from the body by hand (never through an error message of the JSON
//! decoder), never answered and never logged. Viber refusing it is a 422 with Viber's reason,
//! Viber out of reach a 502; in both cases nothing stays half-connected.

use lambda_http::http::header;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::ids::{IntegrationId, StaffId};
use std::collections::BTreeMap;

use shared::model::{
    BotProfile, ContactTemplate, Integration, IntegrationOptions, StaffMember, TaskStatus, TaskTemplate, webhook_url,
};
use shared::ports::PageRequest;
use shared::secret::AuthToken;
use shared::time::Timestamp;
use shared::viber::client::{AccountInfo, ViberError};

use crate::body::{fields, json_value, present};
use crate::error::{ApiError, StoreContext};
use crate::query::{self, Params};
use crate::response::{created, no_content, ok};
use crate::routes::common::{PageView, distinct, name, tag_refusal};
use crate::{Api, require_owner};

const UNKNOWN: ApiError = ApiError::NotFound("integration");

/// Viber's limit on a text message: the welcome message is one.
const WELCOME_MAX_CHARS: usize = 7000;
const TITLE_MAX_CHARS: usize = 200;

/// An integration as the API shows it: never its token.
#[derive(Debug, Serialize)]
pub struct IntegrationView<'a> {
    pub id: &'a IntegrationId,
    pub name: &'a str,
    pub bot: &'a BotProfile,
    pub webhook_url: &'a str,
    pub deep_link: String,
    pub template: &'a TaskTemplate,
    pub contact_template: &'a ContactTemplate,
    pub options: &'a IntegrationOptions,
    pub connected_by: Option<&'a StaffId>,
    pub created_at: Timestamp,
}

impl<'a> From<&'a Integration> for IntegrationView<'a> {
    fn from(integration: &'a Integration) -> Self {
        Self {
            id: &integration.id,
            name: &integration.name,
            bot: &integration.bot,
            webhook_url: &integration.webhook_url,
            deep_link: integration.deep_link(),
            template: &integration.template,
            contact_template: &integration.contact_template,
            options: &integration.options,
            connected_by: integration.connected_by.as_ref(),
            created_at: integration.created_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewIntegration {
    name: String,
    #[serde(default)]
    template: TaskTemplate,
    /// Read as a patch of the empty template, so an unknown field is refused.
    #[serde(default)]
    contact_template: ContactTemplatePatch,
    #[serde(default)]
    options: IntegrationOptions,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TemplatePatch {
    task_title: Option<String>,
    initial_status: Option<TaskStatus>,
    #[serde(default, deserialize_with = "present")]
    assignee_id: Option<Option<StaffId>>,
    participant_ids: Option<Vec<StaffId>>,
}

/// A partial contact template: `group: null` clears the group; labels and fields replace the
/// stored ones.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ContactTemplatePatch {
    #[serde(default, deserialize_with = "present")]
    group: Option<Option<String>>,
    labels: Option<Vec<String>>,
    fields: Option<BTreeMap<String, String>>,
}

impl ContactTemplatePatch {
    fn apply(self, template: &mut ContactTemplate) {
        if let Some(group) = self.group {
            template.group = group;
        }
        if let Some(labels) = self.labels {
            template.labels = labels;
        }
        if let Some(fields) = self.fields {
            template.fields = fields;
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OptionsPatch {
    new_task_if_no_active: Option<bool>,
    send_as_staff: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    welcome_message: Option<Option<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IntegrationPatch {
    name: Option<String>,
    template: Option<TemplatePatch>,
    contact_template: Option<ContactTemplatePatch>,
    options: Option<OptionsPatch>,
}

/// Takes `auth_token` out of the body before anything else reads it, so no decoder error can
/// ever quote it. `Ok(None)` when absent.
fn take_token(body: &mut serde_json::Value) -> Result<Option<AuthToken>, ApiError> {
    let Some(raw) = body.as_object_mut().and_then(|fields| fields.remove("auth_token")) else {
        return Ok(None);
    };
    match raw.as_str() {
        Some(token) if !token.is_empty() && token.len() <= 256 && token.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(AuthToken::new(token)))
        }
        _ => Err(ApiError::invalid_body(
            "auth_token must be the bot's token from Viber: a non-empty string without spaces",
        )),
    }
}

/// A contact template as it may be stored (`rules::check_template`): 400 with the refusal's code.
fn checked_contact_template(template: &ContactTemplate) -> Result<ContactTemplate, ApiError> {
    shared::rules::check_template(template).map_err(|e| tag_refusal("contact_template.", e))
}

/// A template and options as they may be stored: names checked, lists without repeats.
fn checked(
    mut template: TaskTemplate,
    mut options: IntegrationOptions,
) -> Result<(TaskTemplate, IntegrationOptions), ApiError> {
    template.task_title = template.task_title.trim().to_owned();
    if template.task_title.is_empty() || template.task_title.chars().count() > TITLE_MAX_CHARS {
        return Err(ApiError::invalid_body(format!(
            "template.task_title must be 1 to {TITLE_MAX_CHARS} characters"
        )));
    }
    template.participant_ids = distinct(template.participant_ids);
    options.welcome_message = options.welcome_message.filter(|text| !text.trim().is_empty());
    if options
        .welcome_message
        .as_ref()
        .is_some_and(|text| text.chars().count() > WELCOME_MAX_CHARS)
    {
        return Err(ApiError::invalid_body(format!(
            "options.welcome_message must be at most {WELCOME_MAX_CHARS} characters"
        )));
    }
    Ok((template, options))
}

/// Viber's refusal of a token as an answer: 422 with Viber's reason, or 502 when Viber could not
/// be reached. The token is cut out of anything Viber said, in case it was echoed.
fn viber_refusal(error: ViberError, token: &AuthToken, doing: &str) -> ApiError {
    let redact = |text: &str| text.replace(token.expose(), "***");
    match error {
        ViberError::Api { status, message } => {
            tracing::warn!(status, doing, "Viber refused the bot token");
            ApiError::unprocessable(
                "viber_rejected",
                format!("Viber refused {doing}: {} (status {status})", redact(&message)),
            )
        }
        ViberError::Transport(reason) => {
            let reason = redact(&reason);
            tracing::error!(doing, %reason, "Viber could not be reached");
            ApiError::BadGateway {
                code: "viber_unavailable",
                message: format!("Viber could not be reached while {doing}: {reason}"),
            }
        }
    }
}

impl Api {
    pub(crate) async fn list_integrations(&self, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let integrations = self.store.list_integrations(&page).await.context("list integrations")?;
        Ok(ok(&PageView::of(&integrations, IntegrationView::from)))
    }

    pub(crate) async fn get_integration(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        let integration = self.integration(raw_id).await?;
        Ok(ok(&IntegrationView::from(&integration)))
    }

    async fn integration(&self, raw_id: &str) -> Result<Integration, ApiError> {
        let id = IntegrationId::parse(raw_id).map_err(|_| UNKNOWN)?;
        self.store
            .get_integration(&id)
            .await
            .context("get integration")?
            .ok_or(UNKNOWN)
    }

    /// 409 when another integration already serves this bot (Viber keeps one webhook per bot).
    async fn bot_not_connected_elsewhere(
        &self,
        bot: &AccountInfo,
        except: Option<&IntegrationId>,
    ) -> Result<(), ApiError> {
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let integrations = self.store.list_integrations(&page).await.context("list integrations")?;
            if let Some(other) = integrations
                .items
                .iter()
                .find(|i| i.bot.uri == bot.uri && Some(&i.id) != except)
            {
                return Err(ApiError::conflict(
                    "already_connected",
                    format!(
                        "this bot ({}) is already connected as integration {}",
                        bot.uri, other.id
                    ),
                ));
            }
            match integrations.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => return Ok(()),
            }
        }
    }

    /// Verifies the token, stores the integration, then sets the webhook: Viber checks the URL at
    /// once with a callback signed by the token, which the webhook can verify only because the
    /// integration is stored. If Viber refuses, the integration is removed again.
    pub(crate) async fn create_integration(
        &self,
        request: &Request,
        caller: &StaffMember,
    ) -> Result<Response<Body>, ApiError> {
        require_owner(caller)?;
        let mut body = json_value(request)?;
        let token = take_token(&mut body)?.ok_or_else(|| ApiError::invalid_body("auth_token is required"))?;
        let new: NewIntegration = fields(body)?;
        let name = name("name", &new.name)?;
        let (template, options) = checked(new.template, new.options)?;
        let mut contact_template = ContactTemplate::default();
        new.contact_template.apply(&mut contact_template);
        let contact_template = checked_contact_template(&contact_template)?;
        self.existing_staff(template.assignee_id.iter().chain(&template.participant_ids).collect())
            .await?;
        let base_url = self.base_url(request)?;

        let info = self
            .viber
            .get_account_info(&token)
            .await
            .map_err(|e| viber_refusal(e, &token, "the bot token"))?;
        self.bot_not_connected_elsewhere(&info, None).await?;
        let id = IntegrationId::generate();
        let integration = Integration {
            webhook_url: webhook_url(&base_url, &id),
            id,
            name,
            auth_token: token,
            bot: info.bot_profile(),
            template,
            contact_template,
            options,
            connected_by: Some(caller.id.clone()),
            created_at: Timestamp::now(),
        };
        self.store
            .create_integration(&integration)
            .await
            .context("create integration")?;
        if let Err(viber_error) = self
            .viber
            .set_webhook(&integration.auth_token, &integration.webhook_url)
            .await
        {
            self.disconnect_locally(&integration.id).await;
            return Err(viber_refusal(viber_error, &integration.auth_token, "the webhook"));
        }
        tracing::info!(integration_id = %integration.id, bot = %integration.bot.uri, "bot connected");
        Ok(created(&IntegrationView::from(&integration)))
    }

    /// Removes a stored integration after Viber refused it (its webhook was not set).
    async fn disconnect_locally(&self, id: &IntegrationId) {
        if let Err(store_error) = self.store.delete_integration(id).await {
            tracing::error!(integration_id = %id, error = %store_error, "a refused integration could not be removed");
        }
        self.forget(id);
    }

    pub(crate) async fn update_integration(
        &self,
        raw_id: &str,
        request: &Request,
        caller: &StaffMember,
    ) -> Result<Response<Body>, ApiError> {
        require_owner(caller)?;
        let stored = self.integration(raw_id).await?;
        let mut body = json_value(request)?;
        let token = take_token(&mut body)?;
        let patch: IntegrationPatch = fields(body)?;

        let mut changed = stored.clone();
        if let Some(raw) = &patch.name {
            changed.name = name("name", raw)?;
        }
        let template_patch = patch.template.unwrap_or_default();
        let mut template = changed.template.clone();
        if let Some(title) = template_patch.task_title {
            template.task_title = title;
        }
        if let Some(status) = template_patch.initial_status {
            template.initial_status = status;
        }
        if let Some(assignee) = template_patch.assignee_id {
            template.assignee_id = assignee;
        }
        if let Some(participants) = template_patch.participant_ids {
            template.participant_ids = participants;
        }
        let options_patch = patch.options.unwrap_or_default();
        let mut options = changed.options.clone();
        if let Some(flag) = options_patch.new_task_if_no_active {
            options.new_task_if_no_active = flag;
        }
        if let Some(flag) = options_patch.send_as_staff {
            options.send_as_staff = flag;
        }
        if let Some(welcome) = options_patch.welcome_message {
            options.welcome_message = welcome;
        }
        let (template, options) = checked(template, options)?;
        let mut contact_template = changed.contact_template.clone();
        patch.contact_template.unwrap_or_default().apply(&mut contact_template);
        let contact_template = checked_contact_template(&contact_template)?;
        self.existing_staff(template.assignee_id.iter().chain(&template.participant_ids).collect())
            .await?;
        changed.template = template;
        changed.contact_template = contact_template;
        changed.options = options;

        let Some(token) = token else {
            return self.store_change(&changed).await;
        };
        // A new token: verified first (nothing changes if Viber refuses it), stored before the
        // webhook is set (Viber's check is signed with it), and put back if Viber refuses that.
        let info = self
            .viber
            .get_account_info(&token)
            .await
            .map_err(|e| viber_refusal(e, &token, "the new bot token"))?;
        self.bot_not_connected_elsewhere(&info, Some(&stored.id)).await?;
        changed.auth_token = token;
        changed.bot = info.bot_profile();
        changed.webhook_url = webhook_url(&self.base_url(request)?, &stored.id);
        let response = self.store_change(&changed).await?;
        if let Err(viber_error) = self.viber.set_webhook(&changed.auth_token, &changed.webhook_url).await {
            match self.store.replace_integration(&stored).await {
                Ok(_) => {}
                Err(store_error) => {
                    tracing::error!(integration_id = %stored.id, error = %store_error, "the previous token could not be put back")
                }
            }
            self.forget(&stored.id);
            return Err(viber_refusal(
                viber_error,
                &changed.auth_token,
                "the webhook with the new token",
            ));
        }
        if stored.bot.uri != changed.bot.uri {
            // Another bot now: the previous one stops calling this URL (best effort).
            if let Err(viber_error) = self.viber.remove_webhook(&stored.auth_token).await {
                tracing::warn!(integration_id = %stored.id, error = %viber_error, "the previous bot's webhook was not unset");
            }
        }
        tracing::info!(integration_id = %stored.id, bot = %changed.bot.uri, "bot token changed");
        Ok(response)
    }

    async fn store_change(&self, changed: &Integration) -> Result<Response<Body>, ApiError> {
        let replaced = self
            .store
            .replace_integration(changed)
            .await
            .context("update integration")?;
        self.forget(&changed.id);
        if !replaced {
            return Err(UNKNOWN);
        }
        Ok(ok(&IntegrationView::from(changed)))
    }

    /// Unsets the webhook with Viber, then removes the integration. Viber out of reach: 502 and
    /// nothing changes (try again). Viber refusing the token (revoked, bot blocked): Viber calls
    /// no one for it anyway, so the integration is removed all the same.
    pub(crate) async fn delete_integration(
        &self,
        raw_id: &str,
        caller: &StaffMember,
    ) -> Result<Response<Body>, ApiError> {
        require_owner(caller)?;
        let stored = self.integration(raw_id).await?;
        match self.viber.remove_webhook(&stored.auth_token).await {
            Ok(()) => {}
            Err(error @ ViberError::Transport(_)) => {
                return Err(viber_refusal(error, &stored.auth_token, "unsetting the webhook"));
            }
            Err(ViberError::Api { status, .. }) => {
                tracing::warn!(integration_id = %stored.id, status, "Viber refused to unset the webhook; disconnecting anyway");
            }
        }
        let deleted = self
            .store
            .delete_integration(&stored.id)
            .await
            .context("delete integration")?;
        self.forget(&stored.id);
        if !deleted {
            return Err(UNKNOWN);
        }
        tracing::info!(integration_id = %stored.id, "bot disconnected");
        Ok(no_content())
    }

    /// Drops a changed or removed integration from the webhook's cache (local stack).
    fn forget(&self, id: &IntegrationId) {
        if let Some(cache) = &self.webhook_cache {
            cache.forget(id);
        }
    }

    /// The base of webhook URLs: `PUBLIC_BASE_URL`, else the host the request came to.
    fn base_url(&self, request: &Request) -> Result<String, ApiError> {
        if let Some(url) = &self.public_base_url {
            return Ok(url.trim_end_matches('/').to_owned());
        }
        request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .filter(|host| !host.is_empty())
            .map(|host| format!("https://{host}"))
            .ok_or_else(|| {
                tracing::error!("PUBLIC_BASE_URL is not set and the request has no Host header");
                ApiError::Misconfigured("the public base URL of webhooks is not configured")
            })
    }
}
