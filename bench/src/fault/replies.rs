//! Staff replies and what reached the fake Viber: each reply's text carries its marker in every
//! part (a long reply is split into several Viber messages), so each accepted message is
//! attributed to its reply and part; a part Viber accepted twice is a double send. Delivery
//! receipts for the parts, duplicated and shuffled, and the replies' statuses they lead to.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use shared::retry::random_unit;
use testkit::fake_viber::Accepted;
use testkit::fixtures::{self, DOC_TOKEN};

use super::ingest;
use super::stack::World;

/// A reply the API took: the task, the comment id, and its marker.
#[derive(Debug, Clone)]
pub struct Reply {
    pub index: usize,
    pub task_id: String,
    pub comment_id: String,
    /// Answered `Idempotent-Replayed`: an earlier post of it had landed although its answer was
    /// lost, and the retry found it instead of storing it again.
    pub replayed: bool,
}

/// Every third reply is long enough to go as two Viber messages (7,000 characters each at most).
pub fn expected_parts(index: usize) -> usize {
    if index % 3 == 2 { 2 } else { 1 }
}

fn reply_text(index: usize) -> String {
    let word = format!("<r{index}> ");
    let length = if expected_parts(index) == 2 { 9_000 } else { 60 };
    word.repeat(length / word.len())
}

/// The reply a comment's or a part's text belongs to.
pub fn reply_index(text: &str) -> Option<usize> {
    let start = text.find("<r")?;
    let end = start + text[start..].find('>')?;
    text[start + 2..end].parse().ok()
}

