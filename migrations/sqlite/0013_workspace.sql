-- The coordinator's workspace in the browser.
-- An archived topic keeps its consent records and history, gets no new sends and is hidden from
-- the choices (NULL = in use).
ALTER TABLE topics ADD COLUMN archived_at TEXT;

-- A group relation (form D) names its group: a person can work in several groups on one topic,
-- so the name is part of what identifies the relation ('' for the other forms).
ALTER TABLE relations ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
