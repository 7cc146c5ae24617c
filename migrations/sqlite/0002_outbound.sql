-- Campaigns and their deliveries (the send queue), and schedule firings.

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('newsletter', 'invitation', 'cooperation')),
    topic_id INTEGER REFERENCES topics(id),
    occasion_id INTEGER REFERENCES occasions(id),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    audience TEXT NOT NULL DEFAULT '{}',       -- JSON: filters beyond consent
    schedule TEXT,                             -- cron: a recurring template, each firing a new run
    send_at TEXT,                              -- one-shot: start at this time
    parent_id INTEGER REFERENCES campaigns(id),
    status TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'done', 'cancelled')),
    status_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'bounced', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    lease_owner TEXT,
    message_id TEXT,
    last_error TEXT,
    sent_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (campaign_id, contact_id)
);
CREATE INDEX deliveries_queue ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_contact ON deliveries (contact_id, sent_at);

CREATE TABLE schedule_firings (
    schedule TEXT NOT NULL,
    slot TEXT NOT NULL,
    campaign_id INTEGER,
    fired_at TEXT NOT NULL,
    PRIMARY KEY (schedule, slot)
);

CREATE INDEX suppressions_address ON suppressions (address);
