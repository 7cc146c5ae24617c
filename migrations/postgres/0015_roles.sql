-- People who share the work: each admin login has a role. Administrators may do everything;
-- coordinators everything for the topics assigned to them; helpers answer the review queue and
-- record attendance. Logins that exist already (and the logins of API tokens) become
-- administrators, so nobody loses access by the upgrade.
ALTER TABLE admin_users ADD COLUMN role TEXT NOT NULL DEFAULT 'administrator'
    CHECK (role IN ('administrator', 'coordinator', 'helper'));

-- The topics a coordinator or helper works on (administrators need none).
CREATE TABLE admin_user_topics (
    user_name TEXT NOT NULL REFERENCES admin_users(name) ON DELETE CASCADE,
    topic_id BIGINT NOT NULL REFERENCES topics(id),
    PRIMARY KEY (user_name, topic_id)
);

-- One-time links: the setup link of the first administrator (no user name: the person chooses
-- it, and it works only while no person's login exists) and invitations. Only the hash of the
-- link's secret is stored; a link works once and until it expires.
CREATE TABLE admin_invitations (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT,
    email TEXT,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'coordinator', 'helper')),
    created_by TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);

-- Sessions say where they were opened (the browser's User-Agent and the client address) and
-- when they were last used, so that a person can recognise and end them.
ALTER TABLE admin_sessions ADD COLUMN user_agent TEXT;
ALTER TABLE admin_sessions ADD COLUMN address TEXT;
ALTER TABLE admin_sessions ADD COLUMN last_used_at TIMESTAMPTZ;
