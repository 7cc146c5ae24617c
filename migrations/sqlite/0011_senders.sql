-- The senders (daemons, `campaigns send`) that hold claims on the send queue, with the time each
-- last said it is alive. A sender that has not beaten for a while is dead: another takes over
-- its claims at once instead of waiting for their lease to run out.
CREATE TABLE senders (
    owner TEXT PRIMARY KEY,
    last_seen TEXT NOT NULL
);
