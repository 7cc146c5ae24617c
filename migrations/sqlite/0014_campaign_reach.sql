-- Who a campaign reached when it started, and why the others were not mailed: a JSON object of
-- counts (audience, reached, no_consent, suppressed, capped), written once by its start.
ALTER TABLE campaigns ADD COLUMN reach TEXT;

-- An admin login's own address, where the test sends of a campaign go.
ALTER TABLE admin_users ADD COLUMN email TEXT;
