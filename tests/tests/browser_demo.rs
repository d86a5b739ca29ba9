//! The demo in a real browser (Debian's headless Chromium through chromedriver): the client
//! simulator at `/simulator` and the staff inbox at `/` of one `viberdesk-local --demo`, in two
//! windows. A client written on the simulator appears in the inbox as a task; the staff reply
//! appears on the simulated phone and its ticks move to delivered, then seen; a callback re-sent
//! from the panel changes nothing; sends the panel makes fail with HTTP 500 are retried and the
//! reply arrives once. Controls are found by ARIA role and accessible name (issue 13's names).
//!
//! Screenshots land in `target/screenshots/demo-*.png`.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::time::{Duration, Instant};

use browser::{Browser, one_at_a_time};
use fantoccini::Locator;
use fantoccini::wd::WindowHandle;
use serde_json::{Value, json};
use support::LOCAL;
use testkit::local::{LocalStack, OWNER_TOKEN, SHORT_RETRIES};

/// The stack in demo mode, a browser, and its two windows: the simulator and the inbox.
struct Demo {
    stack: LocalStack,
    browser: Browser,
    simulator: WindowHandle,
    inbox: WindowHandle,
}

async fn demo() -> Demo {
    // Its forced failures are retried after SHORT_RETRIES, not the sender's 5 s, 10 s.
    let stack = LOCAL.start(&[&["--demo"], SHORT_RETRIES.as_slice()].concat()).await;
    // Bot `demo` is connected once the server answers (its webhook check needs it).
    let started = Instant::now();
    let state_url = format!("{}/simulator/api/state", stack.base_url);
    while testkit::http_client()
        .get(&state_url)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["bots"][0]["webhook"]
        != true
    {
        assert!(started.elapsed() < Duration::from_secs(10), "bot demo never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let browser = Browser::start().await;
    let simulator = browser.client.window().await.unwrap();
    // A window, not a tab: both pages stay visible, as they would side by side on a screen.
    let inbox = browser.client.new_window(false).await.unwrap().handle;
    browser.client.switch_to_window(inbox.clone()).await.unwrap();
    browser.client.set_window_size(1440, 900).await.unwrap();
    browser.goto(&format!("{}/", stack.base_url)).await;
    browser.fill("textbox", "Staff token", OWNER_TOKEN).await;
    browser.click("button", "Sign in").await;
    browser.by_role("button", "Sign out").await;
    browser.client.switch_to_window(simulator.clone()).await.unwrap();
    browser.goto(&format!("{}/simulator", stack.base_url)).await;
    browser.by_role("button", "New client").await;
    Demo {
        stack,
        browser,
        simulator,
        inbox,
    }
}

impl Demo {
    async fn to_simulator(&self) {
        self.browser
            .client
            .switch_to_window(self.simulator.clone())
            .await
            .unwrap();
    }

    async fn to_inbox(&self) {
        self.browser.client.switch_to_window(self.inbox.clone()).await.unwrap();
    }

    /// Creates a client on the simulator page (it becomes the chosen one).
    async fn new_client(&self, name: &str) {
        self.browser.click("button", "New client").await;
        self.browser.fill("textbox", "Name", name).await;
        self.browser.click("button", "Create client").await;
        self.browser.wait_for_text(".phone-bar", &format!("as {name}")).await;
    }

    async fn write(&self, text: &str) {
        self.browser.fill("textbox", "Message", text).await;
        self.browser.click("button", "Send").await;
        self.chat_message(&format!("{text:?} sent"), |m| m.contains(text) && m.contains("sent"))
            .await;
    }

    /// The `article`s of the simulator's Chat, as visible text.
    async fn chat(&self) -> Vec<String> {
        let mut texts = Vec::new();
        for article in self
            .browser
            .client
            .find_all(Locator::Css("[aria-label='Chat'] article"))
            .await
            .unwrap_or_default()
        {
            texts.push(article.text().await.unwrap_or_default());
        }
        texts
    }

    async fn chat_message(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let chat = self.chat().await;
            if let Some(found) = chat.iter().find(|m| ready(m)) {
                return found.clone();
            }
            if started.elapsed() > browser::WAIT {
                let shot = self.browser.screenshot(&format!("demo-missing-{}", what.len())).await;
                panic!(
                    "the chat never showed {what} within {:?}: {chat:#?} (screenshot {})",
                    browser::WAIT,
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens the task with `title` in the inbox.
    async fn open_task(&self, title: &str) {
        let list = self.browser.by_role("list", "Tasks").await;
        let started = Instant::now();
        loop {
            for item in list.find_all(Locator::Css("li")).await.unwrap_or_default() {
                if item.text().await.unwrap_or_default().contains(title) {
                    item.find(Locator::Css("a")).await.unwrap().click().await.unwrap();
                    self.browser.by_role("region", "Conversation").await;
                    return;
                }
            }
            if started.elapsed() > browser::WAIT {
                let shot = self.browser.screenshot("demo-missing-task").await;
                panic!("no task {title:?} in the inbox (screenshot {})", shot.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn reply(&self, text: &str) {
        self.browser.fill("textbox", "Reply", text).await;
        self.browser.click("button", "Send").await;
    }

    /// The simulator's log, as text.
    async fn log(&self) -> String {
        self.browser
            .client
            .find(Locator::Css("[aria-labelledby='log-title']"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_on_the_simulator_becomes_a_task_and_the_reply_s_ticks_move_to_seen() {
    let _one = one_at_a_time().await;
    let demo = demo().await;
    let browser = &demo.browser;
    browser.screenshot("demo-01-simulator-empty").await;

    demo.new_client("Олена Коваленко").await;
    demo.write("Добрий день! Посилка №48213 досі не прийшла 😕").await;
    // A second client takes the phone, so Olena's chat is not on screen when the reply comes.
    demo.new_client("Andrii Tkachenko").await;

    demo.to_inbox().await;
    demo.open_task("Viber: Олена Коваленко").await;
    browser
        .wait_for_message("the client's", |m| m.contains("Посилка №48213"))
        .await;
    demo.reply("Вітаю, Олено! Перевіряю ваше замовлення.").await;
    browser
        .wait_for_message("the reply delivered", |m| {
            m.contains("Перевіряю ваше замовлення") && m.contains("delivered")
        })
        .await;
    browser.screenshot("demo-02-inbox-delivered").await;

    // Olena opens her chat: the reply is there, from the staff member, and is now seen.
    demo.to_simulator().await;
    let picker = browser.by_role("combobox", "Client").await;
    picker.select_by_value("c1").await.unwrap();
    let shown = demo
        .chat_message("the staff reply", |m| m.contains("Перевіряю ваше замовлення"))
        .await;
    assert!(shown.contains("Owner"), "Viber shows the sender's name: {shown}");
    demo.chat_message("the reply seen", |m| {
        m.contains("Перевіряю ваше замовлення") && m.contains("seen")
    })
    .await;
    browser.screenshot("demo-03-simulator-reply").await;

    demo.to_inbox().await;
    browser
        .wait_for_message("the reply seen", |m| {
            m.contains("Перевіряю ваше замовлення") && m.contains("seen")
        })
        .await;
    browser.screenshot("demo-04-inbox-seen").await;
    demo.browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_from_the_panel_changes_nothing_and_forced_500s_are_retried_then_delivered_once() {
    let _one = one_at_a_time().await;
    let demo = demo().await;
    let browser = &demo.browser;
    demo.new_client("Марія Бондаренко").await;
    demo.write("Чи можна змінити адресу доставки?").await;
    demo.to_inbox().await;
    demo.open_task("Viber: Марія Бондаренко").await;
    browser
        .wait_for_message("the client's", |m| m.contains("змінити адресу"))
        .await;

    // Viber re-sends the same callback: the webhook answers 200 and nothing changes.
    demo.to_simulator().await;
    browser.click("button", "Re-send last callback").await;
    browser
        .wait_for_text("[aria-labelledby='log-title']", "re-sent as a duplicate → 200")
        .await;
    demo.to_inbox().await;
    // Longer than the inbox's change feed takes to show anything new.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let conversation = browser.messages().await;
    assert_eq!(
        conversation.iter().filter(|m| m.contains("змінити адресу")).count(),
        1,
        "{conversation:#?}"
    );
    let tasks = demo.stack.get_ok("/api/tasks").await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 1);
    let comments = demo
        .stack
        .get_ok(&format!(
            "/api/tasks/{}/comments",
            tasks["items"][0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(comments["items"].as_array().unwrap().len(), 1);

    // The next two sends fail with HTTP 500: the reply is retried and arrives once.
    demo.to_simulator().await;
    browser.choose("Answer the next sends with", "HTTP 500").await;
    browser.fill("spinbutton", "Sends", "2").await;
    browser.click("button", "Fail next sends").await;
    browser
        .wait_for_text("[aria-labelledby='waiting-title']", "HTTP 500")
        .await;
    browser.screenshot("demo-05-panel-faults").await;
    demo.to_inbox().await;
    demo.reply("Так, напишіть нову адресу.").await;
    browser
        .wait_for_message("the retried reply delivered", |m| {
            m.contains("напишіть нову адресу") && (m.contains("delivered") || m.contains("seen"))
        })
        .await;
    browser.screenshot("demo-06-inbox-retried").await;

    demo.to_simulator().await;
    // The panel's log is refreshed by its own polling: the second failure may show a moment
    // after the inbox showed the delivery.
    let started = Instant::now();
    let log = loop {
        let log = demo.log().await;
        if log.matches("send_message → HTTP 500, as asked").count() >= 2 || started.elapsed() > Duration::from_secs(5)
        {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(log.matches("send_message → HTTP 500, as asked").count(), 2, "{log}");
    let picker = browser.by_role("combobox", "Client").await;
    picker.select_by_value("c1").await.unwrap();
    demo.chat_message("the reply", |m| m.contains("напишіть нову адресу"))
        .await;
    let copies = demo
        .chat()
        .await
        .iter()
        .filter(|m| m.contains("напишіть нову адресу"))
        .count();
    assert_eq!(copies, 1, "delivered exactly once");
    browser.screenshot("demo-07-simulator-after-retries").await;
    demo.browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_of_the_phone_reaches_the_inbox_and_text_stays_text() {
    let _one = one_at_a_time().await;
    let demo = demo().await;
    let browser = &demo.browser;
    demo.new_client("<b>Mallory</b> Tester").await;
    browser.click("button", "Start conversation").await;
    demo.chat_message("the welcome message", |m| m.contains("viberdesk demo bot"))
        .await;
    let hostile = "<img src=x onerror=alert(1)>";
    demo.write(hostile).await;
    browser.click("button", "Share phone").await;
    demo.chat_message("the contact card", |m| m.contains("+380")).await;
    browser.click("button", "Send location").await;
    demo.chat_message("the location", |m| m.contains("Location 50.")).await;
    browser.click("button", "Send sticker").await;
    browser
        .wait_for_js(
            "the sticker",
            "document.querySelector(\"[aria-label='Chat'] article img.sticker\")",
        )
        .await;
    let file = std::env::temp_dir().join(format!("demo-invoice-{}.txt", std::process::id()));
    std::fs::write(&file, "Invoice 48213: 1 250.00 UAH").unwrap();
    // Chromium exposes a file input as a button named by its label (in its user-agent shadow
    // tree, which `queryAXTree` does not search: read the whole tree).
    let tree = browser.cdp("Accessibility.getFullAXTree", json!({})).await;
    let node = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["role"]["value"] == "button" && n["name"]["value"] == "Send file" && n["ignored"] != true)
        .expect("a control named Send file")
        .clone();
    let described = browser
        .cdp("DOM.describeNode", json!({"backendNodeId": node["backendDOMNodeId"]}))
        .await;
    assert_eq!(described["node"]["nodeName"], "INPUT", "{described:#}");
    let picker = browser.client.find(Locator::Css("input[type=file]")).await.unwrap();
    picker.send_keys(&file.display().to_string()).await.unwrap();
    demo.chat_message("the file", |m| m.contains("demo-invoice")).await;
    let _ = std::fs::remove_file(&file);
    browser.click("button", "Unsubscribe").await;
    browser.by_role("button", "Subscribe").await;
    browser.screenshot("demo-08-simulator-actions").await;
    let injected = browser
        .client
        .execute(
            "return document.querySelectorAll('img[src=\"x\"], b, script:not([src])').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, json!(0), "client text became markup");
    browser.click("button", "Subscribe").await;
    browser.by_role("button", "Unsubscribe").await;

    demo.to_inbox().await;
    demo.open_task("Viber: <b>Mallory</b> Tester").await;
    for (what, needle) in [
        ("the hostile text", hostile),
        ("the contact", "+380"),
        ("the location", "50."),
        ("the sticker", "sticker"),
        ("the file", "demo-invoice"),
    ] {
        browser.wait_for_message(what, |m| m.contains(needle)).await;
    }
    let injected: Value = browser
        .client
        .execute(
            "return document.querySelectorAll('img[src=\"x\"], b, script:not([src])').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, json!(0), "client text became markup in the inbox");
    browser.screenshot("demo-09-inbox-every-kind").await;
    demo.browser.close().await;
}
