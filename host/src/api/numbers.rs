//! One number space per company (SPEC §1): extensions, aliases, IVR menus, queues,
//! voicemail boxes and conference rooms are all reached by dialling their number, so no two of them may share
//! one. Every create and replace of those asks [`check_free`] in its write transaction.

use axum::http::StatusCode;

use super::error::{ApiError, ApiResult};
use crate::store::{
    ALIASES, IVR_MENUS, QUEUES, ROOMS, Read, StoreError, USERS, VOICEMAIL_BOXES, company_key, company_prefix,
};

/// What is being saved with the number: it may keep its own number.
#[derive(Debug, Clone, Copy)]
pub enum Own<'a> {
    Extension,
    Alias,
    IvrMenu(&'a str),
    Queue(&'a str),
    VoicemailBox(&'a str),
    Room(&'a str),
}

/// What else in `company` is dialled as `number`, in words ("extension 101", "the number
/// of queue \"support\""); none when the number is free for `own`.
pub fn taken_by(tx: &impl Read, company: &str, number: &str, own: Own) -> Result<Option<String>, StoreError> {
    let key = company_key(company, number);
    if !matches!(own, Own::Extension) && tx.get(&USERS, &key)?.is_some() {
        return Ok(Some(format!("extension {number}")));
    }
    if !matches!(own, Own::Alias) && tx.get(&ALIASES, &key)?.is_some() {
        return Ok(Some(format!("alias {number}")));
    }
    let prefix = company_prefix(company);
    let other = |kind: &str, name: &str, mine: Option<&str>| {
        (mine != Some(name)).then(|| format!("the number of {kind} {name:?}"))
    };
    let own_menu = if let Own::IvrMenu(name) = own { Some(name) } else { None };
    if let Some(menu) = tx.scan(&IVR_MENUS, &prefix)?.into_iter().find(|m| m.number == number)
        && let Some(taken) = other("IVR menu", &menu.name, own_menu)
    {
        return Ok(Some(taken));
    }
    let own_queue = if let Own::Queue(name) = own { Some(name) } else { None };
    if let Some(queue) = tx.scan(&QUEUES, &prefix)?.into_iter().find(|q| q.number == number)
        && let Some(taken) = other("queue", &queue.name, own_queue)
    {
        return Ok(Some(taken));
    }
    let own_box = if let Own::VoicemailBox(name) = own { Some(name) } else { None };
    if let Some(mailbox) = tx.scan(&VOICEMAIL_BOXES, &prefix)?.into_iter().find(|b| b.number == number)
        && let Some(taken) = other("voicemail box", &mailbox.name, own_box)
    {
        return Ok(Some(taken));
    }
    let own_room = if let Own::Room(id) = own { Some(id) } else { None };
    if let Some(room) = tx.scan(&ROOMS, &prefix)?.into_iter().find(|r| r.number.as_deref() == Some(number))
        && own_room != Some(room.id.as_str())
    {
        return Ok(Some(format!("the number of room {:?}", room.name)));
    }
    Ok(None)
}

/// 409 naming `field` and what has `number` already, unless it is free for `own`.
pub fn check_free(tx: &impl Read, company: &str, number: &str, own: Own, field: &str) -> ApiResult<()> {
    match taken_by(tx, company, number, own)? {
        None => Ok(()),
        Some(what) => Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!("{field}: {number} is already {what}"),
            field: Some(field.into()),
        }),
    }
}
