//! The webhook's deployment zip, built the way it ships: `cargo lambda build --release --arm64
//! --output-format zip`. Lambda's cold start grows with the package, hence a size target.
//!
//! The target is 3.5 MB. It was 1.5 MB until the AWS SDK the webhook must use (aws-config and the
//! DynamoDB and SQS clients, see bench/README.md) put the honest figure at about 3.1 MB; what the
//! target protects is the cold start, which `webhook-bench serve` measures to the first answer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::Error;
use crate::stats::{BYTES_PER_MB, BYTES_PER_MIB};
use crate::workspace;

const TARGET_MB: f64 = 3.5;
const ARM64_TARGET: &str = "aarch64-unknown-linux-gnu";
/// The venv that holds cargo-lambda and zig (docs: TOOLCHAIN.md), relative to `$HOME`.
const DEFAULT_VENV: &str = ".cache/viberdesk-venv";

#[derive(clap::Args)]
pub struct Options {
    /// Measure this zip instead of building one.
    #[arg(long)]
    zip_path: Option<PathBuf>,
    /// The venv with cargo-lambda and zig [default: $VIBERDESK_VENV or ~/.cache/viberdesk-venv].
    #[arg(long)]
    venv: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq)]
enum Arch {
    Arm64,
    X86_64,
}

impl Arch {
    fn flag(self) -> &'static str {
        match self {
            Arch::Arm64 => "--arm64",
            Arch::X86_64 => "--x86-64",
        }
    }
}

pub fn run(options: &Options) -> Result<(), Error> {
    if let Some(zip) = &options.zip_path {
        return report(zip, "as given");
    }
    let venv = venv(options)?;
    let arch = if arm64_target_installed() {
        Arch::Arm64
    } else {
        println!("NOTE: rust target {ARM64_TARGET} is not installed: measuring an x86_64 build instead");
        println!("      (the shipped zip is arm64; `rustup target add {ARM64_TARGET}` to measure it)");
        Arch::X86_64
    };
    let (zip, built) = match build(&venv, arch) {
        Ok(zip) => (zip, arch),
        Err(error) if arch == Arch::Arm64 => {
            println!("NOTE: the arm64 build failed ({error}): measuring an x86_64 build instead");
            (build(&venv, Arch::X86_64)?, Arch::X86_64)
        }
        Err(error) => return Err(error),
    };
    let label = match built {
        Arch::Arm64 => "arm64",
        Arch::X86_64 => "x86_64 fallback, NOT the shipped arm64 zip",
    };
    report(&zip, label)
}

fn venv(options: &Options) -> Result<PathBuf, Error> {
    let venv = match &options.venv {
        Some(venv) => venv.clone(),
        None => match std::env::var_os("VIBERDESK_VENV") {
            Some(venv) => venv.into(),
            None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?).join(DEFAULT_VENV),
        },
    };
    if !venv.join("bin").join("cargo-lambda").is_file() {
        return Err(format!(
            "no cargo-lambda in {}: `python3 -m venv {0} && {0}/bin/pip install cargo-lambda ziglang`",
            venv.display()
        )
        .into());
    }
    Ok(venv)
}

fn arm64_target_installed() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .any(|line| line.trim() == ARM64_TARGET)
        })
}

/// Builds the zip and returns its path. Both architectures write the same path, so a zip older
/// than this build is refused rather than reported.
fn build(venv: &Path, arch: Arch) -> Result<PathBuf, Error> {
    println!(
        "building: cargo lambda build --release {} --output-format zip -p webhook",
        arch.flag()
    );
    let started = SystemTime::now();
    // cargo-lambda finds zig through the first `python3` on PATH: the venv's.
    let path = workspace::path_with_first(&venv.join("bin"))?;
    workspace::run_to_completion(
        workspace::cargo()
            .args([
                "lambda",
                "build",
                "--release",
                arch.flag(),
                "--output-format",
                "zip",
                "-p",
                "webhook",
            ])
            .env("PATH", path),
    )?;
    let zip = workspace::target_dir()
        .join("lambda")
        .join("webhook")
        .join("bootstrap.zip");
    let modified = std::fs::metadata(&zip).and_then(|meta| meta.modified());
    match modified {
        Ok(modified) if modified >= started => Ok(zip),
        Ok(_) => Err(format!("{} was not rewritten by the build", zip.display()).into()),
        Err(error) => Err(format!("{}: {error}", zip.display()).into()),
    }
}

fn report(zip: &Path, arch: &str) -> Result<(), Error> {
    let bytes = std::fs::metadata(zip)
        .map_err(|e| format!("{}: {e}", zip.display()))?
        .len();
    let mb = bytes as f64 / BYTES_PER_MB;
    println!("webhook release zip ({arch}): {}", display_relative(zip));
    println!(
        "  {bytes} bytes = {mb:.2} MB ({:.2} MiB); target ≤ {TARGET_MB} MB: {:.0} % of the target",
        bytes as f64 / BYTES_PER_MIB,
        100.0 * mb / TARGET_MB
    );
    Ok(())
}

fn display_relative(path: &Path) -> String {
    let root = workspace::root();
    path.strip_prefix(&root).unwrap_or(path).display().to_string()
}
