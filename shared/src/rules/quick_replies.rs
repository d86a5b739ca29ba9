//! Quick replies: a saved text with placeholders, filled in for one client when a staff member
//! uses it.

use crate::model::{Contact, StaffMember};

const PLACEHOLDERS: &[&str] = &["{client_name}", "{client_phone}", "{staff_name}", "{bot_name}"];

/// Fills a quick reply's placeholders in one pass (a value that looks like a placeholder stays
/// as it is): `{client_name}` the contact's name, `{client_phone}` their phone (known only if they
/// shared it), `{staff_name}` the replying staff member's name, or `bot_name` when there is none,
/// `{bot_name}` the bot's name. Other `{…}` are left untouched.
///
/// A placeholder with nothing to fill in (typically a client without a name) is removed with the
/// separator in front of it, so the text reads naturally in any language instead of greeting
/// "there" or leaving a gap: `Вітаю, {client_name}!` → `Вітаю!`, `Hi {client_name}, thanks` →
/// `Hi, thanks`, and at the start of a line `{client_name}, thank you` → `Thank you`.
pub fn render_quick_reply(template: &str, contact: &Contact, staff: Option<&StaffMember>, bot_name: &str) -> String {
    let value_of = |placeholder: &str| match placeholder {
        "{client_name}" => known(contact.name.as_deref()),
        "{client_phone}" => known(contact.phone.as_deref()),
        "{staff_name}" => known(staff.map(|s| s.name.as_str())).or(known(Some(bot_name))),
        _ => known(Some(bot_name)),
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (literal, from_brace) = rest.split_at(open);
        out.push_str(literal);
        match PLACEHOLDERS.iter().find(|p| from_brace.starts_with(**p)) {
            None => {
                out.push('{');
                rest = &from_brace[1..];
            }
            Some(placeholder) => {
                rest = &from_brace[placeholder.len()..];
                match value_of(placeholder) {
                    Some(value) => out.push_str(value),
                    None => rest = drop_empty_slot(&mut out, rest),
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// A value with something in it, trimmed.
fn known(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Tidies the text around a placeholder that was left empty: the spaces before it go, and a
/// comma before it too when punctuation or the end of the line follows; at the start of a line,
/// the punctuation after it goes and the next word gets a capital letter.
fn drop_empty_slot<'a>(out: &mut String, rest: &'a str) -> &'a str {
    const SPACES: [char; 2] = [' ', '\t'];
    out.truncate(out.trim_end_matches(SPACES).len());
    if out.is_empty() || out.ends_with('\n') {
        let rest = rest.trim_start_matches([',', ';', ':']).trim_start_matches(SPACES);
        let mut chars = rest.chars();
        return match chars.next() {
            Some(first) if first.is_lowercase() => {
                out.extend(first.to_uppercase());
                chars.as_str()
            }
            _ => rest,
        };
    }
    let punctuation_follows = rest.is_empty() || rest.starts_with([',', '.', '!', '?', ';', ':', '…', ')', '\n', '\r']);
    if punctuation_follows && out.ends_with(',') {
        out.pop();
        out.truncate(out.trim_end_matches(SPACES).len());
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ContactId, IntegrationId, StaffId};
    use crate::model::Role;
    use crate::time::Timestamp;

    const RECEIVER: &str = "9Kf2mQ1xT7bVnC3pLs8aZw==";

    fn staff(name: &str, avatar: Option<&str>) -> StaffMember {
        StaffMember {
            id: StaffId::parse("ivan").unwrap(),
            name: name.into(),
            avatar_url: avatar.map(str::to_owned),
            role: Role::Staff,
            created_at: Timestamp::from_millis(0),
        }
    }

    fn contact(name: Option<&str>, phone: Option<&str>) -> Contact {
        Contact {
            id: ContactId::parse("c1").unwrap(),
            integration_id: IntegrationId::parse("acme").unwrap(),
            viber_user_id: RECEIVER.into(),
            name: name.map(str::to_owned),
            avatar_url: None,
            language: Some("uk".into()),
            country: Some("UA".into()),
            api_version: Some(10),
            phone: phone.map(str::to_owned),
            subscribed: true,
            subscription_changed_at: None,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            current_task: None,
            version: 1,
            avatar: None,
            group: None,
            labels: Vec::new(),
            fields: Default::default(),
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let olena = contact(Some("Олена"), Some("+380671234567"));
        let ivan = staff("Іван", None);
        let template = "Вітаю, {client_name}! Я {staff_name} з {bot_name}. Ми зателефонуємо на {client_phone}.";
        assert_eq!(
            render_quick_reply(template, &olena, Some(&ivan), "Acme Support"),
            "Вітаю, Олена! Я Іван з Acme Support. Ми зателефонуємо на +380671234567."
        );
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_stay() {
        let olena = contact(Some("Олена"), None);
        assert_eq!(
            render_quick_reply("{client_name}: order {order_id} {", &olena, None, "Acme"),
            "Олена: order {order_id} {"
        );
        assert_eq!(render_quick_reply("{{client_name}}", &olena, None, "Acme"), "{Олена}");
        assert_eq!(
            render_quick_reply("{Client_Name}", &olena, None, "Acme"),
            "{Client_Name}"
        );
    }

    #[test]
    fn values_are_not_expanded_again() {
        let tricky = contact(Some("{staff_name}"), None);
        assert_eq!(
            render_quick_reply("Hi {client_name}, I am {staff_name}", &tricky, None, "Acme"),
            "Hi {staff_name}, I am Acme"
        );
    }

    #[test]
    fn without_a_staff_member_the_bot_signs() {
        let olena = contact(Some("Олена"), None);
        assert_eq!(
            render_quick_reply("— {staff_name}", &olena, None, "Acme Support"),
            "— Acme Support"
        );
        let blank = staff(" ", None);
        assert_eq!(
            render_quick_reply("— {staff_name}", &olena, Some(&blank), "Acme"),
            "— Acme"
        );
    }

    #[test]
    fn a_client_without_a_name_reads_naturally() {
        let nameless = contact(None, None);
        let cases = [
            ("Вітаю, {client_name}!", "Вітаю!"),
            ("Hi {client_name}!", "Hi!"),
            ("Hi {client_name}, thanks for waiting.", "Hi, thanks for waiting."),
            ("Hi, {client_name}, thanks.", "Hi, thanks."),
            (
                "Hello, {client_name}\nYour order shipped.",
                "Hello\nYour order shipped.",
            ),
            ("Dear {client_name} we are sorry", "Dear we are sorry"),
            ("{client_name}, дякуємо за звернення.", "Дякуємо за звернення."),
            (
                "Привіт!\n{client_name}, ваше замовлення готове.",
                "Привіт!\nВаше замовлення готове.",
            ),
            ("{client_name}", ""),
            ("Hi {client_name} {client_phone}!", "Hi!"),
            ("We will call {client_phone}.", "We will call."),
        ];
        for (template, expected) in cases {
            assert_eq!(
                render_quick_reply(template, &nameless, None, "Acme"),
                expected,
                "{template}"
            );
        }
        let blank = contact(Some("   "), None);
        assert_eq!(
            render_quick_reply("Вітаю, {client_name}!", &blank, None, "Acme"),
            "Вітаю!"
        );
    }

    #[test]
    fn names_are_trimmed() {
        let spaced = contact(Some("  Олена \n"), None);
        assert_eq!(
            render_quick_reply("Вітаю, {client_name}!", &spaced, None, "Acme"),
            "Вітаю, Олена!"
        );
    }
}
