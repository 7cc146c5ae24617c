-- Reminders, follow-ups and thank-you mails of an occasion: per-occasion days (NULL = the
-- configured default, 0 = off).
ALTER TABLE occasions ADD COLUMN reminder_days INTEGER;
ALTER TABLE occasions ADD COLUMN follow_up_days INTEGER;

-- Such a mail is a campaign of the occasion (kind invitation) marked with what it is, at most
-- one of each per occasion, so its deliveries (unique per campaign and contact) go out once per
-- contact through the ordinary sender, also with several daemons. `next_step` is the thank-you's
-- next step (group, cooperation, none).
ALTER TABLE campaigns ADD COLUMN occasion_mail TEXT
    CHECK (occasion_mail IN ('reminder', 'follow_up', 'thanks'));
ALTER TABLE campaigns ADD COLUMN next_step TEXT
    CHECK (next_step IN ('group', 'cooperation', 'none'));
CREATE UNIQUE INDEX campaigns_occasion_mail ON campaigns (occasion_id, occasion_mail)
    WHERE occasion_mail IS NOT NULL;
