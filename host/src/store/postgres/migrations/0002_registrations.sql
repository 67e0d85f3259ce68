-- Version 2: the registered contacts of each extension, shared by the hosts of a cluster.

CREATE TABLE registrations (key BYTEA PRIMARY KEY, value BYTEA NOT NULL);
