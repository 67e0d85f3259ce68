//! The operator's API token: `CENTRALITA_ADMIN_TOKEN` when set, otherwise generated on
//! first start into `DATA_DIR/admin-token` (mode 0600) and read from there afterwards.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Environment variable that sets the operator token.
pub const ENV: &str = "CENTRALITA_ADMIN_TOKEN";
/// File name of the generated token in the data directory.
pub const FILE: &str = "admin-token";

/// The operator token.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    if let Ok(token) = std::env::var(ENV)
        && !token.trim().is_empty()
    {
        tracing::info!("operator token taken from {ENV}");
        return Ok(token.trim().to_string());
    }
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => {
            tracing::info!(path = %path.display(), "operator token file");
            return Ok(token.trim().to_string());
        }
        // An empty file is what a crash between creating and writing it leaves: replace it.
        Ok(_) => std::fs::remove_file(&path)?,
        Err(_) => {}
    }
    let token = format!("op_{}", hex::encode(rand::random::<[u8; 24]>()));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated the operator token (mode 0600)");
    eprintln!("operator token written to {}", path.display());
    Ok(token)
}
