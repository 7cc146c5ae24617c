-- An occasion's iCalendar SEQUENCE (raised by each change of time or place, RFC 5546 2.1.4) and
-- its cancellation; a cancelled occasion keeps its RSVPs.
ALTER TABLE occasions ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE occasions ADD COLUMN cancelled_at TIMESTAMPTZ;
ALTER TABLE occasions ADD COLUMN cancel_reason TEXT;

-- Who came: set on the contact's encounter with the occasion (NULL = not recorded).
ALTER TABLE relations ADD COLUMN attendance TEXT CHECK (attendance IN ('came', 'no_show'));
ALTER TABLE relations ADD COLUMN attendance_at TIMESTAMPTZ;
