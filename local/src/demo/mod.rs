//! `viberdesk-local --demo` (docs/demo.md): the whole product on one machine without a Viber bot.
//! A built-in Viber simulator ([`simulator`]) stands in for Viber's API; bot `demo` is connected
//! to it exactly as a real bot is (`get_account_info`, stored, `set_webhook` whose signed `webhook`
//! check goes through the real webhook), and a client simulator page at `/simulator` lets anyone
//! play the bot's clients. `--demo-seed N` fills the inbox through the same path ([`seed`]).
//!
//! The simulator's Viber API is served on the stack's own port under `/simulator/pa/…`, not on a
//! second loopback port: one port to open or forward, nothing else to bind, and the stack's Viber
//! client reaches it as it reaches Viber, over HTTP.

pub mod seed;
pub mod simulator;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use shared::ids::IntegrationId;
use shared::model::{Integration, IntegrationOptions, StaffMember, TaskTemplate, webhook_url};
use shared::secret::AuthToken;
use shared::time::Timestamp;
use shared::viber::client::{ViberClient, ViberError};

use self::simulator::Simulator;

/// The integration id of the demo bot (`/viber/demo`).
pub const DEMO_INTEGRATION: &str = "demo";
/// The most simulated clients `--demo-seed` creates.
pub const MAX_SEED: u32 = 10_000;

const DEMO_BOT_NAME: &str = "viberdesk demo";
const DEMO_BOT_URI: &str = "viberdeskdemo";
const WELCOME: &str =
    "Hi! This is the viberdesk demo bot. Write your question here and a member of our team will answer in this chat.";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct DemoOptions {
    /// Try viberdesk without a Viber bot: a built-in Viber simulator stands in for Viber, bot
    /// `demo` is connected to it, and a client simulator is served at /simulator.
    #[arg(long, conflicts_with = "viber_token")]
    pub demo: bool,
    /// With --demo: seed N simulated clients with conversations of every message type, tasks in
    /// every status, a second bot, staff and quick replies (through the real pipeline).
    #[arg(long, value_name = "N", requires = "demo", value_parser = clap::value_parser!(u32).range(1..=MAX_SEED as i64))]
    pub demo_seed: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the simulator refused to connect the demo bot: {0}")]
    Connect(ViberError),
    #[error("storing the demo bot: {0}")]
    Store(#[from] shared::ports::StoreError),
    #[error("seeding: {0}")]
    Seed(String),
}

/// The demo of one running stack.
pub struct Demo {
    simulator: Arc<Simulator>,
    /// Where the stack's Viber client calls: this process, on its own address.
    api_url: String,
    /// Where the pages are opened.
    public_base_url: String,
    seed: Option<u32>,
}

impl Demo {
    /// The demo, if `--demo` was given, for a stack listening on `address`.
    pub fn new(options: &DemoOptions, address: SocketAddr, public_base_url: &str) -> Option<Self> {
        options.demo.then(|| Self {
            simulator: Simulator::new(public_base_url),
            api_url: format!("http://{address}/simulator/pa"),
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            seed: options.demo_seed,
        })
    }

    /// The Viber API base URL the stack uses in demo mode.
    pub fn viber_api_url(&self) -> &str {
        &self.api_url
    }

    /// `/simulator/…`, to be merged into the stack's router.
    pub fn routes(&self) -> Router {
        simulator::routes::router(self.simulator.clone())
    }

    pub fn simulator(&self) -> &Arc<Simulator> {
        &self.simulator
    }

    /// Once the server answers: connects bot `demo`, seeds if asked, and prints where to go.
    /// `generated_owner_token` is the owner's token when it was generated (shown once here).
    pub async fn start(
        &self,
        integrations: &dyn shared::ports::IntegrationStore,
        owner: &StaffMember,
        owner_token: &str,
        generated_owner_token: bool,
    ) -> Result<(), DemoError> {
        let token = self.simulator.add_bot(DEMO_INTEGRATION, DEMO_BOT_NAME, DEMO_BOT_URI);
        let options = IntegrationOptions {
            send_as_staff: true,
            welcome_message: Some(WELCOME.to_owned()),
            ..IntegrationOptions::default()
        };
        self.connect(integrations, AuthToken::new(token), options, owner)
            .await?;
        if let Some(clients) = self.seed {
            println!("seeding {clients} simulated clients through the webhook…");
            let started = Instant::now();
            let seeded = seed::Seeder::new(&self.simulator, &self.public_base_url_for_api(), owner_token)
                .run(clients)
                .await
                .map_err(DemoError::Seed)?;
            println!(
                "seeded {} clients, {} tasks, {} replies in {:.1} s",
                seeded.clients,
                seeded.tasks,
                seeded.replies,
                started.elapsed().as_secs_f64()
            );
        }
        self.print_banner(generated_owner_token.then_some(owner_token));
        Ok(())
    }

    /// The stack's own base URL for the staff API, as the seeder calls it (this process).
    fn public_base_url_for_api(&self) -> String {
        self.api_url.trim_end_matches("/simulator/pa").to_owned()
    }

    /// Connects a simulated bot exactly as a real one is: its profile from `get_account_info`,
    /// stored, then `set_webhook`, whose signed check the webhook verifies with the stored token.
    async fn connect(
        &self,
        integrations: &dyn shared::ports::IntegrationStore,
        token: AuthToken,
        options: IntegrationOptions,
        owner: &StaffMember,
    ) -> Result<Integration, DemoError> {
        let viber = ViberClient::new(&self.api_url);
        let info = viber.get_account_info(&token).await.map_err(DemoError::Connect)?;
        let id = IntegrationId::parse(DEMO_INTEGRATION).expect("a valid id");
        let integration = Integration {
            webhook_url: webhook_url(&self.public_base_url, &id),
            id,
            name: info.name.clone(),
            auth_token: token,
            bot: info.bot_profile(),
            template: TaskTemplate::default(),
            options,
            contact_template: Default::default(),
            connected_by: Some(owner.id.clone()),
            created_at: Timestamp::now(),
        };
        integrations.put_integration(&integration).await?;
        viber
            .set_webhook(&integration.auth_token, &integration.webhook_url)
            .await
            .map_err(DemoError::Connect)?;
        tracing::info!(webhook = %integration.webhook_url, "demo bot connected to the Viber simulator");
        Ok(integration)
    }

    fn print_banner(&self, generated_owner_token: Option<&str>) {
        let base = &self.public_base_url;
        let token = match generated_owner_token {
            Some(token) => format!("{token}   (shown once: sign in to the inbox with it)"),
            None => "the one given with --owner-token".to_owned(),
        };
        println!();
        println!("viberdesk demo is running, with a Viber simulator instead of Viber:");
        println!("  staff inbox        {base}/");
        println!("  client simulator   {base}/simulator");
        println!("  owner token        {token}");
        println!("Write as a client in the simulator, answer in the inbox. Ctrl-C stops.");
        println!();
    }
}
