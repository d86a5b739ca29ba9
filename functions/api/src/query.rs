//! Query parameters parsed into typed values at the boundary: a handler gets a `TaskFilter` and a
//! `PageRequest`, or the 400 that explains which parameter is wrong.

use lambda_http::aws_lambda_events::query_map::QueryMap;
use shared::ids::{ContactId, IntegrationId, StaffId};
use shared::model::TaskStatus;
use shared::ports::{PageRequest, TaskFilter, search_text};

use crate::error::ApiError;

/// Cursors are opaque, but none of the stores' is anywhere near this long.
pub const MAX_CURSOR_CHARS: usize = 1024;

/// A query parameter that cannot be used, and why.
fn invalid(parameter: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidParameter(format!("{parameter}: {why}"))
}

/// The request's query parameters. An empty value (`?status=`) counts as absent; a parameter
/// given twice is refused rather than guessed at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<'a>(Option<&'a QueryMap>);

impl<'a> Params<'a> {
    pub fn new(query: Option<&'a QueryMap>) -> Self {
        Self(query)
    }

    pub fn get(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        let values: Vec<&'a str> = self
            .0
            .and_then(|query| query.all(name))
            .unwrap_or_default()
            .into_iter()
            .filter(|value| !value.is_empty())
            .collect();
        match values.as_slice() {
            [] => Ok(None),
            [value] => Ok(Some(value)),
            _ => Err(invalid(name, "given more than once")),
        }
    }
}

/// `?cursor=&limit=`: the limit defaults to 50 and must be 1 to 100.
pub fn page(params: &Params<'_>) -> Result<PageRequest, ApiError> {
    Ok(PageRequest {
        cursor: cursor(params.get("cursor")?)?,
        limit: limit(params.get("limit")?)?,
    })
}

pub fn limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(PageRequest::DEFAULT_LIMIT);
    };
    let range = 1..=PageRequest::MAX_LIMIT;
    match raw.parse::<usize>() {
        Ok(limit) if range.contains(&limit) => Ok(limit),
        _ => Err(invalid(
            "limit",
            format_args!("must be a whole number from 1 to {}", PageRequest::MAX_LIMIT),
        )),
    }
}

pub fn cursor(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw {
        Some(raw) if raw.len() > MAX_CURSOR_CHARS => Err(ApiError::InvalidCursor),
        other => Ok(other.map(str::to_owned)),
    }
}

/// The longest search text (`?q=`), in characters.
pub const MAX_SEARCH_CHARS: usize = 100;

/// `?status=&assignee_id=&unassigned=&integration_id=&q=&requester_id=` of `GET /api/tasks`.
pub fn task_filter(params: &Params<'_>) -> Result<TaskFilter, ApiError> {
    let unassigned = match params.get("unassigned")? {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(invalid("unassigned", "must be true or false")),
    };
    let search = match params.get("q")?.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) if q.chars().count() > MAX_SEARCH_CHARS => {
            return Err(invalid("q", format_args!("must be 1 to {MAX_SEARCH_CHARS} characters")));
        }
        other => other.map(search_text),
    };
    let filter = TaskFilter {
        status: params.get("status")?.map(status).transpose()?,
        assignee_id: params
            .get("assignee_id")?
            .map(|raw| StaffId::parse(raw).map_err(|e| invalid("assignee_id", e)))
            .transpose()?,
        integration_id: params
            .get("integration_id")?
            .map(|raw| IntegrationId::parse(raw).map_err(|e| invalid("integration_id", e)))
            .transpose()?,
        requester_id: params
            .get("requester_id")?
            .map(|raw| ContactId::parse(raw).map_err(|e| invalid("requester_id", e)))
            .transpose()?,
        search,
        unassigned,
    };
    if filter.unassigned && filter.assignee_id.is_some() {
        return Err(invalid("unassigned", "cannot be combined with assignee_id"));
    }
    Ok(filter)
}

pub const TASK_STATUSES: [TaskStatus; 5] = [
    TaskStatus::New,
    TaskStatus::InProgress,
    TaskStatus::Waiting,
    TaskStatus::Completed,
    TaskStatus::Cancelled,
];

