//! The tables of the store and how their keys are formed.

use super::Collection;
use super::records::*;

/// Companies, keyed by id.
pub const COMPANIES: Collection<Company> = Collection::new("companies");
/// Users, keyed by `company NUL extension`.
pub const USERS: Collection<User> = Collection::new("users");
/// Devices of extensions, keyed by `company NUL extension NUL id` ([`device_key`]).
pub const DEVICES: Collection<Device> = Collection::new("devices");
/// DIDs, keyed by `company NUL number`.
pub const DIDS: Collection<Did> = Collection::new("dids");
/// Which company owns each DID number (numbers are unique across companies).
pub const DID_OWNERS: Collection<String> = Collection::new("did_owners");
/// Aliases, keyed by `company NUL number`.
pub const ALIASES: Collection<Alias> = Collection::new("aliases");
/// External numbers, keyed by `company NUL name`.
pub const EXTERNAL_NUMBERS: Collection<ExternalNumber> = Collection::new("external_numbers");
/// API keys, keyed by the hex SHA-256 of the secret.
pub const API_KEYS: Collection<ApiKey> = Collection::new("api_keys");
/// Module versions, keyed by `company NUL name NUL version` (version zero-padded).
pub const MODULE_VERSIONS: Collection<ModuleVersion> = Collection::new("module_versions");
/// The active version of each module, keyed by `company NUL name`.
pub const MODULE_INSTALLS: Collection<ModuleInstall> = Collection::new("module_installs");
/// Ids of deleted companies, never given out again (their audit history stays), with
/// the time of deletion.
pub const RETIRED_COMPANIES: Collection<String> = Collection::new("retired_companies");
/// Which company owns each SIP domain, keyed by [`sip_domain_key`].
pub const SIP_DOMAINS: Collection<String> = Collection::new("sip_domains");
/// Banned addresses, keyed by the address as text (SPEC.md §10).
pub const BANS: Collection<Ban> = Collection::new("bans");
/// Address ranges never banned, keyed by the canonical CIDR text.
pub const WHITELIST: Collection<WhitelistEntry> = Collection::new("whitelist");
/// Call detail records, keyed by [`cdr_key`]: one company's CDRs are one range in time order.
pub const CDRS: Collection<Cdr> = Collection::new("cdrs");
/// The audit log, keyed by zero-padded sequence number.
pub const AUDIT: Collection<AuditEntry> = Collection::new("audit");

/// Voicemail boxes, keyed by `company NUL name`.
pub const VOICEMAIL_BOXES: Collection<VoicemailBox> = Collection::new("voicemail_boxes");
/// Voicemail messages, keyed by `crate::voicemail::message_key` (a box's messages in time order).
pub const VOICEMAIL_MESSAGES: Collection<VoicemailMessage> = Collection::new("voicemail_messages");
/// The operator's service codes: one row, under `"operator"`.
pub const SERVICE_CODES: Collection<ServiceCodes> = Collection::new("service_codes");
/// Companies' service-code overrides, keyed by company id.
pub const SERVICE_CODE_OVERRIDES: Collection<ServiceCodeOverrides> =
    Collection::new("service_code_overrides");
/// Pickup groups, keyed by `company NUL name`.
pub const PICKUP_GROUPS: Collection<PickupGroup> = Collection::new("pickup_groups");
/// Conference rooms, keyed by `company NUL id`.
pub const ROOMS: Collection<Room> = Collection::new("rooms");

/// Call recordings' metadata, keyed by `company NUL id` (ids start with the start time).
pub const RECORDINGS: Collection<Recording> = Collection::new("recordings");
/// Each company's recording storage use, keyed by company id.
pub const RECORDING_USAGE: Collection<RecordingUsage> = Collection::new("recording_usage");

/// Registered contacts shared by a cluster's hosts, keyed by `company NUL extension`.
pub const REGISTRATIONS: Collection<Registration> = Collection::new("registrations");
/// What each host of a cluster tells the others of its calls, keyed by host id.
pub const HOST_ACTIVITY: Collection<HostActivity> = Collection::new("host_activity");

/// Queues, keyed by `company NUL name`.
pub const QUEUES: Collection<Queue> = Collection::new("queues");
/// Queue statistics per day, keyed by `queue_day_key`.
pub const QUEUE_DAYS: Collection<QueueDay> = Collection::new("queue_days");

/// IVR menus, keyed by `company NUL name`.
pub const IVR_MENUS: Collection<IvrMenu> = Collection::new("ivr_menus");

/// Companies' uploaded prompts, keyed by `company NUL name`.
pub const PROMPTS: Collection<Prompt> = Collection::new("prompts");

/// Companies' call-events settings (which module hears of ended calls), keyed by company id.
pub const CALL_EVENTS: Collection<CallEventsSettings> = Collection::new("call_events");

pub(super) const ALL_TABLES: &[&str] = &[
    "companies",
    "users",
    "devices",
    "dids",
    "did_owners",
    "aliases",
    "external_numbers",
    "api_keys",
    "module_versions",
    "module_installs",
    "audit",
    "retired_companies",
    "sip_domains",
    "cdrs",
    "bans",
    "whitelist",
    "voicemail_boxes",
    "voicemail_messages",
    "service_codes",
    "service_code_overrides",
    "pickup_groups",
    "rooms",
    "recordings",
    "recording_usage",
    "queues",
    "queue_days",
    "ivr_menus",
    "prompts",
    "call_events",
    "registrations",
    "host_activity",
];

/// The key of a SIP domain: lower case (domains compare without case).
pub fn sip_domain_key(domain: &str) -> String {
    domain.trim().to_ascii_lowercase()
}

/// The key of a CDR: `company NUL ended_at NUL id`, the end time as zero-padded epoch
/// milliseconds so that key order is time order.
pub fn cdr_key(company: &str, ended_at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    // No call ends before 1970; clamping keeps a wrong clock from breaking the key order.
    let millis = u64::try_from(ended_at.timestamp_millis()).unwrap_or(0);
    format!("{company}\0{millis:020}\0{id}")
}

/// The key of a module version row.
pub fn module_version_key(company: &str, name: &str, version: u32) -> String {
    format!("{company}\0{name}\0{version:010}")
}

/// The key prefix of every version of one module.
pub fn module_versions_prefix(company: &str, name: &str) -> String {
    format!("{company}\0{name}\0")
}

/// The key of a device row.
pub fn device_key(company: &str, extension: &str, id: &str) -> String {
    format!("{company}\0{extension}\0{id}")
}

/// The key prefix of every device of one extension.
pub fn devices_prefix(company: &str, extension: &str) -> String {
    format!("{company}\0{extension}\0")
}
