-- Up Migration
-- Operators: a caller marked admin sees the jobs of every domain and may list and replay dead letters
-- (the console's operators). It still has a home domain, the one it acts for when it starts jobs.
ALTER TABLE api_callers ADD COLUMN admin boolean NOT NULL DEFAULT false;
