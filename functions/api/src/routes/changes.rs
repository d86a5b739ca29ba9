//! `GET /api/changes?since=`: the web inbox's live feed. HTTP APIs on API Gateway have no
//! websockets or streaming, so an open inbox polls this every few seconds: one Query of the list
//! of every task by activity (docs/data-model.md, "What the inbox's lists read"), answered 304
//! when nothing changed.
//!
//! | call | answers |
//! | --- | --- |
//! | `GET /api/changes` | `{"items": [], "next_since": "…", "resync": false}`: a starting point |
//! | `GET /api/changes?since={next_since}` | `{"items": [task views], "next_since", "resync"}`, or 304 without a body |
//!
//! Items are tasks with a new client message, or new, since the point (the same views as
//! `GET /api/tasks`, `unread` included), newest first. `resync: true` says more changed than one
//! answer holds: the inbox reloads its lists.
//!
//! A task's activity time is taken just before its write, and the list is read from an index
//! that follows writes by a moment: a change can land with a time a little before the newest one
//! an earlier poll saw. So every poll reads the last [`LATE_WRITE_WINDOW_SECONDS`] again and the
//! point also carries a digest of what it saw there: unchanged → 304; changed → the window's
//! tasks, some of which the inbox may have already (it merges them by id). Nothing is lost, and
//! a quiet inbox gets 304s.

use lambda_http::http::{HeaderMap, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::model::{StaffMember, Task};
use shared::ports::{decode_cursor, encode_cursor, recency_key};
use shared::time::Timestamp;

use crate::Api;
use crate::error::{ApiError, StoreContext};
use crate::query::Params;
use crate::response::ok;
use crate::routes::tasks::TaskView;

/// How far back every poll reads again: longer than a write can land after the time it carries
/// (a transaction, the index catching up: well under a second).
pub const LATE_WRITE_WINDOW_SECONDS: i64 = 10;
/// The most tasks one answer holds; more changed means `resync`.
pub const FEED_LIMIT: usize = 100;

/// Where a poll resumes: every task with activity after `after`, of which those the last answer
/// saw hash to `seen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPoint {
    pub after: String,
    pub seen: u64,
}

impl FeedPoint {
    /// The opaque `since` token: `{hex of after}.{seen, 16 hex digits}`.
    pub fn encode(&self) -> String {
        format!("{}.{:016x}", encode_cursor(&self.after), self.seen)
    }

    /// A token this API handed out; `None` for anything else.
    pub fn decode(token: &str) -> Option<Self> {
        let (after, seen) = token.split_once('.')?;
        if seen.len() != 16 {
            return None;
        }
        Some(Self {
            after: decode_cursor(after).ok()?,
            seen: u64::from_str_radix(seen, 16).ok()?,
        })
    }

    /// The point after an answer holding `tasks` (all the tasks after `self.after`): it moves up
    /// to the start of the late-write window, never back.
    pub fn next(&self, tasks: &[Task], now: Timestamp) -> Self {
        let floor = window_start(now);
        let after = if floor > self.after { floor } else { self.after.clone() };
        let seen = digest(tasks.iter().filter(|task| activity_key(task) > after));
        Self { after, seen }
    }

    /// The point of a feed started now, when these tasks are in the window.
    pub fn start(tasks: &[Task], now: Timestamp) -> Self {
        let after = window_start(now);
        Self {
            seen: digest(tasks.iter().filter(|task| activity_key(task) > after)),
            after,
        }
    }

    /// Whether `tasks` (all the tasks after `self.after`) are what this point saw.
    pub fn unchanged(&self, tasks: &[Task]) -> bool {
        digest(tasks.iter()) == self.seen
    }
}

/// A task's place in the list of every task: its activity time and id.
fn activity_key(task: &Task) -> String {
    recency_key(task.last_message_at, task.id.as_str())
}

/// The key before every activity of the last [`LATE_WRITE_WINDOW_SECONDS`].
fn window_start(now: Timestamp) -> String {
    recency_key(now.plus_seconds(-LATE_WRITE_WINDOW_SECONDS), "")
}

/// A digest of which tasks had which activity, whatever their order.
fn digest<'a>(tasks: impl Iterator<Item = &'a Task>) -> u64 {
    let mut keys: Vec<String> = tasks.map(activity_key).collect();
    keys.sort();
    let hash = Sha256::digest(keys.join("\n").as_bytes());
    u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"))
}

