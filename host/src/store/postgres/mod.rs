//! The PostgreSQL backend (`--store postgres://…`): the store several hosts share.
//!
//! A pool of connections, each on its own thread ([`connection`]). A snapshot is a
//! `REPEATABLE READ READ ONLY` transaction; a write transaction takes one advisory lock
//! first, so writers run one at a time across every host, as in the embedded store, and
//! a read-then-write (a compare-and-swap, the next audit number) holds cluster-wide.
//! A write transaction's BEGIN and writes wait to go with its first read or its COMMIT,
//! in one round trip: a transaction of writes only (a batch of CDRs) costs one.
//! `COMMIT` returns once PostgreSQL has made the transaction durable.

mod cache;
pub(in crate::store) mod connection;
mod listen;
mod migrations;

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use connection::{Answer, Connection, Failure, Op};

use super::{Heard, RawRead, RawWrite, Row, StoreError};

/// Connections a host opens at most; more callers wait for one to be free.
const MAX_CONNECTIONS: usize = 32;
/// How long a caller waits for a free connection before failing.
const LEASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Session settings: a write waiting this long for the write lock fails instead of
/// hanging, and a transaction left open by a vanished host is ended.
const SESSION_OPTIONS: &str = "-c lock_timeout=10s -c idle_in_transaction_session_timeout=30s";
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A write transaction's writes wait to go in one round trip with its next read or its
/// COMMIT, written as hex literals; a larger value (a module's component) goes at once
/// as a parameter, and buffered statements past [`MAX_BUFFERED_SCRIPT`] are sent.
const MAX_BUFFERED_VALUE: usize = 64 << 10;
/// How many bytes of buffered statements a write transaction holds before sending them.
const MAX_BUFFERED_SCRIPT: usize = 1 << 20;

/// Who hears the change feed besides the cache.
pub(in crate::store) type Listener = Box<dyn Fn(&Heard) + Send>;

fn store_error(failure: Failure) -> StoreError {
    StoreError::Database(failure.message)
}

/// The connection pool; cheap to clone.
#[derive(Clone)]
pub(in crate::store) struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    config: ::postgres::Config,
    idle: Mutex<Idle>,
    freed: Condvar,
    cache: cache::ReadCache,
    /// Who else hears the change feed ([`Pool::listen`]).
    listeners: Mutex<Vec<Listener>>,
}

#[derive(Default)]
struct Idle {
    connections: Vec<Connection>,
    open: usize,
}

