//! Test stores on the PostgreSQL server the test command starts (`scripts/postgres.sh`,
//! URL in `CENTRALITA_TEST_POSTGRES`): each call makes a fresh, empty database.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::Store;

/// The variable that names the test server.
pub const SERVER_VARIABLE: &str = "CENTRALITA_TEST_POSTGRES";

/// The URL of a new empty database on the test server. Panics, saying what to run, when
/// there is no test server: a PostgreSQL test must not pass without PostgreSQL.
pub fn fresh_database_url() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = std::env::var(SERVER_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{SERVER_VARIABLE} is not set: run the tests with scripts/test.sh, or start a server with \
             `scripts/postgres.sh start DIR` and export its URL"
        )
    });
    let mut client = ::postgres::Client::connect(&server, ::postgres::NoTls)
        .unwrap_or_else(|e| panic!("the test PostgreSQL at {server} is unreachable: {e}"));
    let name = format!("centralita_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    create_database(&mut client, &name);
    match server.rsplit_once('/') {
        Some((base, _)) if base.contains("://") && !base.ends_with('/') => format!("{base}/{name}"),
        _ => panic!(
            "{SERVER_VARIABLE} must end with a database name, as in postgres://postgres@127.0.0.1:5432/postgres: {server}"
        ),
    }
}

/// How often a `CREATE DATABASE` is tried: it fails, now and then, while tests running in
/// parallel copy the template database at the same moment ("source database is being
/// accessed by other users").
const CREATE_ATTEMPTS: u32 = 5;

fn create_database(client: &mut ::postgres::Client, name: &str) {
    for attempt in 1.. {
        match client.batch_execute(&format!("CREATE DATABASE {name}")) {
            Ok(()) => return,
            Err(error) if attempt < CREATE_ATTEMPTS => {
                eprintln!("CREATE DATABASE {name} (attempt {attempt}): {error}; trying again");
                std::thread::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)));
            }
            Err(error) => panic!("cannot create the test database {name}: {error}"),
        }
    }
}

/// A store on a new empty database of the test server.
pub fn postgres() -> Store {
    Store::connect(&fresh_database_url()).expect("connect to the test database")
}
