//! Clients writing to the bot, as Viber delivers their callbacks: each client sends its messages
//! one after another (text, picture, file, sticker, contact, location in turn), each callback is
//! posted until the stack answers 200 (Viber re-sends what was not acknowledged) and 0 to 2 more
//! times with jitter (Viber's duplicates). Then the census: through the staff API, which of the
//! accepted messages are in their client's task, how often, and in which order.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::retry::random_unit;
use testkit::MediaServer;
use testkit::fixtures::{self, DOC_TOKEN};

use super::stack::World;

/// Sticker ids of the run start here; the client and the message are in the rest.
const STICKER_BASE: u64 = 1_000_000;
/// A message's `(client, sequence)`.
pub type Key = (usize, usize);

/// The Viber user id of client `k`.
pub fn user_id(client: usize) -> String {
    format!("fault-{client}-Kf2mQ1xT7bVnC3pLs8a==")
}

pub fn client_name(client: usize) -> String {
    format!("Fault client {client}")
}

/// The marker every message carries where the staff API shows it back.
fn marker((client, seq): Key) -> String {
    format!("[{client}.{seq}]")
}

/// A message callback of client `client`, its `seq`-th, of a type chosen by both.
pub fn message_callback(key: Key, token: u64, media: &MediaServer) -> Vec<u8> {
    let (client, seq) = key;
    let mark = marker(key);
    let kind = kind_of(key);
    let message = match kind {
        0 => json!({"type": "text", "text": format!("{mark} text")}),
        1 => json!({
            "type": "picture",
            "text": format!("{mark} picture"),
            "media": media.url("/picture.jpg"),
            "thumbnail": media.url("/picture.jpg"),
            "file_name": "photo.jpg",
            "size": PICTURE.len(),
        }),
        2 => json!({
            "type": "file",
            "media": media.url("/invoice.pdf"),
            "file_name": format!("{mark}.pdf"),
            "size": FILE.len(),
        }),
        3 => json!({
            "type": "sticker",
            "sticker_id": sticker_id(key),
            "media": media.url("/sticker.png"),
        }),
        4 => json!({"type": "contact", "contact": {"name": mark, "phone_number": "+380671234567"}}),
        _ => {
            json!({"type": "location", "location": {"lat": 10.0 + client as f64 / 100.0, "lon": 10.0 + seq as f64 / 100.0}})
        }
    };
    let now = shared::time::Timestamp::now().millis();
    serde_json::to_vec(&json!({
        "event": "message",
        "timestamp": now,
        "chat_hostname": "SN-CALLBACK-04_",
        "message_token": token,
        "sender": {
            "id": user_id(client),
            "name": client_name(client),
            "language": "uk-UA",
            "country": "UA",
            "api_version": 10
        },
        "message": message,
        "silent": false
    }))
    .expect("JSON")
}

/// The type of a message, by number (0 text, 1 picture, 2 file, 3 sticker, 4 contact, 5
/// location). A client's first message is text, as most conversations start.
fn kind_of((client, seq): Key) -> usize {
    if seq == 0 { 0 } else { (client + seq) % 6 }
}

/// Whether the message carries a file the stack copies from Viber (a picture or a file).
pub fn copies_file(key: Key) -> bool {
    matches!(kind_of(key), 1 | 2)
}

/// The media links whose files the stack copies (a sticker is shown by its id).
pub const COPIED_MEDIA: [&str; 2] = ["/picture.jpg", "/invoice.pdf"];

fn sticker_id((client, seq): Key) -> u64 {
    STICKER_BASE + client as u64 * 1_000 + seq as u64
}

pub const PICTURE: &[u8] = b"\xff\xd8\xff\xe0 a small jpeg for the fault run";
pub const FILE: &[u8] = b"%PDF-1.4 a small invoice for the fault run";

/// What the clients' media links serve.
pub fn serve_media(media: &MediaServer) {
    media.serve("/picture.jpg", PICTURE, "image/jpeg");
    media.serve("/invoice.pdf", FILE, "application/pdf");
    media.serve("/sticker.png", &b"\x89PNG sticker"[..], "image/png");
}

/// Which message a stored client comment is, from what the staff API shows of it.
pub fn key_of(comment: &Value) -> Option<Key> {
    let texts = [
        comment["text"].as_str(),
        comment["attachments"][0]["file_name"].as_str(),
        comment["shared_contact"]["name"].as_str(),
    ];
    if let Some(key) = texts.into_iter().flatten().find_map(parse_marker) {
        return Some(key);
    }
    // The staff API shows a sticker id as a string (Viber sends a number).
    let sticker = &comment["sticker_id"];
    let sticker = sticker.as_u64().or_else(|| sticker.as_str()?.parse().ok());
    if let Some(id) = sticker.filter(|id| *id >= STICKER_BASE) {
        let rest = id - STICKER_BASE;
        return Some(((rest / 1_000) as usize, (rest % 1_000) as usize));
    }
    let lat = comment["location"]["lat"].as_f64()?;
    let lon = comment["location"]["lon"].as_f64()?;
    Some((
        ((lat - 10.0) * 100.0).round() as usize,
        ((lon - 10.0) * 100.0).round() as usize,
    ))
}

