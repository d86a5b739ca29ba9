//! The six fault scenarios, each on a world of its own (fresh table, queues and bucket, a fresh
//! stack), each giving one row of the table.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use testkit::fake_viber::Answer;
use testkit::media_server::MediaReply;

use super::ingest::{self, Progress, Tally};
use super::replies::{self, Doubles, Reply};
use super::stack::{Setup, World};
use crate::Error;

/// How often the census is taken while waiting.
const POLL: Duration = Duration::from_millis(500);
/// Before a crash or a cut, how far back an answer Viber gave may not have been recorded yet.
const ANSWER_IN_FLIGHT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Ingest,
    Replies,
    Storm,
    Outage,
    Receipts,
    MediaStorm,
}

pub const ALL: [Scenario; 6] = [
    Scenario::Ingest,
    Scenario::Replies,
    Scenario::Storm,
    Scenario::Outage,
    Scenario::Receipts,
    Scenario::MediaStorm,
];

/// The sizes and durations of a run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub clients: usize,
    pub messages: usize,
    /// How long the run waits for everything to be stored or sent, per scenario, from the fault.
    pub timeout: Duration,
    pub storm: Duration,
    pub outage: Duration,
}

/// One scenario's line of the table.
#[derive(Debug, Default, Clone)]
pub struct Row {
    pub name: &'static str,
    pub accepted: usize,
    pub stored: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub out_of_order: usize,
    pub doubles: Doubles,
    pub replies_failed: usize,
    /// From the fault until everything accepted was stored or sent (`None`: not within the timeout).
    pub settled: Option<Duration>,
    pub note: String,
}

impl Row {
    pub fn broken(&self) -> bool {
        self.lost > 0 || self.duplicated > 0 || self.out_of_order > 0 || self.doubles.unexplained > 0
    }
}

pub async fn run(scenario: Scenario, setup: &Setup, plan: &Plan) -> Result<Row, Error> {
    let mut world = World::start(setup).await?;
    ingest::serve_media(&world.media);
    let mut row = match scenario {
        Scenario::Ingest => crash_mid_ingest(&mut world, plan).await,
        Scenario::Replies => crash_mid_replies(&mut world, plan).await,
        Scenario::Storm => viber_storm(&world, plan).await,
        Scenario::Outage => aws_outage(&world, plan).await,
        Scenario::Receipts => receipts(&world, plan).await,
        Scenario::MediaStorm => media_storm(&world, plan).await,
    }?;
    // Tells a backlog still being worked through from batches stuck in flight.
    row.note = format!("{}; queues at the end: {}", row.note, world.queue_depths().await);
    Ok(row)
}

/// Scenario 1: N clients × M messages, each posted up to 3 times; SIGKILL half way, restart at once.
async fn crash_mid_ingest(world: &mut World, plan: &Plan) -> Result<Row, Error> {
    let total = plan.clients * plan.messages;
    let progress = Arc::new(Progress::default());
    let posting_deadline = Instant::now() + plan.timeout + Duration::from_secs(30);
    let posting = tokio::spawn(ingest::post_messages(
        world.traffic(),
        0..plan.clients,
        0..plan.messages,
        progress.clone(),
        posting_deadline,
    ));
    while progress.accepted.load(Ordering::Relaxed) < total.div_ceil(2) && !posting.is_finished() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed_at = Instant::now();
    let restart = world.crash_and_restart().await;
    let posted = posting.await?;
    let (tally, settled) = wait_for_messages(world, &posted.accepted, killed_at, plan.timeout).await;
    Ok(Row {
        name: "ingest, SIGKILL half way",
        accepted: tally.accepted,
        stored: tally.stored,
        lost: tally.lost,
        duplicated: tally.duplicated,
        out_of_order: tally.out_of_order,
        settled,
        note: format!(
            "{} posts ({} unanswered, re-sent), restart {:.1} s; {} clients incomplete, {} without a task; lost e.g. {}",
            posted.posts,
            posted.unanswered,
            restart.as_secs_f64(),
            tally.incomplete,
            tally.without_task,
            examples(&tally.lost_examples)
        ),
        ..Row::default()
    })
}

