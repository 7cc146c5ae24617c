//! What each role may do on the admin pages, decided by the path of the request (and for one
//! path the method). Every admin handler reaches the session through `admin_of`, which asks here
//! first, so a route nobody listed is an administrator's and coordinator's only.
//!
//! - administrator: everything;
//! - coordinator: everything for their topics but the people who share the work and the audit
//!   log (their CSV import lands in their topics only: rows naming another are rejected);
//! - helper: the dashboard, the review queue, and occasions read-only with the list at the door
//!   (recording attendance); no contacts, no export, no erasure, no sending.

use crate::store::auth::Named;
use crate::web::auth::Role;
use serde::Serialize;

/// Areas that only administrators reach.
const ADMINISTRATOR_ONLY: &[&str] = &["/admin/users", "/admin/audit"];

/// Whether `role` may open `path` (a GET) or send its form (`post`).
pub fn may(role: Role, post: bool, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    if matches!(path, "/admin" | "/admin/logout" | "/admin/account")
        || path.starts_with("/admin/account/")
    {
        return true;
    }
    match role {
        Role::Administrator => true,
        Role::Coordinator => !ADMINISTRATOR_ONLY
            .iter()
            .any(|a| path == *a || path.starts_with(&format!("{a}/"))),
        Role::Helper => helper_may(post, path),
    }
}

fn helper_may(post: bool, path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches("/admin/").split('/').collect();
    match parts.as_slice() {
        ["review"] => !post,
        ["review", _, _] => post,
        ["occasions"] => !post,
        // The occasion's page to read; its form changes the occasion.
        ["occasions", slug] => !post && *slug != "new",
        // The list at the door: who came.
        ["occasions", _, "door"] => true,
        _ => false,
    }
}

/// The one thing (campaign, occasion, topic, contact, review item) a path names, whose topics
/// decide whether a coordinator or helper may reach it.
pub fn named(path: &str) -> Option<Named<'_>> {
    let parts: Vec<&str> = path
        .trim_end_matches('/')
        .trim_start_matches("/admin/")
        .split('/')
        .collect();
    match parts.as_slice() {
        ["campaigns", name, ..] if *name != "new" => Some(Named::Campaign(name)),
        ["occasions", slug, ..] if *slug != "new" => Some(Named::Occasion(slug)),
        ["topics", slug, ..] => Some(Named::Topic(slug)),
        ["contacts", id, ..] => id.parse().ok().map(Named::Contact),
        ["review", id, ..] => id.parse().ok().map(Named::Decision),
        _ => None,
    }
}

/// Whether a login with the topics `mine` (None: all, an administrator) may reach a thing of
/// the topics `its` (None: no such thing, which the page itself reports). A thing of no topic is
/// the administrators'.
pub fn within(mine: Option<&[i64]>, its: Option<&[i64]>) -> bool {
    match (mine, its) {
        (None, _) | (_, None) => true,
        (Some(mine), Some(its)) => its.iter().any(|t| mine.contains(t)),
    }
}

/// What the menu and pages offer to a role (the server refuses the rest anyway).
#[derive(Debug, Serialize)]
pub struct Can {
    pub contacts: bool,
    pub topics: bool,
    pub campaigns: bool,
    pub import: bool,
    pub export: bool,
    pub occasions_edit: bool,
    pub users: bool,
    pub audit: bool,
}

impl Can {
    pub fn of(role: Role) -> Can {
        Can {
            contacts: may(role, false, "/admin/contacts"),
            topics: may(role, false, "/admin/topics"),
            campaigns: may(role, false, "/admin/campaigns"),
            import: may(role, false, "/admin/import"),
            export: may(role, false, "/admin/contacts/export.csv"),
            occasions_edit: may(role, true, "/admin/occasions/x"),
            users: may(role, false, "/admin/users"),
            audit: may(role, false, "/admin/audit"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_answer_the_review_queue_and_record_attendance_only() {
        let h = Role::Helper;
        for (post, path) in [
            (false, "/admin"),
            (false, "/admin/review"),
            (true, "/admin/review/7/confirm"),
            (false, "/admin/occasions"),
            (false, "/admin/occasions/hoffest"),
            (false, "/admin/occasions/hoffest/door"),
            (true, "/admin/occasions/hoffest/door"),
            (true, "/admin/logout"),
        ] {
            assert!(may(h, post, path), "{post} {path}");
        }
        for (post, path) in [
            (false, "/admin/contacts"),
            (false, "/admin/contacts/export.csv"),
            (false, "/admin/contacts/3"),
            (true, "/admin/contacts/3/forget"),
            (false, "/admin/campaigns"),
            (true, "/admin/campaigns/x/send"),
            (false, "/admin/topics"),
            (false, "/admin/import"),
            (true, "/admin/import"),
            (false, "/admin/occasions/new"),
            (true, "/admin/occasions/hoffest"),
            (true, "/admin/occasions/hoffest/cancel"),
            (false, "/admin/occasions/hoffest/rsvps.csv"),
            (false, "/admin/users"),
            (false, "/admin/audit"),
            (false, "/admin/something-new"),
        ] {
            assert!(!may(h, post, path), "{post} {path}");
        }
    }

    #[test]
    fn a_path_names_the_thing_whose_topics_count() {
        assert!(matches!(
            named("/admin/campaigns/herbst/send"),
            Some(Named::Campaign("herbst"))
        ));
        assert!(named("/admin/campaigns/new").is_none());
        assert!(named("/admin/campaigns").is_none());
        assert!(matches!(
            named("/admin/occasions/cafe/door"),
            Some(Named::Occasion("cafe"))
        ));
        assert!(matches!(
            named("/admin/contacts/12/forget"),
            Some(Named::Contact(12))
        ));
        assert!(named("/admin/contacts/export.csv").is_none());
        assert!(matches!(
            named("/admin/review/3/accept"),
            Some(Named::Decision(3))
        ));
        assert!(matches!(
            named("/admin/topics/nord"),
            Some(Named::Topic("nord"))
        ));
        assert!(within(None, Some(&[])));
        assert!(within(Some(&[1]), None));
        assert!(within(Some(&[1, 2]), Some(&[2, 5])));
        assert!(!within(Some(&[1]), Some(&[2])));
        assert!(!within(Some(&[1]), Some(&[])));
    }

    #[test]
    fn coordinators_do_all_but_manage_people_and_read_the_audit_log_and_may_import() {
        let c = Role::Coordinator;
        assert!(may(c, true, "/admin/contacts/3/forget"));
        assert!(may(c, false, "/admin/contacts/export.csv"));
        assert!(may(c, true, "/admin/campaigns/x/send"));
        assert!(!may(c, false, "/admin/users"));
        assert!(!may(c, true, "/admin/users/anna/remove"));
        assert!(!may(c, false, "/admin/audit/export.csv"));
        assert!(may(c, true, "/admin/import"));
        assert!(may(c, true, "/admin/import/abc"));
        assert!(may(c, false, "/admin/usersfoo"));
        assert!(may(Role::Administrator, false, "/admin/audit"));
    }
}
