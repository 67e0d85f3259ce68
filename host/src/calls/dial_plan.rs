//! What a number dialled by an extension means in its company: another extension, an
//! alias of one (SPEC §1: an alias dials its real number), an IVR menu, a queue or a
//! voicemail box by its number, the pickup and voicemail service codes, or a number outside.

use crate::app::App;
use crate::store::records::{IvrMenu, Queue, Room, User, VoicemailBox};
use crate::store::{ALIASES, Read, StoreError, USERS, company_key};

/// Where a dialled number leads.
#[derive(Debug, Clone)]
pub enum Target {
    /// An extension of the company.
    Extension(Box<User>),
    /// An IVR menu, by its number.
    Ivr(Box<IvrMenu>),
    /// A queue, by its number.
    Queue(Box<Queue>),
    /// A voicemail box, by its number: leave a message.
    Voicemail(Box<VoicemailBox>),
    /// The voicemail service code (with a box number, or alone for the caller's own box):
    /// listen to the box's messages.
    VoicemailAccess(Box<VoicemailBox>),
    /// Pickup: the call ringing at this extension (`*95` + extension), or at any member of
    /// the caller's pickup groups (`*96`, none).
    Pickup(Option<String>),
    /// A conference room, by its number.
    Room(Box<Room>),
    /// A number outside the company (dialled through the trunk).
    External(String),
    /// Nothing this company knows, and not a phone number either.
    Unknown,
}

/// How many aliases are followed before giving up (an alias may name another alias).
const MAX_ALIAS_HOPS: usize = 4;

/// Where following aliases ends.
enum Followed {
    Extension(Box<User>),
    Number(String),
}

/// Resolve `dialled` by extension `caller` in `company`.
pub fn resolve(app: &App, company: &str, caller: &str, dialled: &str) -> Result<Target, StoreError> {
    let codes = crate::api::service_codes::effective_service_codes(app, company);
    if !codes.pickup_group.is_empty() && dialled == codes.pickup_group {
        return Ok(Target::Pickup(None));
    }
    if !codes.pickup_direct.is_empty()
        && let Some(extension) = dialled.strip_prefix(codes.pickup_direct.as_str())
        && !extension.is_empty()
    {
        return Ok(Target::Pickup(Some(extension.to_string())));
    }
    if let Some(rest) = dialled.strip_prefix(codes.voicemail_access.as_str()) {
        // The code alone means the caller's own box (the box numbered like its extension).
        let number = if rest.is_empty() { caller } else { rest };
        if let Some(mailbox) = crate::voicemail::find_by_number(app, company, number)? {
            return Ok(Target::VoicemailAccess(Box::new(mailbox)));
        }
    }
    // Aliases first: an alias may name an extension, a menu or a box.
    let number = app.store.read(|r| {
        let mut number = dialled.to_string();
        for _ in 0..=MAX_ALIAS_HOPS {
            if let Some(user) = r.get(&USERS, &company_key(company, &number))? {
                return Ok(Followed::Extension(Box::new(user)));
            }
            match r.get(&ALIASES, &company_key(company, &number))? {
                Some(alias) => number = alias.target,
                None => break,
            }
        }
        Ok::<_, StoreError>(Followed::Number(number))
    })?;
    let number = match number {
        Followed::Extension(user) => return Ok(Target::Extension(user)),
        Followed::Number(number) => number,
    };
    if let Some(menu) = crate::routing::ivr::find_by_number(app, company, &number)? {
        return Ok(Target::Ivr(Box::new(menu)));
    }
    if let Some(queue) = crate::routing::queue::find_by_number(app, company, &number)? {
        return Ok(Target::Queue(Box::new(queue)));
    }
    if let Some(mailbox) = crate::voicemail::find_by_number(app, company, &number)? {
        return Ok(Target::Voicemail(Box::new(mailbox)));
    }
    if let Some(room) = crate::rooms::find_by_number(app, company, &number)? {
        return Ok(Target::Room(Box::new(room)));
    }
    Ok(if is_phone_number(&number) { Target::External(number) } else { Target::Unknown })
}

impl Target {
    /// Whether the target is inside the company (for the permissions module).
    pub fn is_internal(&self) -> bool {
        !matches!(self, Target::External(_) | Target::Unknown)
    }
}

/// Digits, optionally after one leading '+' (what can be dialled outside).
pub fn is_phone_number(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_digits_with_an_optional_plus() {
        for yes in ["0034911234567", "+34911234567", "112"] {
            assert!(is_phone_number(yes), "{yes}");
        }
        for no in ["", "+", "sales", "12a", "++1", "123456789012345678901"] {
            assert!(!is_phone_number(no), "{no}");
        }
    }
}
