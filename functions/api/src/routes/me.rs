//! `GET /api/me`: the calling staff member, as their bearer token names them.

use lambda_http::{Body, Response};
use shared::model::StaffMember;

use crate::response::ok;
use crate::routes::staff::StaffView;

pub(crate) fn me(caller: &StaffMember) -> Response<Body> {
    ok(&StaffView::from(caller))
}
