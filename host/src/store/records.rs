//! What is stored: one record type per entity of SPEC.md. The API shows these records
//! (secrets left out by `#[serde(skip_serializing)]` only where noted) and accepts its own
//! request types, which it turns into records after validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod activity;
pub use activity::*;
mod call_events;
pub use call_events::*;
mod ivr;
pub use ivr::*;
mod recording;
pub use recording::*;

mod prompts;
pub use prompts::*;

mod pickup;
mod queue;
mod room;
mod service_codes;
mod voicemail;
pub use pickup::*;
pub use queue::*;
pub use room::*;
pub use service_codes::*;
pub use voicemail::*;

/// Where a call goes next (SPEC.md §2 "Destinations everywhere"). JSON:
/// `{"extension": "101"}`, `{"queue": "sales"}`, ..., or `"hang_up"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// A user's extension, by extension number.
    Extension(String),
    /// A queue, by name.
    Queue(String),
    /// An IVR menu, by name.
    Ivr(String),
    /// A voicemail box, by name.
    Voicemail(String),
    /// A named external number, by name.
    ExternalNumber(String),
    /// A conference room, by name.
    Conference(String),
    /// Another installed module, by name.
    Module(String),
    /// End the call.
    HangUp,
}

/// A company (tenant) of the operator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Company {
    /// Short id used in every URL, e.g. "acme" (lowercase letters, digits, '-').
    pub id: String,
    /// Display name.
    pub name: String,
    /// Most extensions the company may have; creating one more is refused.
    pub max_extensions: u32,
    /// IANA time zone that DID rules are written in, e.g. "Europe/Madrid".
    pub time_zone: String,
    /// The company's SIP domain, also its digest realm.
    pub sip_domain: String,
    /// The SIP trunk provider used for outside calls.
    pub trunk: Option<TrunkProvider>,
    /// A second provider used when the first fails.
    pub secondary_trunk: Option<TrunkProvider>,
    /// Wall-time limit of one routing decision, in milliseconds.
    pub decision_deadline_ms: u32,
    /// Memory limit of one routing decision, in MiB.
    pub decision_memory_mib: u32,
    /// The module that authorises the company's outgoing calls (default "permissions").
    #[serde(default = "default_permissions_module")]
    pub permissions_module: String,
    /// Its settings, a JSON object, e.g. `{"blocked-prefixes": ["00", "0034806"]}`.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub permissions_config: serde_json::Value,
    /// Recordings older than this many days (1-60) are deleted; none = kept.
    #[serde(default)]
    pub recording_retention_days: Option<u32>,
    /// Most megabytes (1,000,000 bytes) the company's recordings may take; none = no limit.
    #[serde(default)]
    pub recording_quota_mb: Option<u64>,
    /// How the company's people write numbers (SPEC §12), for normalising them.
    #[serde(default)]
    pub dialling: crate::dialling::DiallingPlan,
    /// When the company was created.
    pub created_at: DateTime<Utc>,
}

/// The standard permissions module, every company's policy until an admin picks another;
/// records stored before the field existed read as this.
pub fn default_permissions_module() -> String {
    crate::routing::permissions::DEFAULT_MODULE.to_string()
}

/// `{}`: module settings when none were given.
pub fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// A SIP trunk provider account (SPEC.md §1). As stored, fields it does not know are
/// ignored: a host reads the rows a newer host wrote (a rolling upgrade). The API takes
/// it strictly ([`crate::api::companies::TrunkBody`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrunkProvider {
    /// Account user name at the provider.
    pub username: String,
    /// Account SIP password at the provider.
    pub password: String,
    /// The provider's SIP domain.
    pub domain: String,
    /// Outbound proxy, "host[:port]", when the provider needs one.
    pub outbound_proxy: Option<String>,
    /// Whether Centralita registers the account (default true). `false` for a provider
    /// that knows the PBX by its address (an IP-authenticated trunk): calls still go out
    /// with the credentials, and come in from the provider's address.
    #[serde(default = "registered_by_default")]
    pub register: bool,
}

