//! `--demo-seed N`: an inbox with something in it, made the way real use makes it. Staff, quick
//! replies and a second bot are added through the staff API (the bot connected by the API's own
//! `get_account_info` / `set_webhook`); N simulated clients write every kind of message through
//! signed callbacks to the real webhook; staff answer, change statuses and assignees, write
//! internal notes and attach pictures through the API; the phones deliver, some read, some
//! unsubscribe. Nothing is written to the store directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use serde_json::{Value, json};

use super::simulator::state::{DeliveryFault, NewClient};
use super::simulator::{ClientAction, ClientFile, Simulator, images};

/// Clients playing at once, and tasks worked on at once.
const AT_ONCE: usize = 8;

const FIRST_NAMES: &[&str] = &[
    "Олена",
    "Andrii",
    "Марія",
    "Oksana",
    "Дмитро",
    "Sophie",
    "Іван",
    "Natalia",
    "Тарас",
    "Emma",
    "Юлія",
    "Petro",
    "Катерина",
    "Maksym",
    "Ірина",
    "Oliver",
];
const LAST_NAMES: &[&str] = &[
    "Коваленко",
    "Shevchenko",
    "Бондаренко",
    "Tkachenko",
    "Кравченко",
    "Smith",
    "Мельник",
    "Kowalska",
    "Поліщук",
    "Müller",
    "Савченко",
    "Rudenko",
];
const LOCALES: &[(&str, &str)] = &[
    ("uk", "UA"),
    ("en", "GB"),
    ("ru-RU", "UA"),
    ("de", "DE"),
    ("pl", "PL"),
    ("uk-UA", "UA"),
];
const FIRST_MESSAGES: &[&str] = &[
    "Добрий день! Замовлення №{n} досі не прийшло 😕",
    "Hello, I'd like to return an item from order {n}.",
    "Підкажіть, будь ласка, чи є доставка до Львова?",
    "Hi! My payment for order {n} went through twice.",
    "Чи можна змінити адресу доставки?",
    "The parcel arrived damaged, what should I do?",
    "Коли будуть нові надходження?",
];

/// How much seeding made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seeded {
    pub clients: usize,
    pub tasks: usize,
    pub replies: usize,
}

pub struct Seeder<'a> {
    simulator: &'a Arc<Simulator>,
    api: String,
    token: String,
    http: reqwest::Client,
}

struct Staff {
    id: String,
}

impl<'a> Seeder<'a> {
    /// A seeder calling the staff API at `base_url` with the owner's `token`.
    pub fn new(simulator: &'a Arc<Simulator>, base_url: &str, token: &str) -> Self {
        Self {
            simulator,
            api: format!("{}/api", base_url.trim_end_matches('/')),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("the HTTP client initialises"),
        }
    }

