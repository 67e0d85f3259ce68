//! Where recordings' WAV files live: `<data_dir>/recordings/<company>/<id>.wav`, or, for a
//! host without a data directory (unit tests), a map in memory.
//!
//! Company ids are slugs and recording ids are made by the host ([`super::valid_id`] is
//! checked before any id from a client reaches here), so a path built from them never
//! leaves the recordings folder.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::app::App;

/// The recording files of one host.
pub(super) enum Files {
    /// `<data_dir>/recordings`.
    Dir(PathBuf),
    /// Kept in memory, keyed by `company/id` (ids are random, so tests sharing the
    /// process do not meet).
    Memory,
}

/// The in-memory files of hosts without a data directory.
fn memory() -> &'static Mutex<HashMap<String, Vec<u8>>> {
    static FILES: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    FILES.get_or_init(Default::default)
}

fn memory_key(company: &str, id: &str) -> String {
    format!("{company}/{id}")
}

impl Files {
    pub(super) fn of(app: &App) -> Files {
        match &app.data_dir {
            Some(dir) => Files::Dir(dir.join("recordings")),
            None => Files::Memory,
        }
    }

    /// The file of recording `id` of `company`, when files are on disk.
    pub(super) fn path(&self, company: &str, id: &str) -> Option<PathBuf> {
        match self {
            Files::Dir(root) => Some(root.join(company).join(format!("{id}.wav"))),
            Files::Memory => None,
        }
    }

    /// Store `bytes` as recording `id`: written to a temporary file, flushed, then renamed
    /// into place, so a crash never leaves a half-written recording under its name.
    pub(super) fn write(&self, company: &str, id: &str, bytes: &[u8]) -> std::io::Result<()> {
        let Files::Dir(root) = self else {
            crate::sync::lock(memory()).insert(memory_key(company, id), bytes.to_vec());
            return Ok(());
        };
        let dir = root.join(company);
        std::fs::create_dir_all(&dir)?;
        let temporary = dir.join(format!(".{id}.wav.tmp"));
        let written = write_synced(&temporary, bytes)
            .and_then(|()| std::fs::rename(&temporary, dir.join(format!("{id}.wav"))));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }

    /// The bytes of recording `id`.
    pub(super) fn read(&self, company: &str, id: &str) -> std::io::Result<Vec<u8>> {
        match self.path(company, id) {
            Some(path) => std::fs::read(path),
            None => crate::sync::lock(memory())
                .get(&memory_key(company, id))
                .cloned()
                .ok_or_else(|| std::io::ErrorKind::NotFound.into()),
        }
    }

    /// Remove recording `id`'s file; one already gone is not an error.
    pub(super) fn remove(&self, company: &str, id: &str) -> std::io::Result<()> {
        match self.path(company, id) {
            Some(path) => match std::fs::remove_file(path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            },
            None => {
                crate::sync::lock(memory()).remove(&memory_key(company, id));
                Ok(())
            }
        }
    }

    /// Remove every recording file of `company`.
    pub(super) fn remove_company(&self, company: &str) -> std::io::Result<()> {
        match self {
            Files::Dir(root) => match std::fs::remove_dir_all(root.join(company)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            },
            Files::Memory => {
                let prefix = memory_key(company, "");
                crate::sync::lock(memory()).retain(|key, _| !key.starts_with(&prefix));
                Ok(())
            }
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
