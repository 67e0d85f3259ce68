//! Service codes ("star codes", SPEC.md §1 and §7): what a phone dials to pick up a call or
//! reach its voicemail, and what it presses during a call to record it. The operator sets
//! the codes of the whole host; a company may override any of them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The service codes in force. Every code is `*` or `#` followed by digits, and no code is
/// a prefix of another (so a dialled number matches one code at most).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceCodes {
    /// Followed by an extension, takes the call ringing there (`*95101`). Default `*95`.
    pub pickup_direct: String,
    /// Dialled alone, takes a call ringing in any of the caller's pickup groups. Default `*96`.
    pub pickup_group: String,
    /// Dialled alone, listens to the caller's own voicemail box (PIN asked). Default `*97`.
    pub voicemail_access: String,
    /// Pressed during a call, starts recording it ("on demand" mode). Default `*1`.
    pub record_on_demand: String,
}

impl Default for ServiceCodes {
    /// The product defaults, those of the PBX manuals SPEC.md is taken from where they name
    /// one (`*95` direct pickup, `*1` recording), numbered on from there otherwise.
    fn default() -> ServiceCodes {
        ServiceCodes {
            pickup_direct: "*95".into(),
            pickup_group: "*96".into(),
            voicemail_access: "*97".into(),
            record_on_demand: "*1".into(),
        }
    }
}

/// A company's own service codes; a code left out is the operator's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceCodeOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_direct: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_on_demand: Option<String>,
}

impl ServiceCodeOverrides {
    /// `base` with these overrides applied.
    pub fn apply(&self, base: &ServiceCodes) -> ServiceCodes {
        let pick =
            |own: &Option<String>, inherited: &String| own.clone().unwrap_or_else(|| inherited.clone());
        ServiceCodes {
            pickup_direct: pick(&self.pickup_direct, &base.pickup_direct),
            pickup_group: pick(&self.pickup_group, &base.pickup_group),
            voicemail_access: pick(&self.voicemail_access, &base.voicemail_access),
            record_on_demand: pick(&self.record_on_demand, &base.record_on_demand),
        }
    }
}