fn parse_marker(text: &str) -> Option<Key> {
    let start = text.find('[')?;
    let end = start + text[start..].find(']')?;
    let (client, seq) = text[start + 1..end].split_once('.')?;
    Some((client.parse().ok()?, seq.parse().ok()?))
}

/// What the clients posted.
#[derive(Default)]
pub struct Posted {
    /// Messages the stack answered 200 for (at least once), by client, in sending order.
    pub accepted: BTreeMap<usize, Vec<usize>>,
    /// Callbacks posted in all, duplicates and re-sends included.
    pub posts: usize,
    /// Posts that got no 200 (refused, 5xx, no connection) and were sent again.
    pub unanswered: usize,
    /// When the last message was accepted.
    pub last_accepted: Option<Instant>,
}

/// Counts accepted messages across clients, for the run's fault trigger ("half way").
#[derive(Default)]
pub struct Progress {
    pub accepted: AtomicUsize,
}

/// What the clients need to post: the stack's current URL (it changes when the stack is
/// restarted), an HTTP client and the media server their links point to.
#[derive(Clone)]
pub struct Traffic {
    pub base: Arc<RwLock<String>>,
    pub http: reqwest::Client,
    pub media: MediaServer,
}

/// Posts messages `seqs` for each of `clients`, every client concurrently, until each was
/// accepted or `deadline` passed.
pub async fn post_messages(
    traffic: Traffic,
    clients: std::ops::Range<usize>,
    seqs: std::ops::Range<usize>,
    progress: Arc<Progress>,
    deadline: Instant,
) -> Posted {
    let tasks: Vec<_> = clients
        .map(|client| {
            let (traffic, progress, seqs) = (traffic.clone(), progress.clone(), seqs.clone());
            tokio::spawn(async move { (client, one_client(client, seqs, traffic, progress, deadline).await) })
        })
        .collect();
    let mut posted = Posted::default();
    for task in tasks {
        let Ok((client, one)) = task.await else { continue };
        posted.accepted.insert(client, one.accepted);
        posted.posts += one.posts;
        posted.unanswered += one.unanswered;
        posted.last_accepted = posted.last_accepted.max(one.last_accepted);
    }
    posted
}

struct OneClient {
    accepted: Vec<usize>,
    posts: usize,
    unanswered: usize,
    last_accepted: Option<Instant>,
}

async fn one_client(
    client: usize,
    seqs: std::ops::Range<usize>,
    traffic: Traffic,
    progress: Arc<Progress>,
    deadline: Instant,
) -> OneClient {
    let Traffic { base, http, media } = traffic;
    let mut log = OneClient {
        accepted: Vec::new(),
        posts: 0,
        unanswered: 0,
        last_accepted: None,
    };
    for seq in seqs {
        let token = message_token((client, seq));
        let body = message_callback((client, seq), token, &media);
        // Viber's duplicates: the same callback again, a little later, whatever happens.
        let copies = (random_unit() * 3.0) as usize;
        for _ in 0..copies.min(2) {
            let (base, http, body) = (base.clone(), http.clone(), body.clone());
            let delay = Duration::from_millis((random_unit() * 500.0) as u64);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                post(&http, &base, &body).await
            });
            log.posts += 1;
        }
        // Re-sent until acknowledged (Viber re-sends for an hour; the run until its deadline).
        loop {
            log.posts += 1;
            if post(&http, &base, &body).await {
                log.accepted.push(seq);
                log.last_accepted = Some(Instant::now());
                progress.accepted.fetch_add(1, Ordering::Relaxed);
                break;
            }
            log.unanswered += 1;
            if Instant::now() >= deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(100 + (random_unit() * 200.0) as u64)).await;
        }
        tokio::time::sleep(Duration::from_millis((random_unit() * 40.0) as u64)).await;
    }
    log
}

/// Message tokens of the run, unique per client and message.
fn message_token((client, seq): Key) -> u64 {
    7_100_000_000_000_000_000 + client as u64 * 100_000 + seq as u64
}

/// POSTs a signed callback to `/viber/default`: whether the stack answered 200.
async fn post(http: &reqwest::Client, base: &RwLock<String>, body: &[u8]) -> bool {
    let url = format!("{}/viber/default", base.read().unwrap_or_else(|p| p.into_inner()));
    let sent = http
        .post(url)
        .header("X-Viber-Content-Signature", fixtures::sign(DOC_TOKEN, body))
        .body(body.to_vec())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    matches!(sent, Ok(response) if response.status() == 200)
}

/// What the staff API shows of the clients' messages.
#[derive(Default, Debug)]
pub struct Census {
    /// Each client's messages in conversation order (over its tasks, oldest task first).
    pub by_client: HashMap<usize, Vec<usize>>,
    /// The tasks of each client (`task id`s), oldest first.
    pub tasks: HashMap<usize, Vec<String>>,
    /// The clients' files as the staff API shows them.
    pub files: Files,
}

