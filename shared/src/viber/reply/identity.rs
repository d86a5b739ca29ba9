//! Who a reply shows as from in Viber: the bot, or the replying staff member.

use crate::model::{BotProfile, StaffMember};
use crate::viber::message::SenderIdentity;

/// Who a reply shows as from. With the integration's "send as staff member" option on and the
/// replying staff member known (and named), their name, cut to Viber's 28 characters, and their
/// avatar — or the bot's icon when they have none, so the message never shows a blank avatar.
/// Otherwise the bot's name and icon.
pub fn sender_for(integration_bot: &BotProfile, send_as_staff: bool, staff: Option<&StaffMember>) -> SenderIdentity {
    let present = |url: Option<&String>| url.map(|u| u.trim()).filter(|u| !u.is_empty()).map(str::to_owned);
    let bot_icon = present(integration_bot.icon.as_ref());
    let mut sender = match staff.filter(|s| send_as_staff && !s.name.trim().is_empty()) {
        Some(staff) => SenderIdentity::new(staff.name.trim(), present(staff.avatar_url.as_ref()).or(bot_icon)),
        None => SenderIdentity::new(integration_bot.name.trim(), bot_icon),
    };
    // A cut may leave a space at the end ("Customer Care Department of |Acme").
    let kept = sender.name.trim_end().len();
    sender.name.truncate(kept);
    sender
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StaffId;
    use crate::model::Role;
    use crate::time::Timestamp;

    fn bot() -> BotProfile {
        BotProfile {
            name: "Acme Support".into(),
            uri: "acmesupport".into(),
            icon: Some("https://cdn.example.com/bot-avatar-720.jpg".into()),
        }
    }

    fn staff(name: &str, avatar: Option<&str>) -> StaffMember {
        StaffMember {
            id: StaffId::parse("ivan").unwrap(),
            name: name.into(),
            avatar_url: avatar.map(str::to_owned),
            role: Role::Staff,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn the_bot_sends_unless_the_option_is_on() {
        let ivan = staff("Іван", Some("https://cdn.example.com/staff/ivan-720.jpg"));
        let expected = SenderIdentity::new(
            "Acme Support",
            Some("https://cdn.example.com/bot-avatar-720.jpg".into()),
        );
        assert_eq!(sender_for(&bot(), false, Some(&ivan)), expected);
        assert_eq!(sender_for(&bot(), true, None), expected);
        assert_eq!(sender_for(&bot(), true, Some(&staff("  ", None))), expected);
    }

    #[test]
    fn the_staff_member_sends_with_the_option_on() {
        let ivan = staff("Support · Іван", Some("https://cdn.example.com/staff/ivan-720.jpg"));
        assert_eq!(
            sender_for(&bot(), true, Some(&ivan)),
            SenderIdentity::new(
                "Support · Іван",
                Some("https://cdn.example.com/staff/ivan-720.jpg".into())
            )
        );
        // Without an avatar of their own, the bot's icon is shown.
        let olena = staff("Олена", None);
        assert_eq!(sender_for(&bot(), true, Some(&olena)).avatar, bot().icon);
    }

    #[test]
    fn long_names_are_cut_to_28_characters_without_a_trailing_space() {
        let long = staff("Олександра-Вікторія Костянтинопольська", None);
        let sender = sender_for(&bot(), true, Some(&long));
        assert_eq!(sender.name, "Олександра-Вікторія Костянти");
        // The 28th character is a space.
        let spaced = staff("Customer Care Department of Acme", None);
        assert_eq!(
            sender_for(&bot(), true, Some(&spaced)).name,
            "Customer Care Department of"
        );
        let no_icon = BotProfile { icon: None, ..bot() };
        assert_eq!(
            sender_for(&no_icon, false, None),
            SenderIdentity::new("Acme Support", None)
        );
    }
}
