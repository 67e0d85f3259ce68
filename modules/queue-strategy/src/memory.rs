//! What the strategy remembers between calls, in the module's kv (private to the company
//! and this module): who took each queue's last call (round robin) and who last answered
//! each caller (remember the agent). Losing it only changes who rings first, so a kv
//! failure is logged and the decision goes on without it.

use guest_sdk::{kv, log};

/// The key of the agent who took `queue`'s last call.
fn last_agent_key(queue: &str) -> String {
    format!("last-agent/{queue}")
}

/// The key of the agent who last answered `caller` in `queue`.
fn caller_key(queue: &str, caller: &str) -> String {
    format!("caller/{queue}/{caller}")
}

/// Callers that cannot be told apart are never remembered.
fn rememberable(caller: &str) -> bool {
    !caller.is_empty() && !caller.eq_ignore_ascii_case("anonymous")
}

fn read(key: &str) -> Option<String> {
    match kv::get(key) {
        Ok(entry) => entry.and_then(|entry| String::from_utf8(entry.value).ok()),
        Err(error) => {
            log::warn(&format!("kv get {key}: {error:?}"));
            None
        }
    }
}

fn write(key: &str, value: &str) {
    if let Err(error) = kv::set(key, value.as_bytes()) {
        log::warn(&format!("kv set {key}: {error:?}"));
    }
}

/// The agent who took `queue`'s last call.
pub fn last_agent(queue: &str) -> Option<String> {
    read(&last_agent_key(queue))
}

/// The agent who last answered `caller` in `queue`.
pub fn remembered_agent(queue: &str, caller: &str) -> Option<String> {
    if !rememberable(caller) {
        return None;
    }
    read(&caller_key(queue, caller))
}

/// `agent` answered `caller` in `queue`.
pub fn record_answer(queue: &str, caller: &str, agent: &str, remember_caller: bool) {
    write(&last_agent_key(queue), agent);
    if remember_caller && rememberable(caller) {
        write(&caller_key(queue, caller), agent);
    }
}
