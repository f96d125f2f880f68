-- Rate-limit state is worth nothing after a crash, so it need not cost a WAL flush per request.
ALTER TABLE rate_limits SET UNLOGGED;
