-- Rate limits (login, subscribe, public pages, API authentication) counted in the database, so
-- that several daemons on one PostgreSQL database share them: hits per scope, client key
-- (an IPv4 address or an IPv6 /64) and fixed window; the limiter weighs the current and the
-- previous window into a sliding estimate. Old windows are deleted as they pass.
CREATE TABLE rate_hits (
    scope TEXT NOT NULL,
    client TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (scope, client, window_start)
);
