//! One PostgreSQL connection on its own thread. The `postgres` client drives its own
//! runtime and must not be called from inside the host's tokio runtime, where most store
//! calls come from; so each pooled connection lives on a plain thread and its user sends
//! it one operation at a time and waits for the answer.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender, channel};

use ::postgres::{Client, Config, NoTls, Statement};

use super::super::Row;
use super::migrations;

/// The advisory lock every write transaction holds: writers are serialised across hosts,
/// as redb serialises them in one process.
pub(in crate::store) const WRITE_LOCK: i64 = 0x6365_6e74_7772_6974;

/// The statements that begin a write transaction: BEGIN and the write lock.
pub(super) fn begin_write() -> String {
    format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK}); ")
}

/// One operation on the connection.
pub(super) enum Op {
    /// A snapshot's transaction. (A write transaction's BEGIN goes in its first
    /// [`Op::Script`], see [`begin_write`].)
    BeginSnapshot,
    Get {
        table: &'static str,
        key: String,
    },
    Scan {
        table: &'static str,
        prefix: String,
    },
    Count {
        table: &'static str,
        prefix: String,
    },
    ScanBack {
        table: &'static str,
        before: Option<String>,
        limit: usize,
    },
    Put {
        table: &'static str,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        table: &'static str,
        key: String,
    },
    DeletePrefix {
        table: &'static str,
        prefix: String,
    },
    Notify {
        channel: &'static str,
        payload: String,
    },
    /// Several statements in one round trip (PostgreSQL's simple query protocol), values
    /// written as literals: a write transaction's buffered writes ([`super::Session`]).
    Script(String),
    Rollback,
    Migrate,
}

/// What an operation gives back.
pub(super) enum Answer {
    Done,
    Value(Option<Vec<u8>>),
    Rows(Vec<Row>),
    Count(usize),
}

/// An operation that failed; `lost` when the connection is gone with it.
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) lost: bool,
}

type Reply = Result<Answer, Failure>;

/// The caller's end of a connection thread.
pub(super) struct Connection {
    ops: Sender<Op>,
    answers: Receiver<Reply>,
}

impl Connection {
    /// Connect on a new thread; fails when the database cannot be reached.
    pub(super) fn open(config: &Config) -> Result<Connection, String> {
        let (ops, ops_in) = channel();
        let (answers_out, answers) = channel();
        let config = config.clone();
        std::thread::Builder::new()
            .name("store-postgres".into())
            .spawn(move || match config.connect(NoTls) {
                Ok(client) => {
                    if answers_out.send(Ok(Answer::Done)).is_ok() {
                        serve(client, &ops_in, &answers_out);
                    }
                }
                Err(error) => {
                    let _ = answers_out.send(Err(Failure { message: describe(&error), lost: true }));
                }
            })
            .map_err(|e| format!("starting a store connection thread: {e}"))?;
        let connection = Connection { ops, answers };
        match connection.answers.recv() {
            Ok(Ok(_)) => Ok(connection),
            Ok(Err(failure)) => Err(failure.message),
            Err(_) => Err("the store connection thread stopped".into()),
        }
    }

    /// Run `op` and wait for its answer.
    pub(super) fn call(&self, op: Op) -> Reply {
        let lost = || Failure { message: "the store connection thread stopped".into(), lost: true };
        self.ops.send(op).map_err(|_| lost())?;
        self.answers.recv().map_err(|_| lost())?
    }
}

fn serve(mut client: Client, ops: &Receiver<Op>, answers: &Sender<Reply>) {
    let mut statements = HashMap::new();
    while let Ok(op) = ops.recv() {
        let reply = run(&mut client, &mut statements, op)
            .map_err(|error| Failure { message: describe(&error), lost: client.is_closed() });
        if answers.send(reply).is_err() {
            break;
        }
    }
}

/// The error as PostgreSQL put it, with its detail when it gave one.
fn describe(error: &::postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => error.to_string(),
    }
}

/// The first key after every key starting with `prefix`; none when nothing is after.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// `WHERE` for the keys starting with `prefix`, and its parameters.
fn prefix_clause(prefix: &str) -> (&'static str, Vec<Vec<u8>>) {
    if prefix.is_empty() {
        return ("", Vec::new());
    }
    match prefix_end(prefix.as_bytes()) {
        Some(end) => ("WHERE key >= $1 AND key < $2", vec![prefix.as_bytes().to_vec(), end]),
        None => ("WHERE key >= $1", vec![prefix.as_bytes().to_vec()]),
    }
}

