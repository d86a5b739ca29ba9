//! `scripts/create-owner` (docs/deploy.md's first-owner command) writes items the Rust code
//! reads: run against a moto table, its token authenticates an owner through the same
//! `DynamoStore` the api Lambda uses, and a second run is refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use shared::aws::DynamoStore;
use shared::model::Role;
use shared::ports::{StaffStore, token_hash};
use testkit::moto;

/// The AWS CLI: the venv's (scripts/check-infra installs it there), else the one on PATH.
fn aws_cli() -> PathBuf {
    let venv = std::env::var_os("VIBERDESK_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/viberdesk-venv")));
    match venv.map(|v| v.join("bin/aws")) {
        Some(aws) if aws.is_file() => aws,
        _ => PathBuf::from("aws"),
    }
}

fn create_owner(table: &str, name: &str) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/create-owner");
    Command::new("bash")
        .arg(script)
        .args(["--table", table, "--name", name])
        .env("AWS_CLI", aws_cli())
        .env("AWS_ENDPOINT_URL", moto::endpoint())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("bash runs scripts/create-owner")
}

#[tokio::test]
async fn the_first_owner_command_creates_a_token_the_api_accepts() {
    let config = moto::sdk_config().await;
    let table = moto::table(&config).await;

    let output = create_owner(&table, "Olena Owner");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "create-owner failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |label: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(label))
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| panic!("no {label} line in:\n{stdout}"))
    };
    let token = field("token:");
    let staff_id = field("staff_id:");
    assert_eq!(token.len(), 64, "{token}");

    let store = DynamoStore::from_config(&config, &table);
    let member = store
        .staff_by_token_hash(&token_hash(&token))
        .await
        .unwrap()
        .expect("the token names a staff member");
    assert_eq!(member.id.as_str(), staff_id);
    assert_eq!(member.name, "Olena Owner");
    assert_eq!(member.role, Role::Owner);
    assert_eq!(member.avatar_url, None);
    let owner = store.account_owner().await.unwrap().expect("the account has an owner");
    assert_eq!(owner.id, member.id);
    // Written as put_staff writes a member: listed by GET /api/staff, and carrying its token's
    // hash so that removing the member revokes the token.
    let listed = shared::ports::StaffAdmin::list_staff(&store, &shared::ports::PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0], member);
    let item = store
        .client()
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("STAFF#{staff_id}")),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("STAFF".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item.get("token_hash").and_then(|v| v.as_s().ok()),
        Some(&token_hash(&token))
    );

    // The account has its owner: a second run changes nothing.
    let again = create_owner(&table, "Someone Else");
    assert!(!again.status.success(), "a second owner was created");
    let owner = store.account_owner().await.unwrap().unwrap();
    assert_eq!(owner.id, member.id);
}
