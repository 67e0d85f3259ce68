//! `log.write`: lines go to the host's log (tagged with company and module) and are kept
//! with the decision's outcome.

use crate::sandbox::bindings::log::{Host, Level};
use crate::sandbox::limits::{MAX_LOG_LINE, MAX_LOG_LINES};
use crate::sandbox::state::DecisionState;

impl Host for DecisionState {
    fn write(&mut self, level: Level, mut message: String) {
        if message.len() > MAX_LOG_LINE {
            let cut = (0..=MAX_LOG_LINE).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
            message.truncate(cut);
        }
        let (company, module) = (&self.scope.company, &self.scope.module);
        match level {
            Level::Debug => tracing::debug!(company, module, "{message}"),
            Level::Info => tracing::info!(company, module, "{message}"),
            Level::Warn => tracing::warn!(company, module, "{message}"),
            Level::Error => tracing::error!(company, module, "{message}"),
        }
        if self.logs.len() < MAX_LOG_LINES {
            self.logs.push((level, message));
        }
    }
}