impl Pool {
    /// Connect to `url` and apply the missing migrations.
    pub(in crate::store) fn connect(url: &str) -> Result<Pool, StoreError> {
        let mut config: ::postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("the store URL is not a PostgreSQL URL: {e}")))?;
        config.application_name("centralita").options(SESSION_OPTIONS);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let inner = PoolInner {
            config,
            idle: Mutex::default(),
            freed: Condvar::new(),
            cache: cache::ReadCache::default(),
            listeners: Mutex::default(),
        };
        let pool = Pool { inner: Arc::new(inner) };
        let session = pool.lease()?;
        session.call(Op::Migrate)?;
        drop(session);
        // The feed keeps the cache true; a weak handle lets the pool go when unused.
        let feed = Arc::downgrade(&pool.inner);
        listen::spawn(
            pool.inner.config.clone(),
            Box::new(move |heard| match feed.upgrade() {
                Some(inner) => {
                    inner.heard(&heard);
                    true
                }
                None => false,
            }),
        );
        Ok(pool)
    }

    /// Call `on_heard` with every change any host announces, from now on.
    pub(in crate::store) fn listen(&self, on_heard: Listener) {
        crate::sync::lock(&self.inner.listeners).push(on_heard);
    }

    /// Notify every host's listeners now, outside a transaction.
    pub(in crate::store) fn publish(&self, topic: &str, subject: &str) -> Result<(), StoreError> {
        let session = self.lease()?;
        session
            .call(Op::Notify { channel: listen::CHANNEL, payload: listen::payload(topic, subject) })
            .map(|_| ())
    }

    /// A snapshot: answered from the cache where it can be, else from a transaction
    /// begun on the first read that needs the database.
    pub(in crate::store) fn snapshot(&self) -> Snapshot {
        Snapshot { pool: self.clone(), session: OnceCell::new() }
    }

    /// A session on a free connection, in a transaction. A write transaction begins
    /// with its first statement: one of writes only is a single round trip.
    pub(in crate::store) fn begin(&self, write: bool) -> Result<Session, StoreError> {
        let session = self.lease()?;
        if write {
            session.begin_deferred.set(true);
            return Ok(session);
        }
        session.in_transaction.set(true);
        session.call(Op::BeginSnapshot)?;
        Ok(session)
    }

    fn lease(&self) -> Result<Session, StoreError> {
        let inner = &self.inner;
        let mut idle = crate::sync::lock(&inner.idle);
        loop {
            if let Some(connection) = idle.connections.pop() {
                return Ok(self.session(connection));
            }
            if idle.open < MAX_CONNECTIONS {
                idle.open += 1;
                drop(idle);
                return match Connection::open(&inner.config) {
                    Ok(connection) => Ok(self.session(connection)),
                    Err(message) => {
                        self.give_back(None);
                        Err(StoreError::Database(format!("connecting to PostgreSQL: {message}")))
                    }
                };
            }
            let (guard, wait) = inner
                .freed
                .wait_timeout(idle, LEASE_TIMEOUT)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            idle = guard;
            if wait.timed_out() && idle.connections.is_empty() {
                return Err(StoreError::Database(format!(
                    "all {MAX_CONNECTIONS} PostgreSQL connections stayed busy for {LEASE_TIMEOUT:?}"
                )));
            }
        }
    }

    fn session(&self, connection: Connection) -> Session {
        Session {
            pool: self.clone(),
            connection: Some(connection),
            in_transaction: Cell::new(false),
            begin_deferred: Cell::new(false),
            buffered: RefCell::default(),
            lost: Cell::new(false),
            changed_cached: HashMap::new(),
        }
    }

    /// Return a healthy connection to the pool, or count a lost one (`None`) as closed.
    fn give_back(&self, connection: Option<Connection>) {
        let mut idle = crate::sync::lock(&self.inner.idle);
        match connection {
            Some(connection) => idle.connections.push(connection),
            None => idle.open -= 1,
        }
        self.inner.freed.notify_one();
    }
}

impl PoolInner {
    fn heard(&self, heard: &Heard) {
        match heard {
            Heard::Change { topic, subject } if topic == cache::TABLE_TOPIC => self.cache.forget(subject),
            Heard::Change { topic, subject } if topic == cache::ROW_TOPIC => {
                match cache::parse_row_subject(subject) {
                    Some((table, key)) => self.cache.forget_row(table, &key),
                    None => self.cache.forget_all(),
                }
            }
            Heard::Change { .. } | Heard::Nothing => {}
            Heard::Missed => self.cache.forget_all(),
        }
        if matches!(heard, Heard::Nothing) {
            return;
        }
        for listener in crate::sync::lock(&self.listeners).iter() {
            listener(heard);
        }
    }
}

/// One leased connection, usually inside a transaction; rolled back and returned to the
/// pool when dropped uncommitted.
pub(in crate::store) struct Session {
    pool: Pool,
    connection: Option<Connection>,
    /// PostgreSQL is inside this session's transaction (its BEGIN was sent).
    in_transaction: Cell<bool>,
    /// A write transaction whose BEGIN goes with its first statement.
    begin_deferred: Cell<bool>,
    /// Writes not sent yet: statements that go with the next read or with COMMIT.
    buffered: RefCell<String>,
    lost: Cell<bool>,
    /// The rows of cached tables this transaction wrote (`None`: the whole table, for a
    /// prefix delete or too many rows): announced and forgotten at commit.
    changed_cached: HashMap<&'static str, Option<HashSet<String>>>,
}

impl Session {
    fn call(&self, op: Op) -> Result<Answer, StoreError> {
        // Present from lease to drop: only `Drop` takes it out.
        let connection = self.connection.as_ref().expect("a session holds its connection");
        connection.call(op).map_err(|failure| {
            if failure.lost {
                self.lost.set(true);
            }
            store_error(failure)
        })
    }

