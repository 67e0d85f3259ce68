//! Where the audio of voicemail messages lives: `<data_dir>/voicemail/<company>/<box>/<id>.wav`,
//! or, when the host has no data directory (unit tests), in a map in memory.
//!
//! A file is written under a temporary name, flushed to disk and then renamed, so a crash
//! never leaves a half-written WAV under a message's name.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, MutexGuard};

use super::VoicemailError;
use crate::app::App;

/// The folder under the data directory.
const FOLDER: &str = "voicemail";

/// Audio of hosts without a data directory, keyed by the path a file would have. Message
/// ids are random, so tests sharing the process do not collide.
static IN_MEMORY: LazyLock<Mutex<HashMap<PathBuf, Vec<u8>>>> = LazyLock::new(Default::default);

fn in_memory() -> MutexGuard<'static, HashMap<PathBuf, Vec<u8>>> {
    crate::sync::lock(&IN_MEMORY)
}

/// A path component that stays inside its folder: not empty, not "." or "..", no
/// separators. Names are validated at creation; this guards against any that were not.
fn component(name: &str) -> Result<&str, VoicemailError> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with('.');
    if plain { Ok(name) } else { Err(VoicemailError::UnsafeName(name.to_string())) }
}

/// The folder of one box, relative to the data directory.
fn box_folder(company: &str, mailbox: &str) -> Result<PathBuf, VoicemailError> {
    Ok(Path::new(FOLDER).join(component(company)?).join(component(mailbox)?))
}

fn file_name(id: &str) -> Result<String, VoicemailError> {
    Ok(format!("{}.wav", component(id)?))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> VoicemailError + '_ {
    move |source| VoicemailError::Io { path: path.to_path_buf(), source }
}

/// Store the WAV `bytes` of message `id`.
pub(super) fn write(
    app: &App,
    company: &str,
    mailbox: &str,
    id: &str,
    bytes: &[u8],
) -> Result<(), VoicemailError> {
    let folder = box_folder(company, mailbox)?;
    let name = file_name(id)?;
    let Some(data_dir) = &app.data_dir else {
        in_memory().insert(folder.join(name), bytes.to_vec());
        return Ok(());
    };
    let folder = data_dir.join(folder);
    std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
    let temporary = folder.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    let target = folder.join(name);
    let renamed = written.and_then(|()| std::fs::rename(&temporary, &target));
    if let Err(error) = renamed {
        let _ = std::fs::remove_file(&temporary);
        return Err(VoicemailError::Io { path: target, source: error });
    }
    // The rename is durable only once the folder itself is flushed.
    if let Ok(dir) = std::fs::File::open(&folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// The WAV bytes of message `id`; `None` when there is no such file.
pub(super) fn read(
    app: &App,
    company: &str,
    mailbox: &str,
    id: &str,
) -> Result<Option<Vec<u8>>, VoicemailError> {
    let path = box_folder(company, mailbox)?.join(file_name(id)?);
    let Some(data_dir) = &app.data_dir else {
        return Ok(in_memory().get(&path).cloned());
    };
    let path = data_dir.join(path);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(&path)(error)),
    }
}

/// Remove the audio of message `id`; a file already gone is not an error.
pub(super) fn remove(app: &App, company: &str, mailbox: &str, id: &str) -> Result<(), VoicemailError> {
    let path = box_folder(company, mailbox)?.join(file_name(id)?);
    let Some(data_dir) = &app.data_dir else {
        in_memory().remove(&path);
        return Ok(());
    };
    let path = data_dir.join(path);
    match std::fs::remove_file(&path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io_error(&path)(error)),
        _ => Ok(()),
    }
}

/// Remove the audio of every message of a box.
pub(super) fn remove_box(app: &App, company: &str, mailbox: &str) -> Result<(), VoicemailError> {
    let folder = box_folder(company, mailbox)?;
    let Some(data_dir) = &app.data_dir else {
        in_memory().retain(|path, _| !path.starts_with(&folder));
        return Ok(());
    };
    let folder = data_dir.join(folder);
    match std::fs::remove_dir_all(&folder) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io_error(&folder)(error)),
        _ => Ok(()),
    }
}