/// Each client (of `clients`) sends one text message; waits until every one has its task: the
/// client's task ids, or `None` if not all appeared before `deadline`.
pub async fn open_tasks(
    world: &World,
    clients: std::ops::Range<usize>,
    deadline: Instant,
) -> Option<Vec<(usize, String)>> {
    let progress = Default::default();
    let posted = ingest::post_messages(world.traffic(), clients.clone(), 0..1, progress, deadline).await;
    if posted.accepted.values().any(Vec::is_empty) {
        return None;
    }
    loop {
        if let Some(census) = ingest::census(world).await {
            let tasks: Vec<(usize, String)> = clients
                .clone()
                .filter_map(|client| Some((client, census.tasks.get(&client)?.first()?.clone())))
                .collect();
            if tasks.len() == clients.len() {
                return Some(tasks);
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Posts one reply (notifying the client) to each task, all at once; a post the API does not
/// answer 202 is tried again under the same `Idempotency-Key` (the web inbox sending a reply
/// again) until `deadline`. The replies the API took, and how many answers were not 202.
pub async fn post_replies(
    world: &World,
    tasks: &[(usize, String)],
    first_index: usize,
    deadline: Instant,
) -> (Vec<Reply>, usize) {
    let posts = tasks.iter().enumerate().map(|(i, (_, task_id))| {
        let index = first_index + i;
        async move {
            let mut refused = 0;
            let key = shared::ids::new_id();
            loop {
                let body = json!({"text": reply_text(index), "notify_client": true});
                let answer = world
                    .call_keyed(
                        Method::POST,
                        &format!("/api/tasks/{task_id}/comments"),
                        Some(body),
                        Some(&key),
                    )
                    .await;
                if let Some((202, queued, replayed)) = &answer {
                    let comment_id = queued["id"].as_str().unwrap_or_default().to_owned();
                    return (
                        Some(Reply {
                            index,
                            task_id: task_id.clone(),
                            comment_id,
                            replayed: *replayed,
                        }),
                        refused,
                    );
                }
                refused += 1;
                if Instant::now() >= deadline {
                    return (None, refused);
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    });
    let mut replies = Vec::new();
    let mut refused = 0;
    for (reply, count) in futures::future::join_all(posts).await {
        replies.extend(reply);
        refused += count;
    }
    (replies, refused)
}

/// The replies' comments as the staff API shows them now (`None` if it did not answer), by id.
pub async fn statuses(world: &World, replies: &[Reply]) -> Option<HashMap<String, Value>> {
    let mut found = HashMap::new();
    let mut tasks: Vec<&str> = replies.iter().map(|r| r.task_id.as_str()).collect();
    tasks.sort_unstable();
    tasks.dedup();
    for task in tasks {
        for comment in world.list_all(&format!("/api/tasks/{task}/comments")).await? {
            if comment["author"]["type"] == "staff"
                && let Some(id) = comment["id"].as_str()
            {
                found.insert(id.to_owned(), comment);
            }
        }
    }
    Some(found)
}

/// How far a comment status is along the way (`failed` apart).
pub fn rank(status: &str) -> u8 {
    match status {
        "queued" => 1,
        "sent" => 2,
        "delivered" => 3,
        "seen" => 4,
        _ => 0,
    }
}

/// Where the replies stand: sent (or further), failed, still queued.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplyTally {
    pub sent: usize,
    pub failed: usize,
    pub queued: usize,
}

pub fn reply_tally(replies: &[Reply], statuses: &HashMap<String, Value>) -> ReplyTally {
    let mut tally = ReplyTally::default();
    for reply in replies {
        match statuses.get(&reply.comment_id).and_then(|c| c["status"].as_str()) {
            Some("failed") => tally.failed += 1,
            Some(status) if rank(status) >= 2 => tally.sent += 1,
            _ => tally.queued += 1,
        }
    }
    tally
}

/// The parts Viber accepted, attributed to replies: `(reply index, part text)` → each time it
/// was accepted.
pub fn parts(accepted: &[Accepted]) -> HashMap<(usize, String), Vec<Accepted>> {
    let mut parts: HashMap<(usize, String), Vec<Accepted>> = HashMap::new();
    for message in accepted {
        let text = message.body["text"].as_str().unwrap_or_default();
        if let Some(index) = reply_index(text) {
            parts.entry((index, text.to_owned())).or_default().push(message.clone());
        }
    }
    parts
}

/// Parts sent twice, and why.
#[derive(Debug, Default, Clone, Copy)]
pub struct Doubles {
    /// Whose first copy Viber accepted while the answer could be lost: just before the stack was
    /// killed, or while the link to Viber was being cut. The sender records a part's token as
    /// soon as Viber answers, so only such a part may go again (docs/outbox.md).
    pub answer_lost: usize,
    /// Any other: a real duplicate.
    pub unexplained: usize,
}

/// Classifies every extra copy of a part by the windows in which an answer could be lost.
pub fn doubles(parts: &HashMap<(usize, String), Vec<Accepted>>, loss_windows: &[(Instant, Instant)]) -> Doubles {
    let mut doubles = Doubles::default();
    for copies in parts.values() {
        for pair in copies.windows(2) {
            let first = pair[0].at;
            if loss_windows.iter().any(|(from, to)| (*from..=*to).contains(&first)) {
                doubles.answer_lost += 1;
            } else {
                doubles.unexplained += 1;
            }
        }
    }
    doubles
}

/// A `delivered` or `seen` callback for a message the bot sent to `user`.
pub fn receipt(event: &str, token: u64, user: &str) -> Vec<u8> {
    let now = shared::time::Timestamp::now().millis();
    format!(
        r#"{{"event":"{event}","timestamp":{now},"chat_hostname":"SN-CHAT-02_","message_token":{token},"user_id":"{user}"}}"#
    )
    .into_bytes()
}

/// Posts every receipt in `receipts` 1 to 3 times, all concurrently, each copy after a random
/// delay (so `seen` often arrives before `delivered`), each until answered 200 or `deadline`:
/// how many were accepted.
pub async fn post_receipts(world: &World, receipts: Vec<Vec<u8>>, deadline: Instant) -> usize {
    let posts = receipts.into_iter().flat_map(|body| {
        let copies = 1 + (random_unit() * 3.0) as usize;
        (0..copies.min(3)).map(move |copy| (copy, body.clone()))
    });
    let posts = posts.map(|(copy, body)| async move {
        tokio::time::sleep(Duration::from_millis((random_unit() * 800.0) as u64)).await;
        loop {
            let sent = world
                .http
                .post(world.url("/viber/default"))
                .header("X-Viber-Content-Signature", fixtures::sign(DOC_TOKEN, &body))
                .body(body.clone())
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            if matches!(&sent, Ok(response) if response.status() == 200) {
                return usize::from(copy == 0);
            }
            if Instant::now() >= deadline {
                return 0;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    futures::future::join_all(posts).await.into_iter().sum()
}

/// The client (Viber user) a reply's parts went to.
pub fn receiver(message: &Accepted) -> String {
    message.body["receiver"].as_str().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_a_long_reply_names_its_reply() {
        let text = reply_text(5);
        assert!(text.chars().count() > 7_000, "two Viber messages");
        for part in [&text[..7_000], &text[7_000..]] {
            assert_eq!(reply_index(part), Some(5));
        }
        assert_eq!(reply_index(&reply_text(12)), Some(12));
    }

    #[test]
    fn a_double_send_is_explained_only_inside_a_window_where_an_answer_could_be_lost() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let copy = |ms: u64| Accepted {
            token: ms,
            body: Value::Null,
            at: at(ms),
        };
        let parts = HashMap::from([
            ((1, "a".to_owned()), vec![copy(100), copy(900)]),
            ((2, "b".to_owned()), vec![copy(2_000), copy(2_500)]),
            ((3, "c".to_owned()), vec![copy(3_000)]),
        ]);
        let doubles = doubles(&parts, &[(at(50), at(200))]);
        assert_eq!((doubles.answer_lost, doubles.unexplained), (1, 1));
    }
}
