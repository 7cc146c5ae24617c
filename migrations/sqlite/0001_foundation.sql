-- Contacts, topics, consent, occasions, relations, the timeline and suppressions.
-- Times are RFC 3339 text in UTC (sqlx's chrono encoding), ids are integers.

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,            -- lower-cased address: unique case-insensitively
    name TEXT,
    organisation TEXT,
    language TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',     -- JSON object of free columns
    source TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_activity_at TEXT,
    last_reply_at TEXT
);

CREATE TABLE topics (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE subscriptions (
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    topic_id INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    method TEXT NOT NULL,                      -- import, form, confirm-link, reply, admin, ...
    evidence TEXT,                             -- file, client address, message id ...
    changed_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (contact_id, topic_id)
);
CREATE INDEX subscriptions_topic ON subscriptions (topic_id, status);

CREATE TABLE occasions (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    place TEXT,
    description TEXT,
    capacity INTEGER,
    topic_id INTEGER REFERENCES topics(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE relations (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    form TEXT NOT NULL CHECK (form IN ('encounter', 'cooperation', 'group')),
    topic_id INTEGER REFERENCES topics(id) ON DELETE SET NULL,
    occasion_id INTEGER REFERENCES occasions(id) ON DELETE SET NULL,
    status TEXT NOT NULL,
    since TEXT NOT NULL,
    until TEXT,
    cause_kind TEXT NOT NULL,                  -- message, link, person, import
    cause_ref TEXT,                            -- inbound message id, token, user name
    note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX relations_contact ON relations (contact_id, status);

CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',         -- JSON
    campaign_id INTEGER,
    inbound_id INTEGER
);
CREATE INDEX activities_contact ON activities (contact_id, at);

CREATE TABLE suppressions (
    address_hash TEXT PRIMARY KEY,             -- sha256 of the lower-cased address
    address TEXT,                              -- NULL once forgotten
    reason TEXT NOT NULL,
    note TEXT,
    created_at TEXT NOT NULL
);
