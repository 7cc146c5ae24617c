-- The send queue is claimed per running campaign, walking this index in order
-- (status, campaign, due time): a claim reads only the rows it takes, however long the queue.
-- It replaces deliveries_queue, whose claim had to collect and sort every due row.
DROP INDEX deliveries_queue;
CREATE INDEX deliveries_claim ON deliveries (status, campaign_id, next_attempt_at);

-- A campaign that paused itself on temporary failures (the relay is away) runs again at this time.
ALTER TABLE campaigns ADD COLUMN resume_at TIMESTAMPTZ;