/// Client files by state: copied, still being copied, or given up (with another reason).
#[derive(Default, Debug, Clone, Copy)]
pub struct Files {
    pub copied: usize,
    pub copying: usize,
    pub given_up: usize,
}

/// The reason an attachment shows while the media worker copies it.
const BEING_COPIED: &str = "The file is being copied from Viber.";

/// Reads every task of the run's clients and their client comments; `None` if the API did not
/// answer (the stack is restarting or the AWS endpoint is cut).
pub async fn census(world: &World) -> Option<Census> {
    let mut tasks = world.list_all("/api/tasks").await?;
    tasks.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
    let mut census = Census::default();
    for task in tasks {
        let Some(client) = task["requester_name"]
            .as_str()
            .and_then(|name| name.strip_prefix("Fault client "))
            .and_then(|k| k.parse::<usize>().ok())
        else {
            continue;
        };
        let id = task["id"].as_str().unwrap_or_default().to_owned();
        let comments = world.list_all(&format!("/api/tasks/{id}/comments")).await?;
        let seqs = census.by_client.entry(client).or_default();
        for comment in comments.iter().filter(|c| c["author"]["type"] == "contact") {
            if let Some((from, seq)) = key_of(comment)
                && from == client
            {
                seqs.push(seq);
            }
            for file in comment["attachments"].as_array().into_iter().flatten() {
                if file["available"] == true {
                    census.files.copied += 1;
                } else if file["unavailable_reason"] == BEING_COPIED {
                    census.files.copying += 1;
                } else {
                    census.files.given_up += 1;
                }
            }
        }
        census.tasks.entry(client).or_default().push(id);
    }
    Some(census)
}

/// The census held against what was accepted.
#[derive(Default, Debug, Clone)]
pub struct Tally {
    pub accepted: usize,
    pub stored: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// Clients whose messages are not in the order they sent them.
    pub out_of_order: usize,
    /// Clients without a task at all.
    pub without_task: usize,
    /// Clients with at least one message lost.
    pub incomplete: usize,
    /// The first few lost messages, to look for in the stack's log.
    pub lost_examples: Vec<Key>,
}

pub fn tally(posted: &BTreeMap<usize, Vec<usize>>, census: &Census) -> Tally {
    let mut tally = Tally::default();
    for (client, accepted) in posted {
        tally.accepted += accepted.len();
        let stored = census.by_client.get(client).map(Vec::as_slice).unwrap_or_default();
        if !census.tasks.contains_key(client) {
            tally.without_task += 1;
        }
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for seq in stored {
            *counts.entry(*seq).or_default() += 1;
        }
        if accepted.iter().any(|seq| !counts.contains_key(seq)) {
            tally.incomplete += 1;
        }
        for seq in accepted {
            match counts.get(seq) {
                Some(n) => {
                    tally.stored += 1;
                    tally.duplicated += n - 1;
                }
                None => {
                    tally.lost += 1;
                    if tally.lost_examples.len() < 5 {
                        tally.lost_examples.push((*client, *seq));
                    }
                }
            }
        }
        // Order: the first copy of each message, as sent (a client's sequence numbers rise).
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<usize> = stored.iter().copied().filter(|seq| seen.insert(*seq)).collect();
        if firsts.windows(2).any(|pair| pair[0] > pair[1]) {
            tally.out_of_order += 1;
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_message_type_is_recognised_from_what_the_api_shows() {
        let media = MediaServer::start().await;
        for seq in 0..12 {
            let key = (7, seq);
            let callback: Value = serde_json::from_slice(&message_callback(key, 1, &media)).unwrap();
            let message = &callback["message"];
            // The comment as the staff API shows each type (docs/staff-api.md, comment).
            let comment = json!({
                "text": message["text"],
                "attachments": if message["type"] == "file" { json!([{"file_name": message["file_name"]}]) } else { json!([]) },
                "shared_contact": message["contact"],
                "sticker_id": message["sticker_id"].as_u64().map(|id| id.to_string()),
                "location": message["location"],
            });
            assert_eq!(key_of(&comment), Some(key), "{message}");
        }
    }

    #[test]
    fn the_tally_counts_lost_duplicated_and_out_of_order_messages() {
        let posted = BTreeMap::from([(1, vec![0, 1, 2]), (2, vec![0, 1]), (3, vec![0])]);
        let census = Census {
            by_client: HashMap::from([(1, vec![0, 1, 1, 2]), (2, vec![1, 0])]),
            tasks: HashMap::from([(1, vec!["t1".into()]), (2, vec!["t2".into()])]),
            files: Files::default(),
        };
        let tally = tally(&posted, &census);
        assert_eq!(
            (
                tally.accepted,
                tally.stored,
                tally.lost,
                tally.duplicated,
                tally.out_of_order,
                tally.without_task
            ),
            (6, 5, 1, 1, 1, 1)
        );
    }
}
