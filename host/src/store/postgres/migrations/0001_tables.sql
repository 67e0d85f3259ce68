-- Centralita's tables on PostgreSQL, version 1: one table per collection of the store.
-- Keys are bytes (they hold NUL separators; byte order is the embedded store's key
-- order) and values are the records as the host encodes them (JSON; raw bytes for
-- module_kv and module_blobs).

CREATE TABLE companies (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE users (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE devices (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE dids (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE did_owners (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE aliases (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE external_numbers (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE api_keys (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE module_versions (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE module_installs (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE audit (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE retired_companies (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE sip_domains (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE cdrs (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE bans (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE whitelist (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE voicemail_boxes (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE voicemail_messages (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE service_codes (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE service_code_overrides (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE pickup_groups (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE rooms (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE recordings (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE recording_usage (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE queues (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE queue_days (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE ivr_menus (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE prompts (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE call_events (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE module_kv (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE module_blobs (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
