//! The `viberdesk-local` binary this package builds, for `testkit::local` (a package's binaries
//! are known to its own tests only).

use testkit::local::LocalBinary;

pub const LOCAL: LocalBinary = LocalBinary(env!("CARGO_BIN_EXE_viberdesk-local-e2e"));
