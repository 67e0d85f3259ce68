//! Call control (SPEC.md §12): a command from the API reaches the call's task through the
//! hub, and the task answers with the call's state after it — or why it could not.

use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use super::{ActiveCall, EventHub, Scope};

/// How long a call task has to answer a command. A task busy elsewhere (a host service
/// playing to the caller) may not take commands at all; the client hears so rather than
/// waiting.
pub const ANSWER_TIME: Duration = Duration::from_secs(2);

/// What a client asks of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCommand {
    /// End the call for every party.
    HangUp,
    /// `user` puts the call on hold: the other party hears music, `user` silence.
    Hold { user: Option<String> },
    /// Take the call off hold.
    Resume,
    /// `user` (none: the answering user) hands the call to the number `to` and leaves.
    Transfer { user: Option<String>, to: String },
    /// `user` (none: the answering user, else the calling one) consults the extension `to`
    /// before transferring the call to it; the other party waits on hold.
    Consult { user: Option<String>, to: String },
    /// Hand the call to the consulted party, who answered; the consulting user leaves.
    CompleteTransfer,
    /// End the consult and go back to the call.
    CancelConsult,
    /// `user` takes the still-ringing call: its devices ring too, answering by themselves
    /// where they can, and the first answer wins as usual.
    PickUp { user: String },
}

/// A command on its way to a call task, with where its answer goes.
#[derive(Debug)]
pub struct Control {
    pub command: CallCommand,
    pub reply: oneshot::Sender<Result<ActiveCall, ControlError>>,
}

/// Click-to-dial (SPEC §12): ring `user`'s devices, and when one answers call `number`.
#[derive(Debug)]
pub struct ClickToDial {
    pub company: String,
    pub user: String,
    /// As the client wrote it; the call engine normalises it by the company's plan.
    pub number: String,
    /// The new call once the user's devices ring, or why it could not be placed.
    pub reply: oneshot::Sender<Result<ActiveCall, ControlError>>,
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ControlError {
    #[error("no such call in progress")]
    NoSuchCall,
    #[error("the call is not one of this user's")]
    NotYours,
    #[error("{0}")]
    WrongState(String),
    #[error("the call does not take commands now (a host service is serving it)")]
    Busy,
}

impl EventHub {
    /// Where click-to-dial requests go from now on: the call engine takes them, once.
    pub fn take_dial_requests(&self) -> Option<mpsc::UnboundedReceiver<ClickToDial>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.dialer.set(sender).ok().map(|()| receiver)
    }

    /// Place a click-to-dial call for `user` of `company` to `number`.
    pub async fn click_to_dial(
        &self,
        company: &str,
        user: &str,
        number: &str,
    ) -> Result<ActiveCall, ControlError> {
        let dialer = self.dialer.get().ok_or(ControlError::Busy)?;
        let (reply, answer) = oneshot::channel();
        let request =
            ClickToDial { company: company.into(), user: user.into(), number: number.into(), reply };
        dialer.send(request).map_err(|_| ControlError::Busy)?;
        match tokio::time::timeout(ANSWER_TIME, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) | Err(_) => Err(ControlError::Busy),
        }
    }

    /// Carry out `command` on `company`'s call `call_id` for a client of `scope`.
    pub async fn command(
        &self,
        company: &str,
        call_id: &str,
        scope: &Scope,
        command: CallCommand,
    ) -> Result<ActiveCall, ControlError> {
        let control = self.control_of(company, call_id, scope)?;
        let (reply, answer) = oneshot::channel();
        control.send(Control { command, reply }).map_err(|_| ControlError::NoSuchCall)?;
        match tokio::time::timeout(ANSWER_TIME, answer).await {
            Ok(Ok(result)) => result,
            // The task ended (the call is over) without answering.
            Ok(Err(_)) => Err(ControlError::NoSuchCall),
            Err(_) => Err(ControlError::Busy),
        }
    }
}
