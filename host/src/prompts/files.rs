//! Where converted uploads live: `<dir>/<company>/<name>.wav`. A file is written under a
//! temporary name, flushed and renamed over the old one, so a crash or a concurrent reader
//! never sees half a prompt.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::PromptError;

/// The file of prompt `name` of `company`. Both were checked to be plain names
/// (`check_name`, `check_company`), so the path stays inside `dir`.
pub(super) fn path(dir: &Path, company: &str, name: &str) -> PathBuf {
    dir.join(company).join(format!("{name}.wav"))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PromptError + '_ {
    move |source| PromptError::Io { path: path.to_path_buf(), source }
}

/// Writes `bytes` to a temporary file beside `path`, flushed to disk; [`commit`] then puts
/// it in place. Split in two so that only the rename happens under the prompts' lock.
pub(super) fn stage(path: &Path, bytes: &[u8]) -> Result<PathBuf, PromptError> {
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(io_error(folder))?;
    let temporary = path.with_extension(format!("wav.{}.tmp", hex::encode(rand::random::<[u8; 4]>())));
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(error) = written {
        // Best effort: the error that matters is the write's.
        let _ = std::fs::remove_file(&temporary);
        return Err(io_error(&temporary)(error));
    }
    Ok(temporary)
}

/// Renames a [`stage`]d file over `path`, replacing any previous one atomically.
pub(super) fn commit(staged: &Path, path: &Path) -> Result<(), PromptError> {
    std::fs::rename(staged, path).map_err(|error| {
        let _ = std::fs::remove_file(staged);
        io_error(path)(error)
    })
}

/// The file at `path`; `None` when there is none.
pub(super) fn read(path: &Path) -> Result<Option<Vec<u8>>, PromptError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Removes the file at `path`; one that is already gone is fine.
pub(super) fn remove(path: &Path) -> Result<(), PromptError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Removes a whole folder (a deleted company's prompts); one already gone is fine.
pub(super) fn remove_folder(folder: &Path) -> Result<(), PromptError> {
    match std::fs::remove_dir_all(folder) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(folder)(e)),
    }
}
