-- Who a campaign reached when it started, and why the others were not mailed: a JSON object of
-- counts (audience, reached, no_consent, suppressed, capped), written once by its start.
ALTER TABLE campaigns ADD COLUMN reach TEXT;
