//! A phone's own blind transfer (RFC 3515): a party of a connected call sends REFER with
//! `Refer-To: <sip:102@…>`. The host answers 202, tells the phone at once in a NOTIFY
//! (`message/sipfrag` `SIP/2.0 200 OK`, subscription terminated) that the transfer is in
//! its hands, and carries it out as the CTI blind transfer of that user: the referring
//! phone gets BYE, the other party rings the new number. Media stays anchored, so the
//! remaining phone is asked nothing.

use super::transfer::TransferTo;
use super::*;

impl Call {
    /// Where the REFER `request` (from the caller's side when `from_caller`) sends the
    /// other party, or the status refusing it.
    pub(super) fn refer_target(
        &self,
        from_caller: bool,
        winner: usize,
        request: &Request,
    ) -> Result<(Company, TransferTo), u16> {
        let referrer =
            if from_caller { self.caller_user.clone() } else { self.legs[winner].extension.clone() };
        // An outside party (a trunk caller) transfers nothing inside the company.
        let Some(user) = referrer else { return Err(403) };
        let refer_to = request.headers.iter().find_map(|header| match header {
            rsip::Header::Other(name, value)
                if name.eq_ignore_ascii_case("refer-to") || name.eq_ignore_ascii_case("r") =>
            {
                Some(value.clone())
            }
            _ => None,
        });
        let Some(to) = refer_to.as_deref().and_then(|value| uri_user(crate::sip::dialog::uri_in(value)))
        else {
            return Err(400);
        };
        if self.consult.is_some() {
            return Err(403);
        }
        self.transfer_target(winner, Some(&user), &to).map_err(|error| {
            tracing::info!(%user, %to, %error, "a REFER transfer is refused");
            403
        })
    }

    /// Accept the REFER `request`: 202, then the NOTIFY that ends its subscription.
    pub(super) fn accept_refer(&mut self, from_caller: bool, winner: usize, tx: ServerTx, request: &Request) {
        self.respond_in_dialog(from_caller, winner, tx, request, 202, None);
        let headers = [
            ("Event", "refer".to_string()),
            ("Subscription-State", "terminated;reason=noresource".to_string()),
            ("Content-Type", "message/sipfrag;version=2.0".to_string()),
        ];
        let body: &[u8] = b"SIP/2.0 200 OK\r\n";
        if from_caller {
            let notify = self.caller.request(Method::Notify, &headers, Some(body));
            let call_id = self.caller.call_id.clone();
            self.send_request(notify, &call_id, CALLER_LEG);
        } else {
            let leg = &mut self.legs[winner];
            let notify = leg.dialog.request(Method::Notify, &headers, Some(body));
            let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
            self.send_request(notify, &call_id, id);
        }
    }
}
