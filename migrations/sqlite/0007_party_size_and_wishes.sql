-- How many people an RSVP brings in all ("wir kommen zu dritt" = 3); NULL = not said (one).
ALTER TABLE relations ADD COLUMN party_size INTEGER;

-- A contact's wish not to be invited on a topic before a time ("gern ab März", "nach den
-- Sommerferien"), with the message that caused it. Invitations and calls for cooperation on the
-- topic leave the contact out until `not_before`.
CREATE TABLE wishes (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    topic_id INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    wish TEXT NOT NULL,                        -- as read: "YYYY-MM" or "summer_holidays"
    not_before TEXT NOT NULL,                  -- resolved: the first moment to invite again
    cause_ref TEXT,                            -- the Message-ID of the reply
    inbound_id INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (contact_id, topic_id)
);
