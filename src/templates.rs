//! The one template loader of mail and web: every built-in template and text catalogue is
//! compiled into the binary, and a file of the same name under the configured `templates_dir`
//! overrides it. Both the mail renderer and the web pages read through here, with the same
//! syntax settings.

use std::path::Path;

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// Built-in templates and catalogues, by name relative to the templates folder.
pub const BUILTIN: &[(&str, &str)] = builtin![
    "mail/layout.html.j2",
    "mail/newsletter.de.subject.j2",
    "mail/newsletter.de.txt.j2",
    "mail/newsletter.de.html.j2",
    "mail/newsletter.en.subject.j2",
    "mail/newsletter.en.txt.j2",
    "mail/newsletter.en.html.j2",
    "mail/newsletter.tr.subject.j2",
    "mail/newsletter.tr.txt.j2",
    "mail/newsletter.tr.html.j2",
    "mail/newsletter.ar.subject.j2",
    "mail/newsletter.ar.txt.j2",
    "mail/newsletter.ar.html.j2",
    "mail/newsletter.uk.subject.j2",
    "mail/newsletter.uk.txt.j2",
    "mail/newsletter.uk.html.j2",
    "mail/newsletter.ru.subject.j2",
    "mail/newsletter.ru.txt.j2",
    "mail/newsletter.ru.html.j2",
    "mail/newsletter.pl.subject.j2",
    "mail/newsletter.pl.txt.j2",
    "mail/newsletter.pl.html.j2",
    "mail/reminder.de.subject.j2",
    "mail/reminder.de.txt.j2",
    "mail/reminder.de.html.j2",
    "mail/reminder.en.subject.j2",
    "mail/reminder.en.txt.j2",
    "mail/reminder.en.html.j2",
    "mail/reminder.tr.subject.j2",
    "mail/reminder.tr.txt.j2",
    "mail/reminder.tr.html.j2",
    "mail/reminder.ar.subject.j2",
    "mail/reminder.ar.txt.j2",
    "mail/reminder.ar.html.j2",
    "mail/reminder.uk.subject.j2",
    "mail/reminder.uk.txt.j2",
    "mail/reminder.uk.html.j2",
    "mail/reminder.ru.subject.j2",
    "mail/reminder.ru.txt.j2",
    "mail/reminder.ru.html.j2",
    "mail/reminder.pl.subject.j2",
    "mail/reminder.pl.txt.j2",
    "mail/reminder.pl.html.j2",
    "mail/follow_up.de.subject.j2",
    "mail/follow_up.de.txt.j2",
    "mail/follow_up.de.html.j2",
    "mail/follow_up.en.subject.j2",
    "mail/follow_up.en.txt.j2",
    "mail/follow_up.en.html.j2",
    "mail/follow_up.tr.subject.j2",
    "mail/follow_up.tr.txt.j2",
    "mail/follow_up.tr.html.j2",
    "mail/follow_up.ar.subject.j2",
    "mail/follow_up.ar.txt.j2",
    "mail/follow_up.ar.html.j2",
    "mail/follow_up.uk.subject.j2",
    "mail/follow_up.uk.txt.j2",
    "mail/follow_up.uk.html.j2",
    "mail/follow_up.ru.subject.j2",
    "mail/follow_up.ru.txt.j2",
    "mail/follow_up.ru.html.j2",
    "mail/follow_up.pl.subject.j2",
    "mail/follow_up.pl.txt.j2",
    "mail/follow_up.pl.html.j2",
    "mail/thanks.de.subject.j2",
    "mail/thanks.de.txt.j2",
    "mail/thanks.de.html.j2",
    "mail/thanks.en.subject.j2",
    "mail/thanks.en.txt.j2",
    "mail/thanks.en.html.j2",
    "mail/thanks.tr.subject.j2",
    "mail/thanks.tr.txt.j2",
    "mail/thanks.tr.html.j2",
    "mail/thanks.ar.subject.j2",
    "mail/thanks.ar.txt.j2",
    "mail/thanks.ar.html.j2",
    "mail/thanks.uk.subject.j2",
    "mail/thanks.uk.txt.j2",
    "mail/thanks.uk.html.j2",
    "mail/thanks.ru.subject.j2",
    "mail/thanks.ru.txt.j2",
    "mail/thanks.ru.html.j2",
    "mail/thanks.pl.subject.j2",
    "mail/thanks.pl.txt.j2",
    "mail/thanks.pl.html.j2",
    "mail/invitation.de.subject.j2",
    "mail/invitation.de.txt.j2",
    "mail/invitation.de.html.j2",
    "mail/invitation.en.subject.j2",
    "mail/invitation.en.txt.j2",
    "mail/invitation.en.html.j2",
    "mail/invitation.tr.subject.j2",
    "mail/invitation.tr.txt.j2",
    "mail/invitation.tr.html.j2",
    "mail/invitation.ar.subject.j2",
    "mail/invitation.ar.txt.j2",
    "mail/invitation.ar.html.j2",
    "mail/invitation.uk.subject.j2",
    "mail/invitation.uk.txt.j2",
    "mail/invitation.uk.html.j2",
    "mail/invitation.ru.subject.j2",
    "mail/invitation.ru.txt.j2",
    "mail/invitation.ru.html.j2",
    "mail/invitation.pl.subject.j2",
    "mail/invitation.pl.txt.j2",
    "mail/invitation.pl.html.j2",
    "mail/cooperation.de.subject.j2",
    "mail/cooperation.de.txt.j2",
    "mail/cooperation.de.html.j2",
    "mail/cooperation.en.subject.j2",
    "mail/cooperation.en.txt.j2",
    "mail/cooperation.en.html.j2",
    "mail/cooperation.tr.subject.j2",
    "mail/cooperation.tr.txt.j2",
    "mail/cooperation.tr.html.j2",
    "mail/cooperation.ar.subject.j2",
    "mail/cooperation.ar.txt.j2",
    "mail/cooperation.ar.html.j2",
    "mail/cooperation.uk.subject.j2",
    "mail/cooperation.uk.txt.j2",
    "mail/cooperation.uk.html.j2",
    "mail/cooperation.ru.subject.j2",
    "mail/cooperation.ru.txt.j2",
    "mail/cooperation.ru.html.j2",
    "mail/cooperation.pl.subject.j2",
    "mail/cooperation.pl.txt.j2",
    "mail/cooperation.pl.html.j2",
    "mail/renewal.de.subject.j2",
    "mail/renewal.de.txt.j2",
    "mail/renewal.de.html.j2",
    "mail/renewal.en.subject.j2",
    "mail/renewal.en.txt.j2",
    "mail/renewal.en.html.j2",
    "mail/renewal.tr.subject.j2",
    "mail/renewal.tr.txt.j2",
    "mail/renewal.tr.html.j2",
    "mail/renewal.ar.subject.j2",
    "mail/renewal.ar.txt.j2",
    "mail/renewal.ar.html.j2",
    "mail/renewal.uk.subject.j2",
    "mail/renewal.uk.txt.j2",
    "mail/renewal.uk.html.j2",
    "mail/renewal.ru.subject.j2",
    "mail/renewal.ru.txt.j2",
    "mail/renewal.ru.html.j2",
    "mail/renewal.pl.subject.j2",
    "mail/renewal.pl.txt.j2",
    "mail/renewal.pl.html.j2",
    "mail/confirm.de.subject.j2",
    "mail/confirm.de.txt.j2",
    "mail/confirm.de.html.j2",
    "mail/confirm.en.subject.j2",
    "mail/confirm.en.txt.j2",
    "mail/confirm.en.html.j2",
    "mail/confirm.tr.subject.j2",
    "mail/confirm.tr.txt.j2",
    "mail/confirm.tr.html.j2",
    "mail/confirm.ar.subject.j2",
    "mail/confirm.ar.txt.j2",
    "mail/confirm.ar.html.j2",
    "mail/confirm.uk.subject.j2",
    "mail/confirm.uk.txt.j2",
    "mail/confirm.uk.html.j2",
    "mail/confirm.ru.subject.j2",
    "mail/confirm.ru.txt.j2",
    "mail/confirm.ru.html.j2",
    "mail/confirm.pl.subject.j2",
    "mail/confirm.pl.txt.j2",
    "mail/confirm.pl.html.j2",
    "mail/poll_invitation.de.subject.j2",
    "mail/poll_invitation.de.txt.j2",
    "mail/poll_invitation.de.html.j2",
    "mail/poll_invitation.en.subject.j2",
    "mail/poll_invitation.en.txt.j2",
    "mail/poll_invitation.en.html.j2",
    "mail/poll_picked.de.subject.j2",
    "mail/poll_picked.de.txt.j2",
    "mail/poll_picked.de.html.j2",
    "mail/poll_picked.en.subject.j2",
    "mail/poll_picked.en.txt.j2",
    "mail/poll_picked.en.html.j2",
    "mail/occasion_change.de.subject.j2",
    "mail/occasion_change.de.txt.j2",
    "mail/occasion_change.de.html.j2",
    "mail/occasion_change.en.subject.j2",
    "mail/occasion_change.en.txt.j2",
    "mail/occasion_change.en.html.j2",
    "mail/rsvp_ack.de.subject.j2",
    "mail/rsvp_ack.de.txt.j2",
    "mail/rsvp_ack.de.html.j2",
    "mail/rsvp_ack.en.subject.j2",
    "mail/rsvp_ack.en.txt.j2",
    "mail/rsvp_ack.en.html.j2",
    "mail/rsvp_ack.tr.subject.j2",
    "mail/rsvp_ack.tr.txt.j2",
    "mail/rsvp_ack.tr.html.j2",
    "mail/rsvp_ack.ar.subject.j2",
    "mail/rsvp_ack.ar.txt.j2",
    "mail/rsvp_ack.ar.html.j2",
    "mail/rsvp_ack.uk.subject.j2",
    "mail/rsvp_ack.uk.txt.j2",
    "mail/rsvp_ack.uk.html.j2",
    "mail/rsvp_ack.ru.subject.j2",
    "mail/rsvp_ack.ru.txt.j2",
    "mail/rsvp_ack.ru.html.j2",
    "mail/rsvp_ack.pl.subject.j2",
    "mail/rsvp_ack.pl.txt.j2",
    "mail/rsvp_ack.pl.html.j2",
    "mail/unsubscribed.de.subject.j2",
    "mail/unsubscribed.de.txt.j2",
    "mail/unsubscribed.de.html.j2",
    "mail/unsubscribed.en.subject.j2",
    "mail/unsubscribed.en.txt.j2",
    "mail/unsubscribed.en.html.j2",
    "mail/unsubscribed.tr.subject.j2",
    "mail/unsubscribed.tr.txt.j2",
    "mail/unsubscribed.tr.html.j2",
    "mail/unsubscribed.ar.subject.j2",
    "mail/unsubscribed.ar.txt.j2",
    "mail/unsubscribed.ar.html.j2",
    "mail/unsubscribed.uk.subject.j2",
    "mail/unsubscribed.uk.txt.j2",
    "mail/unsubscribed.uk.html.j2",
    "mail/unsubscribed.ru.subject.j2",
    "mail/unsubscribed.ru.txt.j2",
    "mail/unsubscribed.ru.html.j2",
    "mail/unsubscribed.pl.subject.j2",
    "mail/unsubscribed.pl.txt.j2",
    "mail/unsubscribed.pl.html.j2",
    "mail/notify_cooperation.de.subject.j2",
    "mail/notify_cooperation.de.txt.j2",
    "mail/notify_cooperation.de.html.j2",
    "mail/notify_cooperation.en.subject.j2",
    "mail/notify_cooperation.en.txt.j2",
    "mail/notify_cooperation.en.html.j2",
    "web/layout.html.j2",
    "web/message.html.j2",
    "web/action.html.j2",
    "web/poll.html.j2",
    "web/index.html.j2",
    "web/subscribe.html.j2",
    "web/preferences.html.j2",
    "web/mydata.html.j2",
    "web/door.html.j2",
    "web/calendar.html.j2",
    "web/admin/layout.html.j2",
    "web/admin/login.html.j2",
    "web/admin/setup.html.j2",
    "web/admin/account.html.j2",
    "web/admin/audit.html.j2",
    "web/admin/users.html.j2",
    "web/admin/user_remove.html.j2",
    "web/admin/invitation.html.j2",
    "web/admin/dashboard.html.j2",
    "web/admin/contacts.html.j2",
    "web/admin/contact.html.j2",
    "web/admin/campaigns.html.j2",
    "web/admin/campaign.html.j2",
    "web/admin/campaign_form.html.j2",
    "web/admin/campaign_confirm.html.j2",
    "web/admin/review.html.j2",
    "web/admin/occasions.html.j2",
    "web/admin/occasion.html.j2",
    "web/admin/occasion_fields.html.j2",
    "web/admin/occasion_new.html.j2",
    "web/admin/occasion_cancel.html.j2",
    "web/admin/contact_new.html.j2",
    "web/admin/forget.html.j2",
    "web/admin/topics.html.j2",
    "web/admin/import.html.j2",
    "web/admin/import_preview.html.j2",
    "web/admin/import_report.html.j2",
    "web/i18n.de.toml",
    "web/i18n.en.toml",
    "web/i18n.tr.toml",
    "web/i18n.ar.toml",
    "web/i18n.uk.toml",
    "web/i18n.ru.toml",
    "web/i18n.pl.toml",
];

