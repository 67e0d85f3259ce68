//! Who sends calls to a destination: a DID, an IVR menu or a queue naming it. A menu,
//! queue or room cannot be deleted while anything still sends calls there (the call would
//! find nothing), and the 409 names each sender so the admin knows what to change.

use super::error::ApiResult;
use crate::store::records::Destination;
use crate::store::{DIDS, IVR_MENUS, QUEUES, Read, company_prefix};

/// Each DID, IVR menu and queue of `company` that sends calls to `target`, e.g.
/// `DID 34910000000`, `IVR menu "main"`, `queue "sales"`. The menu or queue that is
/// `target` itself does not count (a menu's key may lead back to its own start).
pub fn senders_to(tx: &impl Read, company: &str, target: &Destination) -> ApiResult<Vec<String>> {
    let prefix = company_prefix(company);
    let dids = tx.scan(&DIDS, &prefix)?.into_iter().filter(|did| did.sends_to(target));
    let mut senders: Vec<String> = dids.map(|did| format!("DID {}", did.number)).collect();
    let menus = tx.scan(&IVR_MENUS, &prefix)?.into_iter().filter(|menu| {
        !matches!(target, Destination::Ivr(name) if *name == menu.name) && menu.sends_to(target)
    });
    senders.extend(menus.map(|menu| format!("IVR menu {:?}", menu.name)));
    let queues = tx.scan(&QUEUES, &prefix)?.into_iter().filter(|queue| {
        !matches!(target, Destination::Queue(name) if *name == queue.name) && queue.sends_to(target)
    });
    senders.extend(queues.map(|queue| format!("queue {:?}", queue.name)));
    Ok(senders)
}
