use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    viberdesk_local::main_with_args().await
}