fn prepared(
    client: &mut Client,
    statements: &mut HashMap<String, Statement>,
    sql: String,
) -> Result<Statement, ::postgres::Error> {
    if let Some(statement) = statements.get(&sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(&sql)?;
    statements.insert(sql, statement.clone());
    Ok(statement)
}

fn params(values: &[Vec<u8>]) -> Vec<&(dyn ::postgres::types::ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ::postgres::types::ToSql + Sync)).collect()
}

fn rows(table: &str, found: Vec<::postgres::Row>) -> Result<Vec<Row>, ::postgres::Error> {
    Ok(found
        .iter()
        .map(|row| {
            let key: Vec<u8> = row.get(0);
            // Keys are written from Rust strings, so they are UTF-8; a foreign row that is
            // not shows up as replacement characters rather than failing the whole scan.
            let key = String::from_utf8(key).unwrap_or_else(|e| {
                tracing::warn!(table, "a key that is not UTF-8 in the store");
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            });
            (key, row.get::<_, Vec<u8>>(1))
        })
        .collect())
}

fn run(
    client: &mut Client,
    statements: &mut HashMap<String, Statement>,
    op: Op,
) -> Result<Answer, ::postgres::Error> {
    match op {
        Op::BeginSnapshot => {
            client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            Ok(Answer::Done)
        }
        Op::Notify { channel, payload } => {
            let statement = prepared(client, statements, "SELECT pg_notify($1, $2)".to_string())?;
            client.execute(&statement, &[&channel, &payload])?;
            Ok(Answer::Done)
        }
        Op::Script(script) => {
            client.batch_execute(&script)?;
            Ok(Answer::Done)
        }
        Op::Rollback => {
            client.batch_execute("ROLLBACK")?;
            Ok(Answer::Done)
        }
        Op::Migrate => {
            migrations::run(client)?;
            Ok(Answer::Done)
        }
        Op::Get { table, key } => {
            let statement =
                prepared(client, statements, format!("SELECT value FROM {table} WHERE key = $1"))?;
            let found = client.query_opt(&statement, &[&key.as_bytes()])?;
            Ok(Answer::Value(found.map(|row| row.get(0))))
        }
        Op::Scan { table, prefix } => {
            let (clause, values) = prefix_clause(&prefix);
            let sql = format!("SELECT key, value FROM {table} {clause} ORDER BY key");
            let statement = prepared(client, statements, sql)?;
            Ok(Answer::Rows(rows(table, client.query(&statement, &params(&values))?)?))
        }
        Op::Count { table, prefix } => {
            let (clause, values) = prefix_clause(&prefix);
            let statement = prepared(client, statements, format!("SELECT count(*) FROM {table} {clause}"))?;
            let count: i64 = client.query_one(&statement, &params(&values))?.get(0);
            Ok(Answer::Count(usize::try_from(count).unwrap_or(usize::MAX)))
        }
        Op::ScanBack { table, before, limit } => {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let found = match before {
                Some(before) => {
                    let sql =
                        format!("SELECT key, value FROM {table} WHERE key < $1 ORDER BY key DESC LIMIT $2");
                    let statement = prepared(client, statements, sql)?;
                    client.query(&statement, &[&before.as_bytes(), &limit])?
                }
                None => {
                    let sql = format!("SELECT key, value FROM {table} ORDER BY key DESC LIMIT $1");
                    let statement = prepared(client, statements, sql)?;
                    client.query(&statement, &[&limit])?
                }
            };
            Ok(Answer::Rows(rows(table, found)?))
        }
        Op::Put { table, key, value } => {
            let sql = format!(
                "INSERT INTO {table} (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            );
            let statement = prepared(client, statements, sql)?;
            client.execute(&statement, &[&key.as_bytes(), &value])?;
            Ok(Answer::Done)
        }
        Op::Delete { table, key } => {
            let statement = prepared(client, statements, format!("DELETE FROM {table} WHERE key = $1"))?;
            Ok(Answer::Count(client.execute(&statement, &[&key.as_bytes()])? as usize))
        }
        Op::DeletePrefix { table, prefix } => {
            let (clause, values) = prefix_clause(&prefix);
            let statement = prepared(client, statements, format!("DELETE FROM {table} {clause}"))?;
            Ok(Answer::Count(client.execute(&statement, &params(&values))? as usize))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn the_end_of_a_prefix_range_is_its_successor() {
        assert_eq!(prefix_end(b"acme\0"), Some(b"acme\x01".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }
}
