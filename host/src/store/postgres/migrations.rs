//! The PostgreSQL schema, as numbered migrations applied in order. Each host applies the
//! missing ones at start, under an advisory lock so that hosts starting together do not
//! race; the applied ones are listed in `centralita_migrations`. A database migrated by a
//! newer host is refused rather than misread.

use ::postgres::Client;

/// Every migration: number, name, SQL. Append only; never edit one that has shipped.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "tables", include_str!("migrations/0001_tables.sql")),
    (2, "registrations", include_str!("migrations/0002_registrations.sql")),
    (3, "host_activity", include_str!("migrations/0003_host_activity.sql")),
];

/// Held while migrating, so that one host migrates and the others wait.
const MIGRATION_LOCK: i64 = 0x6365_6e74_6d69_6772;

pub(super) fn run(client: &mut Client) -> Result<(), ::postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS centralita_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    let applied: Vec<i32> =
        tx.query("SELECT version FROM centralita_migrations", &[])?.iter().map(|row| row.get(0)).collect();
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(newer) = applied.iter().copied().filter(|v| *v > known).max() {
        tx.batch_execute(&format!(
            "DO $$ BEGIN RAISE EXCEPTION 'the database has migration {newer}, newer than this host''s {known}: run a newer centralita'; END $$"
        ))?;
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
        tracing::info!(version, name, "applying a store migration");
        tx.batch_execute(sql)?;
        tx.execute("INSERT INTO centralita_migrations (version, name) VALUES ($1, $2)", &[version, name])?;
    }
    tx.commit()
}
