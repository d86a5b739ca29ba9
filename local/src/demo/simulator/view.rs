//! What the page and the simulator's URLs show: its state, the clients' avatars, the files
//! behind media links.

use serde_json::{Value, json};

use super::media::{self, StoredFile};
use super::state::{self, EntryContent, State};
use super::{Simulator, images, now};

impl Simulator {
    /// A client's or a bot's avatar, an SVG with initials.
    pub fn avatar(&self, name: &str) -> Option<String> {
        let state = self.lock();
        if name == "generic" {
            return Some(images::avatar_svg("", 5));
        }
        // Staff avatars of the seeded team (`staff-Anna-Melnyk`).
        if let Some(person) = name.strip_prefix("staff-").filter(|p| p.len() <= 64) {
            let person = person.replace('-', " ");
            return Some(images::avatar_svg(&person, images::colour_of(&person)));
        }
        if let Some(bot) = name.strip_prefix("bot-") {
            let bot = state.bot(bot)?;
            return Some(images::avatar_svg(&bot.name, bot.colour));
        }
        let client = state.clients.get(name)?;
        client
            .has_avatar
            .then(|| images::avatar_svg(&client.name, client.colour))
    }

    /// A file behind a media link, if the link is valid and the file still there.
    pub fn media_file(&self, id: u64, file_name: &str, query: &str) -> Result<StoredFile, u16> {
        let at = now();
        self.links
            .check(id, file_name, query, at)
            .map_err(media::LinkRefused::status)?;
        let store = self.media_store();
        match store.get(id, at) {
            Some(file) if file.file_name == file_name => Ok(file.clone()),
            _ => Err(404),
        }
    }

    pub(super) fn client_view(&self, state: &State, client: &state::Client) -> Value {
        let mut view = serde_json::to_value(client).expect("clients serialise");
        view["avatar"] = json!(
            client
                .has_avatar
                .then(|| format!("/simulator/avatars/{}.svg", client.key))
        );
        view["unread"] = json!(client.unread());
        view["bot_name"] = json!(state.bot(&client.bot).map(|b| b.name.clone()));
        view
    }

    /// What the page shows: the bots, the clients (when they changed since `clients_version`),
    /// the chat of `client`, the faults waiting and the log after `log_after`.
    pub fn view(&self, client: Option<&str>, clients_version: Option<u64>, log_after: u64) -> Value {
        let at = now();
        let state = self.lock();
        let bots: Vec<Value> = state
            .bots
            .iter()
            .map(|bot| {
                json!({
                    "key": bot.key,
                    "name": bot.name,
                    "uri": bot.uri,
                    "icon": format!("/simulator/avatars/bot-{}.svg", bot.key),
                    "webhook": bot.webhook.is_some(),
                })
            })
            .collect();
        // Unread counts change often: sent apart from the client list, only where not zero.
        let unread: serde_json::Map<String, Value> = state
            .clients
            .values()
            .filter_map(|c| Some((c.key.clone(), json!(Some(c.unread()).filter(|n| *n > 0)?))))
            .collect();
        let mut view = json!({
            "bots": bots,
            "unread": unread,
            "clients_version": state.clients_version,
            "stickers": images::STICKERS.iter().map(|(id, name)| json!({"id": id, "name": name, "url": format!("/simulator/stickers/{id}.png")})).collect::<Vec<_>>(),
            "faults": {
                "send": state.send_faults.iter().collect::<Vec<_>>(),
                "delivery": state.delivery_faults.iter().collect::<Vec<_>>(),
            },
            "last_callback": state.last_callback.as_ref().map(|last| json!({
                "event": last.event,
                "message_token": last.message_token.to_string(),
                "client": last.client.as_ref().and_then(|k| state.clients.get(k)).map(|c| c.name.clone()),
            })),
            "log": state.log.iter().filter(|line| line.id > log_after).collect::<Vec<_>>(),
        });
        if clients_version != Some(state.clients_version) {
            view["clients"] = Value::Array(
                state
                    .client_order
                    .iter()
                    .filter_map(|key| state.clients.get(key))
                    .map(|client| self.client_view(&state, client))
                    .collect(),
            );
        }
        if let Some(client) = client.and_then(|key| state.clients.get(key)) {
            let entries: Vec<Value> = client
                .chat
                .iter()
                .map(|entry| {
                    let mut value = serde_json::to_value(entry).expect("entries serialise");
                    if let Some(file) = entry.content.file()
                        && let Some(id) = file.media_id
                    {
                        value["content"]["file"]["url"] = json!(self.page_links.link(id, &file.file_name, at));
                    }
                    if let EntryContent::Sticker { sticker_id } = entry.content {
                        value["content"]["url"] = json!(format!("/simulator/stickers/{sticker_id}.png"));
                    }
                    value
                })
                .collect();
            view["chat"] = json!({
                "client": self.client_view(&state, client),
                "subscribed": client.subscribed,
                "unread": client.unread(),
                "entries": entries,
            });
        }
        view
    }

    /// The `webhook` the bot with this key calls (for the demo's banner and tests).
    pub fn webhook_of(&self, key: &str) -> Option<String> {
        self.lock().bot(key)?.webhook.as_ref().map(|w| w.url.clone())
    }
}