pub(crate) fn registered_by_default() -> bool {
    true
}

/// A user's role in their company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An ordinary user.
    User,
    /// A company administrator.
    Admin,
}

/// A user and their extension (SPEC.md §1).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// The company the user belongs to.
    pub company: String,
    /// Extension number, unique inside the company.
    pub extension: String,
    /// The user's role.
    pub role: Role,
    /// E-mail address.
    pub email: String,
    /// Full name, shown as caller name on internal calls.
    pub full_name: String,
    /// Argon2 hash of the portal password; never shown (the API answers `UserView`).
    pub portal_password_hash: Option<String>,
    /// Whether the user may only call internally.
    pub internal_only: bool,
    /// Mobile number (mobile extension).
    pub mobile: Option<String>,
    /// SIP password, generated by the server (never chosen by an admin).
    pub sip_password: String,
    /// When the SIP password stops being accepted, if it expires.
    pub sip_password_expires_at: Option<DateTime<Utc>>,
    /// Caller id for outside calls: one of the company's DIDs, or none = anonymous.
    pub outgoing_caller_id: Option<String>,
    /// Which of the extension's calls are recorded (SPEC.md §6).
    #[serde(default)]
    pub recording: RecordingSettings,
    /// How the web phone rings with the other devices (SPEC.md §8).
    #[serde(default)]
    pub web_phone_mode: WebPhoneMode,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// What kind of device a [`Device`] is (SPEC.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A desk phone.
    DeskPhone,
    /// A softphone on a computer.
    Softphone,
    /// A mobile app.
    MobileApp,
    /// The web phone of the user portal.
    WebPhone,
}

/// How an extension's web phone rings (SPEC.md §8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebPhoneMode {
    /// The web phone is one more device: it rings with the others, by its order.
    #[default]
    MultiDevice,
    /// While a web phone is logged in only it rings; otherwise the other devices do.
    Exclusive,
}

/// One of the devices of an extension (SPEC.md §8, "multiterminal"); at most 8 each.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Device {
    /// The company.
    pub company: String,
    /// The extension the device belongs to.
    pub extension: String,
    /// Short id, unique per extension, e.g. "desk" (lowercase letters, digits, '-').
    pub id: String,
    /// Display name.
    pub name: String,
    /// What kind of device it is.
    pub kind: DeviceKind,
    /// Ring order: the lowest rings first, equal orders ring together, 0 never rings.
    pub order: u8,
    /// Disabled devices never ring.
    pub enabled: bool,
    /// The SIP user name the device registers with, "<extension>-<id>".
    pub sip_username: String,
    /// When the device was created.
    pub created_at: DateTime<Utc>,
}

/// An inbound number and its routing (SPEC.md §2).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Did {
    /// The company the number belongs to.
    pub company: String,
    /// The number, digits with an optional leading '+'.
    pub number: String,
    /// Free text.
    pub description: String,
    /// When set, every call goes here and no rule is evaluated.
    pub forward: Option<Destination>,
    /// Ordered time/caller rules.
    pub rules: Vec<DidRule>,
    /// Where calls go when no rule matches.
    pub default_destination: Destination,
    /// Where calls go when the routing module fails (defaults to the default destination).
    pub fallback_destination: Option<Destination>,
    /// The module that decides (default "did-router").
    pub module: String,
    /// Settings handed to the module as JSON.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

impl Did {
    /// Whether any of the DID's routes leads to `destination` (deleting that is refused).
    pub fn sends_to(&self, destination: &Destination) -> bool {
        self.forward.as_ref() == Some(destination)
            || self.default_destination == *destination
            || self.fallback_destination.as_ref() == Some(destination)
            || self.rules.iter().any(|rule| rule.destination == *destination)
    }
}

