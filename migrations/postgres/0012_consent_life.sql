-- Consent that lives (issue 17): what was consented to, re-permission, retention.

-- The consent text the person saw and the privacy notice's version, kept with the consent
-- (the timeline entry of each change keeps its own copy in its detail).
ALTER TABLE subscriptions ADD COLUMN consent_text TEXT;
ALTER TABLE subscriptions ADD COLUMN notice_version TEXT;
-- When the mail asking whether the person still wants this topic went out; cleared when they
-- say yes. Unanswered after `renewal.answer_days` the consent is withdrawn.
ALTER TABLE subscriptions ADD COLUMN renewal_asked_at TIMESTAMPTZ;

-- When the raw bytes of an inbound message were deleted (retention); the parsed visible text
-- and the decisions stay.
ALTER TABLE inbound_messages ADD COLUMN raw_deleted_at TIMESTAMPTZ;

-- Deliveries of finished campaigns, counted per status once their rows are deleted (retention).
CREATE TABLE delivery_totals (
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, status)
);

-- A daily job's run for one day: the insert is the claim, so with several daemons on one
-- database each job runs once a day.
CREATE TABLE daily_runs (
    job TEXT NOT NULL,
    day TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    report TEXT,
    PRIMARY KEY (job, day)
);
