use std::sync::Arc;

use super::*;

fn kinds(receiver: &mut broadcast::Receiver<Arc<Published>>) -> Vec<(EventKind, String)> {
    let mut seen = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        seen.push((event.event.event, event.event.user.clone()));
    }
    seen
}

#[test]
fn an_internal_call_tells_each_user_its_own_events() {
    let hub = Arc::new(EventHub::default());
    let mut events = hub.subscribe("acme", &Scope::Company);
    let (mut call, _commands) = CallReporter::open(hub.clone(), "acme", "c1", "101", "102");
    call.dialing("101");
    call.ringing("102");
    call.ringing("102");
    call.connected(Some("101"), Some("102"));
    call.held(Some("101"));
    call.resumed();
    call.hung_up("normal");
    use EventKind::*;
    let expected: Vec<(EventKind, String)> = [
        (Dialing, "101"),
        (Ringing, "102"),
        (Connected, "101"),
        (Connected, "102"),
        (Held, "101"),
        (Held, "102"),
        (Resumed, "101"),
        (Resumed, "102"),
        (HungUp, "101"),
        (HungUp, "102"),
    ]
    .into_iter()
    .map(|(k, u)| (k, u.to_string()))
    .collect();
    assert_eq!(kinds(&mut events), expected);
    assert!(hub.active_calls("acme", &Scope::Company).is_empty());
}

#[test]
fn users_who_rang_and_did_not_answer_hear_the_call_is_over_for_them() {
    let hub = Arc::new(EventHub::default());
    let mut events = hub.subscribe("acme", &Scope::Company);
    let (mut call, _commands) = CallReporter::open(hub.clone(), "acme", "c1", "+34600", "queue");
    call.ringing("201");
    call.ringing("202");
    call.connected(None, Some("202"));
    let seen = kinds(&mut events);
    assert_eq!(seen[2], (EventKind::HungUp, "201".to_string()));
    assert_eq!(seen[3], (EventKind::Connected, "202".to_string()));
    assert_eq!(hub.active_calls("acme", &Scope::Company)[0].users, vec!["202".to_string()]);
}

#[test]
fn the_registry_shows_each_scope_its_own_calls_only() {
    let hub = Arc::new(EventHub::default());
    let (mut first, _c1) = CallReporter::open(hub.clone(), "acme", "c1", "101", "102");
    first.dialing("101");
    let (mut other, _c2) = CallReporter::open(hub.clone(), "globex", "c1", "101", "102");
    other.dialing("101");
    assert_eq!(hub.active_calls("acme", &Scope::Company).len(), 1);
    assert_eq!(hub.active_calls("acme", &Scope::User("101".into())).len(), 1);
    assert!(hub.active_calls("acme", &Scope::User("102".into())).is_empty());
    assert_eq!(
        hub.active_call("acme", "c1", &Scope::User("102".into())).unwrap_err(),
        ControlError::NotYours
    );
    assert_eq!(hub.active_call("acme", "c2", &Scope::Company).unwrap_err(), ControlError::NoSuchCall);
    drop(first);
    assert!(hub.active_calls("acme", &Scope::Company).is_empty());
    assert_eq!(hub.active_calls("globex", &Scope::Company).len(), 1);
}

#[test]
fn a_dropped_reporter_ends_the_call_for_its_users() {
    let hub = Arc::new(EventHub::default());
    let mut events = hub.subscribe("acme", &Scope::Company);
    let (mut call, _commands) = CallReporter::open(hub.clone(), "acme", "c1", "101", "102");
    call.dialing("101");
    drop(call);
    let last = events.try_recv().and_then(|_| events.try_recv()).expect("two events");
    assert_eq!((last.event.event, last.event.cause.as_deref()), (EventKind::HungUp, Some("ended")));
    assert!(last.message.starts_with(br#"{"type":"event","event":"hung_up""#), "{:?}", last.message);
}

#[tokio::test]
async fn a_command_is_answered_by_the_call_task() {
    let hub = Arc::new(EventHub::default());
    let (mut call, mut commands) = CallReporter::open(hub.clone(), "acme", "c1", "101", "102");
    call.connected(Some("101"), Some("102"));
    let task = tokio::spawn(async move {
        let control = commands.recv().await.expect("a command");
        assert_eq!(control.command, CallCommand::Hold { user: Some("101".into()) });
        call.held(Some("101"));
        let _ = control.reply.send(Ok(call.call().clone()));
        call
    });
    let scope = Scope::User("101".into());
    let held = hub.command("acme", "c1", &scope, CallCommand::Hold { user: Some("101".into()) }).await;
    assert_eq!(held.map(|c| c.state), Ok(CallState::Held));
    let _call = task.await.expect("task");
    let stranger = Scope::User("300".into());
    assert_eq!(
        hub.command("acme", "c1", &stranger, CallCommand::HangUp).await.unwrap_err(),
        ControlError::NotYours
    );
}

#[test]
fn a_client_without_readers_costs_nothing_and_the_channel_goes() {
    let hub = Arc::new(EventHub::default());
    drop(hub.subscribe("acme", &Scope::Company));
    let (mut call, _commands) = CallReporter::open(hub.clone(), "acme", "c1", "101", "102");
    call.dialing("101");
    assert_eq!(hub.listeners("acme"), 0);
    assert!(lock(&hub.channels).is_empty());
}

#[test]
fn a_transfer_tells_everyone_then_leaves_the_transferring_user_out() {
    let hub = Arc::new(EventHub::default());
    let mut events = hub.subscribe("acme", &Scope::Company);
    let (mut call, _commands) = CallReporter::open(hub.clone(), "acme", "c1", "+34600", "101");
    call.ringing("101");
    call.connected(None, Some("101"));
    kinds(&mut events);
    call.transfer_pending();
    call.transferred("101");
    assert_eq!(hub.active_calls("acme", &Scope::Company)[0].users, Vec::<String>::new());
    assert_eq!(hub.active_calls("acme", &Scope::Company)[0].state, CallState::Ringing);
    call.ringing("102");
    call.connected(None, Some("102"));
    use EventKind::*;
    let expected: Vec<(EventKind, String)> =
        [(TransferPending, "101"), (Transferred, "101"), (Ringing, "102"), (Connected, "102")]
            .into_iter()
            .map(|(k, u)| (k, u.to_string()))
            .collect();
    assert_eq!(kinds(&mut events), expected);
    assert!(hub.active_calls("acme", &Scope::User("101".into())).is_empty(), "101 no longer sees the call");
}

#[test]
fn a_users_channel_carries_only_that_users_events_and_the_company_channel_all() {
    let hub = Arc::new(EventHub::default());
    let mut company = hub.subscribe("acme", &Scope::Company);
    let mut callee = hub.subscribe("acme", &Scope::User("102".into()));
    let mut bystander = hub.subscribe("acme", &Scope::User("103".into()));
    let mut other_company = hub.subscribe("globex", &Scope::User("102".into()));
    let (mut call, _commands) = CallReporter::open(hub.clone(), "acme", "c1", "101", "102");
    call.dialing("101");
    call.ringing("102");
    use EventKind::*;
    assert_eq!(kinds(&mut company), [(Dialing, "101".to_string()), (Ringing, "102".to_string())]);
    assert_eq!(kinds(&mut callee), [(Ringing, "102".to_string())]);
    assert!(kinds(&mut bystander).is_empty(), "103's clients are not even woken");
    assert!(kinds(&mut other_company).is_empty());
    assert_eq!(hub.listeners("acme"), 3);
}