/// One rule of a DID (SPEC.md §2). Pattern fields match the whole zero-padded value;
/// "." or "" matches anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DidRule {
    /// Rules are tried in ascending order.
    pub order: u32,
    /// Year pattern, e.g. "202[1-5]".
    #[serde(default = "any")]
    pub year: String,
    /// Month pattern, e.g. "0[3-6]".
    #[serde(default = "any")]
    pub month: String,
    /// Day-of-month pattern, e.g. "0[5-9]|1[0-9]|2[0-5]".
    #[serde(default = "any")]
    pub day: String,
    /// ISO day-of-week pattern (1 = Monday .. 7 = Sunday), e.g. "[1-5]".
    #[serde(default = "any")]
    pub weekday: String,
    /// Window start "HH:MM" in the company's time zone.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Window end "HH:MM" (exclusive); before the start = crosses midnight.
    #[serde(default)]
    pub end_time: Option<String>,
    /// Caller-number pattern.
    #[serde(default = "any")]
    pub caller_id: String,
    /// Where matching calls go.
    pub destination: Destination,
    /// Prompt played first.
    #[serde(default)]
    pub announcement: Option<String>,
    /// Prepended to the caller id shown to agents.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

fn any() -> String {
    ".".to_string()
}

/// A short number that dials a real one (SPEC.md §1 aliases, speed dial).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Alias {
    /// The company.
    pub company: String,
    /// The short number dialled.
    pub number: String,
    /// The real number it dials.
    pub target: String,
    /// Name shown for the call.
    pub display_name: String,
    /// Free text.
    pub description: String,
}

/// A named long number usable as a destination (SPEC.md §1).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExternalNumber {
    /// The company.
    pub company: String,
    /// The name destinations refer to.
    pub name: String,
    /// The number dialled.
    pub number: String,
    /// Free text.
    pub description: String,
}

