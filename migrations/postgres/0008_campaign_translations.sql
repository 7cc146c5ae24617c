-- A campaign's own text in further languages: {"tr": {"subject": "...", "body": "..."}, ...}.
-- The main subject and body are in default_language; a language or field missing here falls
-- back to them.
ALTER TABLE campaigns ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