    pub async fn run(&self, clients: u32) -> Result<Seeded, String> {
        let clients = clients as usize;
        let staff = self.add_staff().await?;
        let quick_replies = self.add_quick_replies().await?;
        self.connect_second_bot(&staff).await?;

        let keys: Vec<String> = futures::stream::iter(0..clients)
            .map(|i| self.play_client(i))
            .buffer_unordered(AT_ONCE)
            .try_collect()
            .await?;
        let mut keys = keys;
        keys.sort_by_key(|k| k.trim_start_matches('c').parse::<u64>().unwrap_or(0));

        let tasks = self.wait_for_tasks(clients).await?;
        // A few phones reject a reply (a `failed` tick in the inbox) or report it seen first.
        self.simulator
            .add_delivery_faults(DeliveryFault::ClientRejects, (clients / 100).clamp(1, 20));
        self.simulator
            .add_delivery_faults(DeliveryFault::ReceiptsOutOfOrder, (clients / 100).clamp(1, 20));
        let replies: usize = futures::stream::iter(tasks.iter().enumerate())
            .map(|(i, task)| self.work_on(i, task, &staff, &quick_replies))
            .buffer_unordered(AT_ONCE)
            .try_collect::<Vec<usize>>()
            .await?
            .into_iter()
            .sum();

        // The phones deliver every reply; a third of the clients read theirs; some leave.
        self.wait_for_deliveries(replies).await;
        for key in keys.iter().step_by(3) {
            let _ = self.simulator.chat_open(key);
        }
        for key in keys.iter().skip(9).step_by(10) {
            self.simulator
                .set_subscription(key, false)
                .await
                .map_err(|e| format!("unsubscribing {key}: {e}"))?;
        }
        Ok(Seeded {
            clients,
            tasks: tasks.len(),
            replies,
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.api))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{method} {path} answered {status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn add_staff(&self) -> Result<Vec<Staff>, String> {
        let mut staff = Vec::new();
        for (name, role) in [
            ("Anna Melnyk", "staff"),
            ("Taras Bondarenko", "staff"),
            ("Olha Kravets", "owner"),
        ] {
            let avatar = format!(
                "{}/simulator/avatars/staff-{}.svg",
                self.simulator.base_url(),
                name.replace(' ', "-")
            );
            let member = self
                .call(
                    Method::POST,
                    "/staff",
                    Some(json!({"name": name, "role": role, "avatar_url": avatar})),
                )
                .await?;
            staff.push(Staff {
                id: member["id"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(staff)
    }

    async fn add_quick_replies(&self) -> Result<Vec<String>, String> {
        let mut ids = Vec::new();
        for (title, text) in [
            (
                "Greeting",
                "Hello, {client_name}! Thank you for writing to us. How can we help?",
            ),
            (
                "Order status",
                "{client_name}, your order is on its way and should arrive within 2 days.",
            ),
            (
                "Share phone",
                "Could you share your phone number with the Share phone button, please?",
            ),
            (
                "Closing",
                "Glad we could help! Write here any time. — {staff_name}, {bot_name}",
            ),
        ] {
            let reply = self
                .call(
                    Method::POST,
                    "/quick-replies",
                    Some(json!({"title": title, "text": text})),
                )
                .await?;
            ids.push(reply["id"].as_str().unwrap_or_default().to_owned());
        }
        Ok(ids)
    }

    /// A second simulated bot, connected by the staff API as an owner would connect a real one.
    async fn connect_second_bot(&self, staff: &[Staff]) -> Result<(), String> {
        let token = self.simulator.add_bot("shop", "Acme Shop", "acmeshop");
        self.call(
            Method::POST,
            "/integrations",
            Some(json!({
                "name": "Acme Shop",
                "auth_token": token,
                "template": {
                    "task_title": "Acme Shop: {name}",
                    "initial_status": "new",
                    "assignee_id": staff[0].id,
                    "participant_ids": [staff[1].id],
                },
                "options": {
                    "new_task_if_no_active": true,
                    "send_as_staff": false,
                    "welcome_message": "Welcome to Acme Shop support! Tell us your order number.",
                },
            })),
        )
        .await?;
        Ok(())
    }

    /// Client `i` writes: a first text, then one more kind of message (every kind across the
    /// clients, and all of them from the first client).
    async fn play_client(&self, i: usize) -> Result<String, String> {
        let bot = if i % 5 == 4 { "shop" } else { "demo" };
        let (language, country) = LOCALES[i % LOCALES.len()];
        let name = format!(
            "{} {}",
            FIRST_NAMES[i % FIRST_NAMES.len()],
            LAST_NAMES[(i / FIRST_NAMES.len() + i) % LAST_NAMES.len()]
        );
        let client = self
            .simulator
            .create_client(NewClient {
                bot: Some(bot.to_owned()),
                name,
                avatar: i % 7 != 3,
                language: language.to_owned(),
                country: country.to_owned(),
                api_version: Some(if i % 11 == 5 { 7 } else { 10 }),
                phone: None,
            })
            .map_err(|e| e.to_string())?;
        let key = client["key"].as_str().unwrap_or_default().to_owned();
        let sim = self.simulator;
        let failed = |e: super::simulator::state::Refused| format!("client {key}: {e}");
        if i.is_multiple_of(2) {
            sim.start_conversation(&key, i.is_multiple_of(4).then(|| format!("order-{}", 48_000 + i)))
                .await
                .map_err(failed)?;
        }
        let text = if i == 3 {
            "<img src=x onerror=alert(1)> is what I see on your site".to_owned()
        } else {
            FIRST_MESSAGES[i % FIRST_MESSAGES.len()].replace("{n}", &(48_000 + i).to_string())
        };
        sim.client_acts(&key, ClientAction::Text { text })
            .await
            .map_err(failed)?;
        let kinds: Vec<usize> = if i == 0 { (0..7).collect() } else { vec![i % 7] };
        for kind in kinds {
            match kind {
                0 => sim
                    .client_sends_file(
                        &key,
                        ClientFile {
                            file_name: format!("photo_{}.png", 48_000 + i),
                            content_type: "image/png".into(),
                            bytes: Bytes::from(images::sample_photo(i)),
                            caption: "Ось фото пошкодженої коробки".into(),
                        },
                    )
                    .await
                    .map(drop),
                1 => sim
                    .client_sends_file(
                        &key,
                        ClientFile {
                            file_name: format!("Рахунок_{}.pdf", 48_000 + i),
                            content_type: "application/pdf".into(),
                            bytes: Bytes::from(images::sample_pdf(
                                &format!("Invoice {}", 48_000 + i),
                                "Total: 1 250.00 UAH, paid twice",
                            )),
                            caption: String::new(),
                        },
                    )
                    .await
                    .map(drop),
                2 => sim
                    .client_sends_file(
                        &key,
                        ClientFile {
                            file_name: format!("unboxing_{}.mp4", 48_000 + i),
                            content_type: "video/mp4".into(),
                            bytes: Bytes::from(images::sample_video_header()),
                            caption: String::new(),
                        },
                    )
                    .await
                    .map(drop),
                3 => sim
                    .client_acts(
                        &key,
                        ClientAction::Sticker {
                            sticker_id: images::STICKERS[i % images::STICKERS.len()].0,
                        },
                    )
                    .await
                    .map(drop),
                4 => sim
                    .client_acts(&key, ClientAction::Contact { phone: None })
                    .await
                    .map(drop),
                5 => sim
                    .client_acts(
                        &key,
                        ClientAction::Location {
                            lat: 50.4501 + (i % 100) as f64 * 0.001,
                            lon: 30.5234 - (i % 100) as f64 * 0.001,
                        },
                    )
                    .await
                    .map(drop),
                _ => sim
                    .client_acts(
                        &key,
                        ClientAction::Url {
                            url: format!("https://shop.example.com/orders/{}", 48_000 + i),
                        },
                    )
                    .await
                    .map(drop),
            }
            .map_err(failed)?;
        }
        Ok(key)
    }

    /// Every task of the account, once the processor has made one per client.
    async fn wait_for_tasks(&self, expected: usize) -> Result<Vec<Value>, String> {
        let deadline = Instant::now() + Duration::from_secs(60) + Duration::from_millis(50) * expected as u32;
        loop {
            let tasks = self.all_tasks().await?;
            if tasks.len() >= expected {
                return Ok(tasks);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "only {} of {expected} tasks appeared; is the processor running?",
                    tasks.len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn all_tasks(&self) -> Result<Vec<Value>, String> {
        let mut tasks = Vec::new();
        let mut cursor: Option<String> = None;
        // At most as many pages as MAX_SEED tasks need, plus the few tasks made by hand.
        for _ in 0..(super::MAX_SEED as usize / 100 + 20) {
            let path = match &cursor {
                Some(cursor) => format!("/tasks?limit=100&cursor={}", urlencoding::encode(cursor)),
                None => "/tasks?limit=100".to_owned(),
            };
            let page = self.call(Method::GET, &path, None).await?;
            tasks.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        Ok(tasks)
    }

    /// What staff do with task number `i`: answer (text, a quick reply, a picture), note,
    /// assign, move it through every status, delete a few. Answers how many replies it sent.
    async fn work_on(
        &self,
        i: usize,
        task: &Value,
        staff: &[Staff],
        quick_replies: &[String],
    ) -> Result<usize, String> {
        let id = task["id"].as_str().unwrap_or_default();
        let comments = format!("/tasks/{id}/comments");
        let mut replies = 0;
        let status = match i % 6 {
            0 => None,
            1 => Some("in_progress"),
            2 => Some("waiting"),
            3 => Some("completed"),
            4 => Some("cancelled"),
            _ => Some("in_progress"),
        };
        match i % 6 {
            1 | 3 => {
                self.call(
                    Method::POST,
                    &comments,
                    Some(json!({"text": "Thank you! We are checking your order now.", "notify_client": true})),
                )
                .await?;
                replies += 1;
            }
            2 => {
                self.call(
                    Method::POST,
                    &comments,
                    Some(json!({"quick_reply_id": quick_replies[i % quick_replies.len()], "notify_client": true})),
                )
                .await?;
                replies += 1;
            }
            5 => {
                self.call(
                    Method::POST,
                    &comments,
                    Some(json!({"text": "Called the warehouse: the parcel leaves today.", "notify_client": false})),
                )
                .await?;
                let picture = images::sample_photo(i + 3);
                let upload = self
                    .call(
                        Method::POST,
                        "/attachments",
                        Some(json!({"file_name": "shipping-label.png", "content_type": "image/png", "size": picture.len()})),
                    )
                    .await?;
                let url = upload["upload_url"].as_str().unwrap_or_default();
                let put = self
                    .http
                    .put(url)
                    .header(reqwest::header::CONTENT_TYPE, "image/png")
                    .body(picture)
                    .send()
                    .await
                    .map_err(|e| format!("uploading a picture: {e}"))?;
                if !put.status().is_success() {
                    return Err(format!("uploading a picture answered {}", put.status()));
                }
                self.call(
                    Method::POST,
                    &comments,
                    Some(json!({
                        "text": "Here is your shipping label.",
                        "attachment_ids": [upload["id"]],
                        "notify_client": true,
                    })),
                )
                .await?;
                replies += 1;
            }
            _ => {}
        }
        if let Some(status) = status {
            let mut patch = json!({"status": status});
            if i % 4 == 1 {
                patch["assignee_id"] = json!(staff[i % staff.len()].id);
            }
            self.call(Method::PATCH, &format!("/tasks/{id}"), Some(patch)).await?;
        }
        if i % 97 == 96 {
            self.call(Method::DELETE, &format!("/tasks/{id}"), None).await?;
        }
        Ok(replies)
    }

    /// Waits (a bounded time) until the simulator has accepted `replies` messages.
    async fn wait_for_deliveries(&self, replies: usize) {
        let deadline = Instant::now() + Duration::from_secs(30) + Duration::from_millis(20) * replies as u32;
        while self.simulator.accepted_messages() < replies && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The last receipts are on their way.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