#[derive(Serialize)]
struct FeedView<'a> {
    items: Vec<TaskView<'a>>,
    next_since: String,
    resync: bool,
}

impl Api {
    pub(crate) async fn changes(&self, params: &Params<'_>, caller: &StaffMember) -> Result<Response<Body>, ApiError> {
        let now = Timestamp::now();
        let since = params
            .get("since")?
            .map(|raw| {
                FeedPoint::decode(raw)
                    .ok_or_else(|| ApiError::bad_request("invalid_since", "since: not a point this feed handed out"))
            })
            .transpose()?;
        let after = match &since {
            Some(point) => point.after.clone(),
            None => window_start(now),
        };
        let changed = self
            .store
            .list_changed_tasks(&after, FEED_LIMIT)
            .await
            .context("list changed tasks")?;
        let Some(point) = since else {
            return Ok(ok(&FeedView {
                items: Vec::new(),
                next_since: FeedPoint::start(&changed.tasks, now).encode(),
                resync: false,
            }));
        };
        if !changed.truncated && point.unchanged(&changed.tasks) {
            return Ok(not_modified());
        }
        Ok(ok(&FeedView {
            next_since: point.next(&changed.tasks, now).encode(),
            resync: changed.truncated,
            items: self.task_views(&changed.tasks, caller).await?,
        }))
    }
}

/// 304: nothing changed since the point.
fn not_modified() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let headers: &mut HeaderMap = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, "no-store".parse().expect("a valid header"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ids::{ContactId, IntegrationId, TaskId};
    use shared::model::TaskStatus;

    fn task(id: &str, at_ms: i64) -> Task {
        let at = Timestamp::from_millis(at_ms);
        Task {
            id: TaskId::parse(id).unwrap(),
            integration_id: IntegrationId::parse("acme").unwrap(),
            title: "t".into(),
            description: String::new(),
            status: TaskStatus::New,
            requester_id: ContactId::parse("c").unwrap(),
            assignee_id: None,
            participant_ids: vec![],
            previous_task_id: None,
            created_at: at,
            updated_at: at,
            last_message_at: at,
            deleted: false,
            requester_name: None,
            requester_avatar: None,
            last_message: None,
        }
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_point_round_trips_and_only_its_own_tokens_are_taken() {
        let point = FeedPoint {
            after: recency_key(Timestamp::from_millis(NOW), "t1"),
            seen: 0xdead_beef,
        };
        assert_eq!(FeedPoint::decode(&point.encode()), Some(point));
        for bad in ["", "abc", "zz.0000000000000000", "6162.123", "6162.zzzzzzzzzzzzzzzz"] {
            assert_eq!(FeedPoint::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_quiet_feed_is_unchanged_and_a_new_message_changes_it() {
        let now = Timestamp::from_millis(NOW);
        let window = [task("t1", NOW - 3_000)];
        let start = FeedPoint::start(&window, now);
        assert!(start.unchanged(&window));
        // t1 writes again (a new message), and t2 is new.
        let moved = [task("t1", NOW - 1_000), task("t2", NOW - 500)];
        assert!(!start.unchanged(&moved));
        let next = start.next(&moved, now);
        assert!(next.unchanged(&moved), "the next poll with nothing new is a 304");
    }

    #[test]
    fn a_late_write_inside_the_window_is_not_missed() {
        let now = Timestamp::from_millis(NOW);
        let seen = [task("t2", NOW - 1_000)];
        let point = FeedPoint::start(&seen, now);
        // t1's write carries an earlier time but lands after the poll: still after the point.
        let late = task("t1", NOW - 4_000);
        assert!(activity_key(&late) > point.after);
        assert!(!point.unchanged(&[late, task("t2", NOW - 1_000)]));
    }

    #[test]
    fn the_point_moves_up_with_time_and_never_back() {
        let point = FeedPoint::start(&[], Timestamp::from_millis(NOW));
        let later = point.next(&[], Timestamp::from_millis(NOW + 60_000));
        assert!(later.after > point.after);
        let earlier_clock = later.next(&[], Timestamp::from_millis(NOW));
        assert_eq!(earlier_clock.after, later.after);
        // Tasks that fell out of the window no longer count in what was seen.
        let old = [task("t1", NOW - 3_000)];
        let moved_on = point.next(&old, Timestamp::from_millis(NOW + 60_000));
        assert!(moved_on.unchanged(&[]));
    }
}