/// A company API key; the secret itself is only shown once, at creation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    /// Public id of the key.
    pub id: String,
    /// Hex SHA-256 of the secret (the table's key).
    pub hash: String,
    /// The company it acts for.
    pub company: String,
    /// What the key is for.
    pub name: String,
    /// The extension the key acts for: it reaches only that user's calls and events
    /// (a CRM plug-in on the user's desk); none = the whole company.
    #[serde(default)]
    pub user: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What a module version may import beyond `log` and `kv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Grants {
    /// May send mail.
    pub mail: bool,
    /// Hosts ("host" or "host:port") the module may reach with `http`; empty = no `http`.
    pub http_allow: Vec<String>,
}

/// One immutable uploaded version of a company's module.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModuleVersion {
    /// The company.
    pub company: String,
    /// The module's name, e.g. "did-router".
    pub name: String,
    /// 1, 2, 3, ... per company and name.
    pub version: u32,
    /// SHA-256 of the component bytes, hex.
    pub sha256: String,
    /// Size of the component in bytes.
    pub size: u64,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// Decision interfaces it exports, e.g. "did-routing".
    pub decisions: Vec<String>,
    /// Interfaces it imports.
    pub imports: Vec<String>,
    /// What the install grants it.
    pub grants: Grants,
}

/// Which version of a company's module decides, and the versions active before it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ModuleInstall {
    /// The active version.
    pub active: u32,
    /// Versions active before, oldest first; `rollback` returns to the last one.
    pub history: Vec<u32>,
}

/// One line of the audit log (SPEC.md §9).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Sequence number, increasing.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it: "operator", "key:<id>", or "module:<name>" for module failures.
    pub actor: String,
    /// The company concerned, if any.
    pub company: Option<String>,
    /// What was done, e.g. "company.create", "did.update", "decision.failed".
    pub action: String,
    /// The entity acted on, e.g. "acme/dids/34910000000".
    pub entity: String,
    /// The client's IP address, for API actions.
    pub client_ip: Option<String>,
    /// More detail, e.g. why a decision failed.
    pub detail: Option<String>,
}

/// How a call ended, as its CDR says (SPEC.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Someone took the call.
    Answered,
    /// It rang until the ring timeout, or every device declined without being busy.
    NoAnswer,
    /// The callee was busy.
    Busy,
    /// The caller hung up before anyone answered.
    Cancelled,
    /// It could not be placed (trunk or network failure, no route).
    Failed,
    /// The permissions module denied it.
    Refused,
}

impl CallStatus {
    /// Why a call so ended, in the words of the module contract and the CTI events
    /// ("normal", "busy", "no-answer", ...).
    pub fn cause(self) -> &'static str {
        match self {
            CallStatus::Answered => "normal",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Busy => "busy",
            CallStatus::Cancelled => "caller-cancel",
            CallStatus::Failed => "failed",
            CallStatus::Refused => "refused",
        }
    }
}

/// A call detail record: one per call, answered or not, written when it ends (SPEC.md §9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cdr {
    /// The company.
    pub company: String,
    /// Unique id of the record (the call id and a random suffix).
    pub id: String,
    /// SIP Call-ID of the call's first leg.
    pub call_id: String,
    /// Which way the call flowed.
    pub direction: crate::routing::call::Direction,
    /// The calling number, or "anonymous".
    pub caller: String,
    /// The caller's display name.
    pub caller_name: Option<String>,
    /// The number dialled.
    pub called: String,
    /// Who or what finally took the call, e.g. "extension 101" or an external number.
    pub destination: Option<String>,
    /// How the call ended.
    pub status: CallStatus,
    /// Why it ended, e.g. "caller hung up", "ring timeout", "486 Busy Here".
    pub hangup_cause: String,
    /// The final SIP status of the call, when one was sent or received.
    pub sip_status: Option<u16>,
    /// When the call arrived or was placed.
    pub started_at: DateTime<Utc>,
    /// When it was answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
    /// How long it rang, in milliseconds.
    pub ring_ms: u64,
    /// Billable seconds: from answer to end.
    pub talk_s: u64,
    /// Link to the call's recording, when it was recorded.
    pub recording: Option<String>,
}

/// An address banned after repeated failed authentications (SPEC.md §10): its packets are
/// dropped until the ban expires or an operator lifts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ban {
    /// The banned address, e.g. "203.0.113.7" or "2001:db8::7".
    pub ip: String,
    /// What failed, e.g. "REGISTER digest authentication failed for 100@acme.example".
    pub reason: String,
    /// Failed authentications counted within the window before the ban.
    pub failures: u32,
    /// When the ban began.
    pub banned_at: DateTime<Utc>,
    /// When it ends by itself; absent when only an operator can lift it.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A range of addresses that is never banned (SPEC.md §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhitelistEntry {
    /// The range in canonical CIDR form, e.g. "10.0.0.0/8" (a single address is "/32" or
    /// "/128").
    pub cidr: String,
    /// Why it is trusted, e.g. "office".
    pub description: String,
    /// When it was added.
    pub added_at: DateTime<Utc>,
}

/// The registered contacts of one extension as the hosts of a cluster share them (only a
/// shared store holds these; a single host keeps its registrations in memory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub contacts: Vec<RegisteredContact>,
}

/// One registered contact, as shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredContact {
    /// The Contact URI, as registered.
    pub contact: String,
    /// Where the REGISTER came from: where requests are sent.
    pub source: std::net::SocketAddr,
    /// "UDP", "TCP" or "WS", as in Via.
    pub transport: String,
    pub call_id: String,
    pub cseq: u32,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    /// The host that took the REGISTER: only it holds a TCP or WebSocket connection.
    pub host: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_trunk_with_a_field_a_newer_host_added_still_reads() {
        let stored = r#"{"username": "u", "password": "p", "domain": "sip.example",
                         "outbound_proxy": null, "a_later_field": 1}"#;
        let trunk: TrunkProvider = serde_json::from_str(stored).expect("a newer host's row reads");
        assert!(trunk.register, "register defaults to true");
    }
}
