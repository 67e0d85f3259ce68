//! The strategy's settings, read from the queue's config JSON. The host writes the queue
//! record's own choices here (its strategy and two switches) over whatever the admin put
//! in the queue's `config`:
//!
//! ```json
//! {"strategy": "grouped-linear", "ring-busy-agents": false, "remember-agent": true}
//! ```
//!
//! - `strategy`: `ring-all` (default), `linear`, `grouped-linear` or `round-robin`
//!   (`_` may stand for `-`, as the API spells them).
//! - `ring-busy-agents`: agents already in a call ring too (default false).
//! - `remember-agent`: a caller rings first the agent who last answered them (default false).
//!
//! Other members are ignored, so a company may keep settings of its own module beside these.

use serde_json::Value;

/// Who rings at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every eligible agent at once.
    RingAll,
    /// One agent at a time, in the members' order.
    Linear,
    /// One group (same order) at a time, the next group after the step timeout.
    GroupedLinear,
    /// One agent at a time, starting after the agent who took the queue's last call.
    RoundRobin,
}

/// The settings the standard strategy understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub strategy: Strategy,
    pub ring_busy_agents: bool,
    pub remember_agent: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { strategy: Strategy::RingAll, ring_busy_agents: false, remember_agent: false }
    }
}

impl Settings {
    /// Read the settings from `config`; empty text means the defaults.
    pub fn from_json(config: &str) -> Result<Settings, String> {
        let mut settings = Settings::default();
        if config.trim().is_empty() {
            return Ok(settings);
        }
        let value: Value = serde_json::from_str(config).map_err(|e| format!("config: {e}"))?;
        let Value::Object(members) = value else {
            return Err("config must be a JSON object".to_string());
        };
        if let Some(strategy) = members.get("strategy") {
            let Value::String(name) = strategy else {
                return Err("config: strategy must be a string".to_string());
            };
            settings.strategy = match name.replace('_', "-").as_str() {
                "ring-all" => Strategy::RingAll,
                "linear" => Strategy::Linear,
                "grouped-linear" => Strategy::GroupedLinear,
                "round-robin" => Strategy::RoundRobin,
                _ => {
                    return Err(format!(
                        "config: unknown strategy {name:?} (ring-all, linear, grouped-linear, round-robin)"
                    ));
                }
            };
        }
        settings.ring_busy_agents = switch(&members, "ring-busy-agents")?;
        settings.remember_agent = switch(&members, "remember-agent")?;
        Ok(settings)
    }
}

/// The boolean member `name`, false when absent or null.
fn switch(members: &serde_json::Map<String, Value>, name: &str) -> Result<bool, String> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(on)) => Ok(*on),
        Some(_) => Err(format!("config: {name} must be true or false")),
    }
}