/// `[client.seq]` of some lost messages, as their markers read.
fn examples(keys: &[ingest::Key]) -> String {
    if keys.is_empty() {
        return "none".to_owned();
    }
    keys.iter()
        .map(|(client, seq)| format!("[{client}.{seq}]"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads `read` every [`POLL`] until `done` holds for what it read, or `timeout` after `since`:
/// the last reading (`initial` while nothing answered), and when `done` first held (counted
/// from `since`).
async fn poll_until<T, Fut>(
    since: Instant,
    timeout: Duration,
    initial: T,
    read: impl Fn() -> Fut,
    done: impl Fn(&T) -> bool,
) -> (T, Option<Duration>)
where
    Fut: std::future::Future<Output = Option<T>>,
{
    let mut last = initial;
    loop {
        if let Some(reading) = read().await {
            last = reading;
            if done(&last) {
                return (last, Some(since.elapsed()));
            }
        }
        if since.elapsed() >= timeout {
            return (last, None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Every accepted message lost until the census finds it.
fn none_stored(accepted: &BTreeMap<usize, Vec<usize>>) -> Tally {
    let count = accepted.values().map(Vec::len).sum();
    Tally {
        lost: count,
        accepted: count,
        ..Tally::default()
    }
}

/// Takes the census until every accepted message is stored or `timeout` after `since` passed:
/// the last tally, and when it was complete (counted from `since`).
async fn wait_for_messages(
    world: &World,
    accepted: &BTreeMap<usize, Vec<usize>>,
    since: Instant,
    timeout: Duration,
) -> (Tally, Option<Duration>) {
    let read = || async { Some(ingest::tally(accepted, &ingest::census(world).await?)) };
    poll_until(since, timeout, none_stored(accepted), read, |tally| tally.lost == 0).await
}

/// Waits until no reply is `queued` any more, or `timeout` after `since`: the statuses last
/// read and when none was queued.
async fn wait_for_replies(
    world: &World,
    replies: &[Reply],
    since: Instant,
    timeout: Duration,
) -> (replies::ReplyTally, Option<Duration>) {
    let initial = replies::ReplyTally {
        queued: replies.len(),
        ..Default::default()
    };
    let read = || async { Some(replies::reply_tally(replies, &replies::statuses(world, replies).await?)) };
    poll_until(since, timeout, initial, read, |tally| tally.queued == 0).await
}

/// Replies whose parts did not all reach Viber although the comment says sent: expected parts
/// (one, or two for a long reply) against the distinct parts accepted.
fn replies_missing_parts(
    replies: &[Reply],
    parts: &HashMap<(usize, String), Vec<testkit::fake_viber::Accepted>>,
    sent: &HashMap<String, serde_json::Value>,
) -> usize {
    replies
        .iter()
        .filter(|reply| {
            let status = sent
                .get(&reply.comment_id)
                .and_then(|c| c["status"].as_str())
                .unwrap_or("queued");
            replies::rank(status) >= 2
        })
        .filter(|reply| {
            let distinct = parts.keys().filter(|(index, _)| *index == reply.index).count();
            distinct < replies::expected_parts(reply.index)
        })
        .count()
}

/// The row of a scenario about replies, from the replies, Viber's accepted messages and the
/// windows in which an answer could be lost.
async fn reply_row(
    world: &World,
    name: &'static str,
    replies: &[Reply],
    tally: replies::ReplyTally,
    settled: Option<Duration>,
    loss_windows: &[(Instant, Instant)],
) -> Row {
    let statuses = replies::statuses(world, replies).await.unwrap_or_default();
    // A reply stored twice: the staff's post was retried after an answer that was not 202
    // although the first post had been taken. Its parts go out twice as two replies; they are
    // counted here, not as the sender's double sends.
    let mut comments_per_reply: HashMap<usize, usize> = HashMap::new();
    for comment in statuses.values() {
        if let Some(index) = comment["text"].as_str().and_then(replies::reply_index) {
            *comments_per_reply.entry(index).or_default() += 1;
        }
    }
    let stored_twice: usize = comments_per_reply.values().map(|n| n - 1).sum();
    let parts = replies::parts(&world.viber.accepted());
    let missing = replies_missing_parts(replies, &parts, &statuses);
    let mut sent_once = parts.clone();
    sent_once.retain(|(index, _), _| comments_per_reply.get(index).is_none_or(|n| *n == 1));
    let doubles = replies::doubles(&sent_once, loss_windows);
    Row {
        name,
        accepted: replies.len(),
        stored: tally.sent,
        lost: tally.queued + missing,
        doubles,
        duplicated: doubles.unexplained + stored_twice,
        replies_failed: tally.failed,
        settled,
        note: format!(
            "{} parts accepted by Viber ({} distinct); {} sent replies missing a part; {} replies stored twice",
            parts.values().map(Vec::len).sum::<usize>(),
            parts.len(),
            missing,
            stored_twice
        ),
        ..Row::default()
    }
}

/// Scenario 2: One reply per client (every third one in two parts); SIGKILL while they are being sent.
async fn crash_mid_replies(world: &mut World, plan: &Plan) -> Result<Row, Error> {
    let setup_deadline = Instant::now() + plan.timeout;
    let Some(tasks) = replies::open_tasks(world, 0..plan.clients, setup_deadline).await else {
        return Err("the clients' tasks did not all appear before the timeout (before any fault)".into());
    };
    // Viber answers a little slowly, so that sends are in flight when the stack dies.
    for _ in 0..2 * tasks.len() {
        world
            .viber
            .script("send_message", Answer::Delay(Duration::from_millis(20)));
    }
    let (replies, _) = replies::post_replies(world, &tasks, 0, Instant::now() + plan.timeout).await;
    let expected: usize = replies.iter().map(|r| replies::expected_parts(r.index)).sum();
    let started = Instant::now();
    while world.viber.accepted().len() < expected.div_ceil(3) && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let killed_at = Instant::now();
    let sent_before = world.viber.accepted().len();
    let restart = world.crash_and_restart().await;
    world.viber.clear_script();
    let (tally, settled) = wait_for_replies(world, &replies, killed_at, plan.timeout).await;
    let window = [(killed_at - ANSWER_IN_FLIGHT, killed_at)];
    let mut row = reply_row(world, "replies, SIGKILL mid-send", &replies, tally, settled, &window).await;
    row.note = format!(
        "killed after {sent_before} of {expected} parts, restart {:.1} s; {}",
        restart.as_secs_f64(),
        row.note
    );
    Ok(row)
}

/// Scenario 3: Viber answers 500, status 12, 503 to most sends and drops connections for a while.
async fn viber_storm(world: &World, plan: &Plan) -> Result<Row, Error> {
    let Some(tasks) = replies::open_tasks(world, 0..plan.clients, Instant::now() + plan.timeout).await else {
        return Err("the clients' tasks did not all appear before the timeout (before any fault)".into());
    };
    let storm = [
        Answer::Http(500),
        Answer::Status(12, "tooManyRequests"),
        Answer::Http(503),
        Answer::Delay(Duration::ZERO),
    ];
    for answer in storm.iter().cycle().take(6 * tasks.len()) {
        world.viber.script("send_message", answer.clone());
    }
    let storm_started = Instant::now();
    let (replies, _) = replies::post_replies(world, &tasks, 0, storm_started + plan.timeout).await;
    // Dropped connections: the link to Viber is cut every other second while the storm lasts.
    let mut loss_windows = Vec::new();
    while storm_started.elapsed() < plan.storm {
        let remaining = plan.storm.saturating_sub(storm_started.elapsed());
        tokio::time::sleep(remaining.min(Duration::from_secs(1))).await;
        let remaining = plan.storm.saturating_sub(storm_started.elapsed());
        if remaining.is_zero() {
            break;
        }
        let cut_at = Instant::now();
        world.viber_link.cut();
        tokio::time::sleep(remaining.min(Duration::from_secs(1))).await;
        world.viber_link.restore();
        loss_windows.push((cut_at - ANSWER_IN_FLIGHT, Instant::now()));
    }
    tokio::time::sleep(plan.storm.saturating_sub(storm_started.elapsed())).await;
    world.viber.clear_script();
    let healthy_at = Instant::now();
    let (tally, settled) = wait_for_replies(world, &replies, storm_started, plan.timeout + plan.storm).await;
    let mut row = reply_row(world, "replies, Viber storm", &replies, tally, settled, &loss_windows).await;
    row.note = format!(
        "storm {:.0} s (500 / status 12 / 503 on 3 sends in 4, link cut every other second, {} times), healthy after {:.1} s; {}",
        plan.storm.as_secs_f64(),
        loss_windows.len(),
        healthy_at.duration_since(storm_started).as_secs_f64(),
        row.note
    );
    Ok(row)
}

/// Scenario 6: Viber's media server answers 503 to every download for `--storm` seconds (from
/// the first) while the clients write (pictures and files among their messages): the media
/// queue's storm. Every
/// message is stored at once, its file shown as being copied; every file must be copied once
/// the server is healthy, none given up.
async fn media_storm(world: &World, plan: &Plan) -> Result<Row, Error> {
    for path in ingest::COPIED_MEDIA {
        world.media.route(path, MediaReply::Status(503));
    }
    let storm_started = Instant::now();
    let posting = tokio::spawn(ingest::post_messages(
        world.traffic(),
        0..plan.clients,
        0..plan.messages,
        Arc::new(Progress::default()),
        storm_started + plan.timeout,
    ));
    // The storm lasts `--storm` from the first download it refuses: on a slow machine the
    // first copy may start only seconds after the first post.
    let downloads = || -> usize { ingest::COPIED_MEDIA.iter().map(|path| world.media.hits(path)).sum() };
    while downloads() == 0 && storm_started.elapsed() < plan.timeout {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(plan.storm).await;
    let refused = downloads();
    ingest::serve_media(&world.media);
    let healthy_after = storm_started.elapsed();
    let posted = posting.await?;
    let files: usize = posted
        .accepted
        .iter()
        .map(|(client, seqs)| seqs.iter().filter(|seq| ingest::copies_file((*client, **seq))).count())
        .sum();
    // One census per round answers both: every message stored, and every file copied or given up.
    let read = || async {
        let census = ingest::census(world).await?;
        Some((ingest::tally(&posted.accepted, &census), census.files))
    };
    let initial = (none_stored(&posted.accepted), ingest::Files::default());
    let ((tally, last), settled) = poll_until(
        storm_started,
        plan.timeout + plan.storm,
        initial,
        read,
        |(tally, copies)| tally.lost == 0 && copies.copying == 0 && copies.copied + copies.given_up >= files,
    )
    .await;
    let not_copied = files.saturating_sub(last.copied);
    Ok(Row {
        name: "files, Viber media storm",
        accepted: tally.accepted,
        stored: tally.stored,
        lost: tally.lost + not_copied,
        duplicated: tally.duplicated,
        out_of_order: tally.out_of_order,
        replies_failed: last.given_up,
        settled,
        note: format!(
            "media answering 503 for {:.0} s from the first download ({} downloads refused), healthy {:.1} s after the first post; {} messages, {} with a file: {} copied, {} still being copied, {} given up (the \"replies failed\" column); lost e.g. {}",
            plan.storm.as_secs_f64(),
            refused,
            healthy_after.as_secs_f64(),
            tally.accepted,
            files,
            last.copied,
            last.copying,
            last.given_up,
            examples(&tally.lost_examples)
        ),
        ..Row::default()
    })
}

/// Scenario 4: The AWS endpoint unreachable for a while, mid-ingest, with staff replying meanwhile.
async fn aws_outage(world: &World, plan: &Plan) -> Result<Row, Error> {
    let Some(tasks) = replies::open_tasks(world, 0..plan.clients, Instant::now() + plan.timeout).await else {
        return Err("the clients' tasks did not all appear before the timeout (before any fault)".into());
    };
    let total = plan.clients * plan.messages.saturating_sub(1);
    let progress = Arc::new(Progress::default());
    let posting = tokio::spawn(ingest::post_messages(
        world.traffic(),
        0..plan.clients,
        1..plan.messages,
        progress.clone(),
        Instant::now() + plan.outage + plan.timeout + Duration::from_secs(30),
    ));
    while progress.accepted.load(Ordering::Relaxed) < total.div_ceil(2) && !posting.is_finished() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cut_at = Instant::now();
    world.aws.cut();
    let outage = async {
        tokio::time::sleep(plan.outage).await;
        world.aws.restore();
    };
    let replying = replies::post_replies(world, &tasks, 0, cut_at + plan.outage + plan.timeout);
    let ((replies, refused), ()) = tokio::join!(replying, outage);
    let posted = posting.await?;
    let mut accepted = posted.accepted.clone();
    for seqs in accepted.values_mut() {
        seqs.insert(0, 0);
    }
    let (messages, messages_settled) = wait_for_messages(world, &accepted, cut_at, plan.outage + plan.timeout).await;
    let (reply_tally, replies_settled) = wait_for_replies(world, &replies, cut_at, plan.outage + plan.timeout).await;
    // The link to Viber stays up while AWS is cut: no answer of Viber's can be lost, so a part
    // sent twice here is a real duplicate (say, a token the sender could not record).
    let reply_row = reply_row(world, "", &replies, reply_tally, replies_settled, &[]).await;
    Ok(Row {
        name: "AWS endpoint cut",
        accepted: messages.accepted + reply_row.accepted,
        stored: messages.stored + reply_row.stored,
        lost: messages.lost + reply_row.lost,
        duplicated: messages.duplicated + reply_row.duplicated,
        out_of_order: messages.out_of_order,
        doubles: reply_row.doubles,
        replies_failed: reply_row.replies_failed,
        settled: messages_settled.zip(replies_settled).map(|(a, b)| a.max(b)),
        note: format!(
            "cut {:.0} s; {} messages + {} replies; {} callbacks and {} reply posts unanswered (re-sent; {} replies found by their Idempotency-Key, their first post stored though unanswered); {} clients incomplete, messages lost e.g. {}; {}",
            plan.outage.as_secs_f64(),
            messages.accepted,
            reply_row.accepted,
            posted.unanswered,
            refused,
            replies.iter().filter(|reply| reply.replayed).count(),
            messages.incomplete,
            examples(&messages.lost_examples),
            reply_row.note
        ),
    })
}

/// Scenario 5: `delivered` and `seen` for every part of every reply, each 1 to 3 times, in random
/// order: every reply must end `seen`, and no status may move backwards on the way.
async fn receipts(world: &World, plan: &Plan) -> Result<Row, Error> {
    let Some(tasks) = replies::open_tasks(world, 0..plan.clients, Instant::now() + plan.timeout).await else {
        return Err("the clients' tasks did not all appear before the timeout (before any fault)".into());
    };
    let (replies, _) = replies::post_replies(world, &tasks, 0, Instant::now() + plan.timeout).await;
    let (sent, _) = wait_for_replies(world, &replies, Instant::now(), plan.timeout).await;
    if sent.sent < replies.len() {
        return Err(format!(
            "only {} of {} replies were sent before the receipts (before any fault)",
            sent.sent,
            replies.len()
        )
        .into());
    }
    let parts = replies::parts(&world.viber.accepted());
    let mut receipts = Vec::new();
    for copies in parts.values() {
        let message = &copies[0];
        let user = replies::receiver(message);
        for event in ["delivered", "seen"] {
            receipts.push(replies::receipt(event, message.token, &user));
        }
    }
    let started = Instant::now();
    let count = receipts.len();
    let mut highest: HashMap<String, u8> = HashMap::new();
    let mut backwards = std::collections::HashSet::new();
    let posting = replies::post_receipts(world, receipts, started + plan.timeout);
    let watching = async {
        // Reads the statuses while the receipts land; stops once all are seen or at the timeout.
        loop {
            if let Some(statuses) = replies::statuses(world, &replies).await {
                let mut all_seen = true;
                for reply in &replies {
                    let rank = statuses
                        .get(&reply.comment_id)
                        .and_then(|c| c["status"].as_str())
                        .map_or(0, replies::rank);
                    let best = highest.entry(reply.comment_id.clone()).or_default();
                    if rank < *best {
                        backwards.insert(reply.comment_id.clone());
                    }
                    *best = (*best).max(rank);
                    all_seen &= rank == replies::rank("seen");
                }
                if all_seen {
                    return Some(started.elapsed());
                }
            }
            if started.elapsed() >= plan.timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (accepted_receipts, settled) = tokio::join!(posting, watching);
    let at_seen = highest.values().filter(|rank| **rank == replies::rank("seen")).count();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for comment in replies::statuses(world, &replies).await.unwrap_or_default().values() {
        *by_status
            .entry(comment["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    Ok(Row {
        name: "receipts, duplicated + shuffled",
        accepted: replies.len(),
        stored: at_seen,
        lost: replies.len() - at_seen,
        out_of_order: backwards.len(),
        settled,
        note: format!(
            "{count} receipts ({accepted_receipts} accepted, each posted 1-3 times) for {} parts; replies now {by_status:?}; stored = replies at seen, out of order = replies whose status moved backwards",
            parts.len()
        ),
        ..Row::default()
    })
}
