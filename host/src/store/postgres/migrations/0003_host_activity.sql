-- Version 3: what each host of a cluster tells the others of its calls (shared queue state).

CREATE TABLE host_activity (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