    /// Send the deferred BEGIN and the buffered writes, then `tail` (COMMIT, or nothing),
    /// in one round trip; nothing when there is nothing to send.
    fn flush(&self, tail: &str) -> Result<(), StoreError> {
        let mut script = std::mem::take(&mut *self.buffered.borrow_mut());
        if self.begin_deferred.replace(false) {
            script.insert_str(0, &connection::begin_write());
            // Set first: a script that fails half-way (the write lock's timeout) leaves the
            // connection in a transaction that dropping the session must roll back.
            self.in_transaction.set(true);
        }
        script.push_str(tail);
        if script.is_empty() {
            return Ok(());
        }
        self.call(Op::Script(script)).map(|_| ())
    }

    /// Run `op`, which needs an answer now, after the buffered writes (a read sees them).
    fn query(&self, op: Op) -> Result<Answer, StoreError> {
        self.flush("")?;
        self.call(op)
    }

    /// Add `statement` to the buffered writes, sending them when they grow large.
    fn buffer(&self, statement: std::fmt::Arguments) -> Result<(), StoreError> {
        let mut buffered = self.buffered.borrow_mut();
        std::fmt::Write::write_fmt(&mut *buffered, statement)
            .map_err(|_| StoreError::Database("formatting a statement failed".into()))?;
        let full = buffered.len() > MAX_BUFFERED_SCRIPT;
        drop(buffered);
        if full { self.flush("") } else { Ok(()) }
    }

    /// Tell every host's listener of `topic`/`subject` when this transaction commits.
    pub(in crate::store) fn announce(&mut self, topic: &str, subject: &str) -> Result<(), StoreError> {
        let payload = hex::encode(listen::payload(topic, subject));
        // The payload travels as hex: no quoting of its text.
        self.buffer(format_args!(
            "SELECT pg_notify('{}', convert_from(decode('{payload}', 'hex'), 'UTF8')); ",
            listen::CHANNEL
        ))
    }

    pub(in crate::store) fn commit(mut self) -> Result<(), StoreError> {
        let changed: Vec<(&'static str, Option<HashSet<String>>)> = self.changed_cached.drain().collect();
        for (table, rows) in &changed {
            match rows {
                None => self.announce(cache::TABLE_TOPIC, table)?,
                Some(rows) => {
                    for key in rows {
                        self.announce(cache::ROW_TOPIC, &cache::row_subject(table, key))?;
                    }
                }
            }
        }
        // Nothing sent and nothing to send: nothing to commit.
        let idle = !self.in_transaction.get() && self.buffered.borrow().is_empty();
        let committed = if idle { Ok(()) } else { self.flush("COMMIT") };
        // Also after a failed COMMIT: whether it took effect is unknown.
        let cache = &self.pool.inner.cache;
        for (table, rows) in changed {
            match rows {
                None => cache.forget(table),
                Some(rows) => rows.iter().for_each(|key| cache.forget_row(table, key)),
            }
        }
        committed?;
        self.in_transaction.set(false);
        Ok(())
    }

    /// This transaction wrote `table`'s row `key` (`None`: rows under a prefix).
    fn wrote(&mut self, table: &'static str, key: Option<&str>) {
        if !cache::is_cached(table) {
            return;
        }
        let rows = self.changed_cached.entry(table).or_insert_with(|| Some(HashSet::new()));
        match (rows.as_mut(), key) {
            (Some(keys), Some(key)) if keys.len() < cache::MAX_ROWS_ANNOUNCED || keys.contains(key) => {
                keys.insert(key.to_string());
            }
            _ => *rows = None,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.in_transaction.get() && !self.lost.get() && self.call(Op::Rollback).is_err() {
            self.lost.set(true);
        }
        let connection = self.connection.take().filter(|_| !self.lost.get());
        self.pool.give_back(connection);
    }
}

fn unexpected(op: &str) -> StoreError {
    StoreError::Database(format!("the store connection answered {op} with something else"))
}

impl RawRead for Session {
    fn get(&self, table: &'static str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.query(Op::Get { table, key: key.to_string() })? {
            Answer::Value(value) => Ok(value),
            _ => Err(unexpected("get")),
        }
    }

    fn scan(&self, table: &'static str, prefix: &str) -> Result<Vec<Row>, StoreError> {
        match self.query(Op::Scan { table, prefix: prefix.to_string() })? {
            Answer::Rows(rows) => Ok(rows),
            _ => Err(unexpected("scan")),
        }
    }

    fn count(&self, table: &'static str, prefix: &str) -> Result<usize, StoreError> {
        match self.query(Op::Count { table, prefix: prefix.to_string() })? {
            Answer::Count(count) => Ok(count),
            _ => Err(unexpected("count")),
        }
    }

    fn scan_back(
        &self,
        table: &'static str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        match self.query(Op::ScanBack { table, before: before.map(str::to_string), limit })? {
            Answer::Rows(rows) => Ok(rows),
            _ => Err(unexpected("scan_back")),
        }
    }
}

