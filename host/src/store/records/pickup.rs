//! Pickup groups (SPEC.md §7): dialling the group pickup code takes a call ringing at any
//! member of any group the caller belongs to.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A pickup group of a company. An extension may belong to several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PickupGroup {
    /// The company.
    pub company: String,
    /// The group's name, unique in the company.
    pub name: String,
    /// Extension numbers of the members, each once.
    pub members: Vec<String>,
}
