-- Date polls (Terminfindung): an occasion may offer 2-5 candidate dates, numbered from 1; the
-- invited answer which of them suit them. While an occasion has candidates and none is picked,
-- its own start and end are those of candidate 1 and nothing is sent that names a date.
CREATE TABLE occasion_dates (
    occasion_id INTEGER NOT NULL REFERENCES occasions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position BETWEEN 1 AND 5),
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    PRIMARY KEY (occasion_id, position)
);

-- One row per contact and candidate they answered: `can` 1 = suits them, 0 = does not. A later
-- answer replaces the earlier one for each date it names.
CREATE TABLE poll_answers (
    occasion_id INTEGER NOT NULL REFERENCES occasions(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    can INTEGER NOT NULL CHECK (can IN (0, 1)),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (occasion_id, contact_id, position)
);

-- The candidate the coordinator picked (NULL: the poll is open, or there was none).
ALTER TABLE occasions ADD COLUMN picked_date INTEGER;