/// The built-in source of `name`, if there is one.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The names of the built-ins under `folder/` (e.g. `mail/`).
pub fn builtin_names(folder: &str) -> impl Iterator<Item = &'static str> + '_ {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .filter(move |n| n.starts_with(folder))
}

/// Whether `name` is a plain relative name (no empty, `.` or `..` segment, no backslash): names
/// come from our code and from `extends`/`include` in templates, and must not leave the folder.
pub fn safe_name(name: &str) -> bool {
    !(name
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || name.contains('\\'))
}

/// The source of `name`: the user's file under `user_dir` when there is one, else the built-in;
/// None when neither exists or the name is not [`safe_name`]. A user file that exists but cannot
/// be read is an error with its path.
pub fn source(user_dir: Option<&Path>, name: &str) -> Result<Option<String>, String> {
    if !safe_name(name) {
        return Ok(None);
    }
    if let Some(dir) = user_dir {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(s) => return Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    Ok(builtin(name).map(str::to_string))
}

/// The syntax of every template: blocks trimmed and left-stripped, the trailing newline kept.
pub fn syntax() -> minijinja::syntax::SyntaxConfig {
    minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("a valid template syntax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_file_overrides_a_builtin_and_names_cannot_leave_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("web")).unwrap();
        std::fs::write(dir.path().join("web/message.html.j2"), "mine").unwrap();
        assert_eq!(
            source(Some(dir.path()), "web/message.html.j2")
                .unwrap()
                .as_deref(),
            Some("mine")
        );
        assert_eq!(
            source(Some(dir.path()), "mail/layout.html.j2").unwrap(),
            builtin("mail/layout.html.j2").map(str::to_string)
        );
        assert_eq!(source(Some(dir.path()), "../etc/passwd").unwrap(), None);
        assert_eq!(source(None, "web//x").unwrap(), None);
        assert!(builtin_names("web/i18n").count() == 7);
    }
}
