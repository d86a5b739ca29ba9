//! Where the workspace and its build output are, and running cargo in it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// The workspace root: this crate lives in `<root>/bench`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

/// cargo's target directory, honouring `CARGO_TARGET_DIR` as cargo does.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// A `cargo` command in the workspace root. Under `cargo run`, `CARGO` names the very cargo that
/// built this binary, so the nested build uses the same toolchain.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs a command to completion with its output passed through (builds take minutes: show
/// progress), failing on a non-zero exit.
pub fn run_to_completion(command: &mut Command) -> Result<(), Error> {
    let status = command
        .status()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed ({status})", command.get_program()).into())
    }
}

/// `PATH` with `dir` in front.
pub fn path_with_first(dir: &Path) -> Result<OsString, Error> {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest));
    Ok(std::env::join_paths(dirs)?)
}

/// Builds the webhook for the host with the workspace's release profile and returns the binary.
pub fn build_host_webhook() -> Result<PathBuf, Error> {
    println!("building the webhook for the host: cargo build --release -p webhook");
    run_to_completion(cargo().args(["build", "--release", "-p", "webhook"]))?;
    Ok(target_dir().join("release").join("webhook"))
}
