-- The audit log: every change made on the admin pages, by whom and when, and on what (a
-- contact's id, a campaign's name, ...). Rows are kept; the user name is plain text so an entry
-- outlives the login that made it. A contact is named by its id only, so an erased person's
-- address does not live on here.
CREATE TABLE admin_audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT,
    target TEXT,
    detail TEXT
);

-- The topics an invitation gives a coordinator or helper, copied to the login when it is used.
CREATE TABLE admin_invitation_topics (
    token_hash TEXT NOT NULL REFERENCES admin_invitations(token_hash) ON DELETE CASCADE,
    topic_id INTEGER NOT NULL REFERENCES topics(id),
    PRIMARY KEY (token_hash, topic_id)
);