impl RawWrite for Session {
    fn put(&mut self, table: &'static str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.wrote(table, Some(key));
        if value.len() > MAX_BUFFERED_VALUE {
            return self.query(Op::Put { table, key: key.to_string(), value: value.to_vec() }).map(|_| ());
        }
        self.buffer(format_args!(
            "INSERT INTO {table} (key, value) VALUES (decode('{}', 'hex'), decode('{}', 'hex')) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value; ",
            hex::encode(key),
            hex::encode(value)
        ))
    }

    fn delete(&mut self, table: &'static str, key: &str) -> Result<bool, StoreError> {
        self.wrote(table, Some(key));
        // Its answer (was the row there?) is needed now: not buffered.
        match self.query(Op::Delete { table, key: key.to_string() })? {
            Answer::Count(count) => Ok(count > 0),
            _ => Err(unexpected("delete")),
        }
    }

    fn delete_prefix(&mut self, table: &'static str, prefix: &str) -> Result<usize, StoreError> {
        self.wrote(table, None);
        match self.query(Op::DeletePrefix { table, prefix: prefix.to_string() })? {
            Answer::Count(count) => Ok(count),
            _ => Err(unexpected("delete_prefix")),
        }
    }
}

/// A read-only snapshot: cached tables from the cache, the rest (and cache misses) from a
/// `REPEATABLE READ` transaction begun on first need. (Rows answered from the cache may be
/// a few milliseconds older than the transaction's, until a change is heard.)
pub(in crate::store) struct Snapshot {
    pool: Pool,
    session: OnceCell<Session>,
}

impl Snapshot {
    fn session(&self) -> Result<&Session, StoreError> {
        if let Some(session) = self.session.get() {
            return Ok(session);
        }
        let session = self.pool.begin(false)?;
        Ok(self.session.get_or_init(|| session))
    }

    /// A read of `table`: what the cache holds (`cached`) when the table is cached and
    /// it holds the answer, else `read` from the database, the answer kept (`keep`) at
    /// the generation seen before reading.
    fn through_cache<T>(
        &self,
        table: &'static str,
        cached: impl FnOnce(&cache::ReadCache) -> Option<T>,
        read: impl FnOnce(&Session) -> Result<T, StoreError>,
        keep: impl FnOnce(&cache::ReadCache, u64, &T),
    ) -> Result<T, StoreError> {
        if !cache::is_cached(table) {
            return read(self.session()?);
        }
        let cache = &self.pool.inner.cache;
        if let Some(answer) = cached(cache) {
            return Ok(answer);
        }
        let generation = cache.generation(table);
        let answer = read(self.session()?)?;
        keep(cache, generation, &answer);
        Ok(answer)
    }
}

impl RawRead for Snapshot {
    fn get(&self, table: &'static str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.through_cache(
            table,
            |cache| cache.get(table, key),
            |session| session.get(table, key),
            |cache, generation, value| cache.keep_get(table, generation, key, value),
        )
    }

    fn scan(&self, table: &'static str, prefix: &str) -> Result<Vec<Row>, StoreError> {
        self.through_cache(
            table,
            |cache| cache.scan(table, prefix),
            |session| session.scan(table, prefix),
            |cache, generation, rows| cache.keep_scan(table, generation, prefix, rows),
        )
    }

    fn count(&self, table: &'static str, prefix: &str) -> Result<usize, StoreError> {
        self.session()?.count(table, prefix)
    }

    fn scan_back(
        &self,
        table: &'static str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.session()?.scan_back(table, before, limit)
    }
}