pub fn status(raw: &str) -> Result<TaskStatus, ApiError> {
    TASK_STATUSES
        .into_iter()
        .find(|status| status.as_str() == raw)
        .ok_or_else(|| {
            let known: Vec<&str> = TASK_STATUSES.iter().map(|s| s.as_str()).collect();
            invalid("status", format_args!("must be one of {}", known.join(", ")))
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn query(pairs: &[(&str, &str)]) -> QueryMap {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in pairs {
            map.entry((*key).to_owned()).or_default().push((*value).to_owned());
        }
        QueryMap::from(map)
    }

    #[test]
    fn limit_defaults_to_50_and_stays_within_1_to_100() {
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some("1")).unwrap(), 1);
        assert_eq!(limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "1.5", " 5", "99999999999999999999999"] {
            let error = limit(Some(bad)).unwrap_err();
            assert_eq!(error.code(), "invalid_parameter", "{bad}");
            assert!(error.to_string().starts_with("limit:"), "{bad}");
        }
    }

    #[test]
    fn every_task_status_parses_by_its_wire_name() {
        for expected in TASK_STATUSES {
            assert_eq!(status(expected.as_str()).unwrap(), expected);
        }
        let error = status("done").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("new, in_progress, waiting, completed, cancelled")
        );
        assert!(status("New").is_err(), "names are exact");
    }

    #[test]
    fn task_filter_combines_the_given_parameters() {
        let map = query(&[("status", "waiting"), ("assignee_id", "ivan"), ("integration_id", "")]);
        let filter = task_filter(&Params::new(Some(&map))).unwrap();
        assert_eq!(
            filter,
            TaskFilter {
                status: Some(TaskStatus::Waiting),
                assignee_id: Some(StaffId::parse("ivan").unwrap()),
                integration_id: None,
                requester_id: None,
                search: None,
                unassigned: false,
            }
        );
        assert_eq!(task_filter(&Params::new(None)).unwrap(), TaskFilter::default());
    }

    #[test]
    fn task_filter_refuses_bad_ids_and_repeated_parameters() {
        let bad_id = query(&[("assignee_id", "../x")]);
        assert!(
            task_filter(&Params::new(Some(&bad_id)))
                .unwrap_err()
                .to_string()
                .starts_with("assignee_id:")
        );
        let bad_integration = query(&[("integration_id", "a b")]);
        assert!(task_filter(&Params::new(Some(&bad_integration))).is_err());
        let twice = query(&[("status", "new"), ("status", "waiting")]);
        assert!(
            task_filter(&Params::new(Some(&twice)))
                .unwrap_err()
                .to_string()
                .contains("more than once")
        );
    }

    #[test]
    fn the_inbox_filters_parse_and_refuse_what_cannot_be() {
        let map = query(&[("unassigned", "true"), ("q", "  Олена "), ("requester_id", "c1")]);
        let filter = task_filter(&Params::new(Some(&map))).unwrap();
        assert!(filter.unassigned);
        assert_eq!(filter.search.as_deref(), Some("олена"));
        assert_eq!(filter.requester_id, Some(ContactId::parse("c1").unwrap()));
        let blank = query(&[("q", "   "), ("unassigned", "false")]);
        assert_eq!(task_filter(&Params::new(Some(&blank))).unwrap(), TaskFilter::default());
        let refused = |pairs: &[(&str, &str)]| {
            let map = query(pairs);
            task_filter(&Params::new(Some(&map))).unwrap_err().to_string()
        };
        assert!(refused(&[("unassigned", "yes")]).starts_with("unassigned:"));
        assert!(refused(&[("unassigned", "true"), ("assignee_id", "ivan")]).starts_with("unassigned:"));
        assert!(refused(&[("q", &"я".repeat(MAX_SEARCH_CHARS + 1))]).starts_with("q:"));
        assert!(refused(&[("requester_id", "../x")]).starts_with("requester_id:"));
    }

    #[test]
    fn page_reads_cursor_and_limit() {
        let map = query(&[("cursor", "abc123"), ("limit", "7")]);
        assert_eq!(
            page(&Params::new(Some(&map))).unwrap(),
            PageRequest {
                cursor: Some("abc123".into()),
                limit: 7
            }
        );
        assert_eq!(page(&Params::new(None)).unwrap(), PageRequest::first(50));
        let long = "a".repeat(MAX_CURSOR_CHARS + 1);
        let map = query(&[("cursor", &long)]);
        assert_eq!(page(&Params::new(Some(&map))).unwrap_err().code(), "invalid_cursor");
    }
}
