-- The inbound spool (raw bytes first) and the decisions taken from each message.

CREATE TABLE inbound_messages (
    id INTEGER PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,            -- Message-ID, or sha256 of the bytes when missing
    raw BLOB NOT NULL,
    source TEXT NOT NULL,                      -- maildir, imap, stdin, http, file
    received_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('new', 'processing', 'processed', 'quarantined')),
    error TEXT,
    kind TEXT,
    intent TEXT,
    confidence REAL,
    language TEXT,
    visible_text TEXT,
    from_addr TEXT,
    subject TEXT,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
    campaign_id INTEGER,
    attribution TEXT,                          -- token, in_reply_to, from, none
    processed_at TEXT,
    lease_until TEXT                   -- a daemon processing it (several may share a database)
);
CREATE INDEX inbound_status ON inbound_messages (status);
CREATE INDEX inbound_from ON inbound_messages (from_addr);

CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    inbound_id INTEGER NOT NULL REFERENCES inbound_messages(id) ON DELETE CASCADE,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
    campaign_id INTEGER,
    action TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'rejected', 'undone', 'noted')),
    confidence REAL,
    reason TEXT NOT NULL,
    plan TEXT NOT NULL,                        -- JSON: the planned action
    undo TEXT NOT NULL DEFAULT '{}',           -- JSON: how to restore what applying changed
    created_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT
);
CREATE INDEX decisions_status ON decisions (status, created_at);
