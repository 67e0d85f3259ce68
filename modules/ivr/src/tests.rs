//! The menu's rules, one test each, run natively with `cargo test -p ivr` against the SDK's
//! fake host.

use guest_sdk::ivr::IvrOption;

use super::*;

fn queue(name: &str) -> Destination {
    Destination::Queue(name.into())
}

/// Menu "main": 1 → queue sales, 2 → queue support, # → voicemail reception; repeats 2,
/// timeout 5 s, no destinations for invalid and no input.
fn menu() -> IvrMenu {
    let option = |key: &str, destination: Destination| IvrOption { key: key.into(), destination };
    IvrMenu {
        name: "main".into(),
        number: "800".into(),
        greeting: Some("welcome".into()),
        allow_dialing: false,
        options: vec![
            option("1", queue("sales")),
            option("2", queue("support")),
            option("#", Destination::Voicemail("reception".into())),
        ],
        no_input: None,
        invalid: None,
        timeout_seconds: 5,
        repeats: 2,
        config: "{}".into(),
    }
}

/// A step of `menu` with `input` after `memo`.
fn step(menu: &IvrMenu, input: IvrInput, memo: &str) -> Result<IvrStep, String> {
    StandardIvr::step(guest_sdk::testing::inbound_call("600111222"), menu.clone(), input, memo.into())
}

fn digits(entry: &str) -> IvrInput {
    IvrInput::Digits(entry.into())
}

/// The collect a step asked for; panics on a transfer.
fn collected(answer: Result<IvrStep, String>) -> Collect {
    match answer {
        Ok(IvrStep::Collect(collect)) => collect,
        Ok(IvrStep::Transfer(destination)) => panic!("transferred to {destination:?}"),
        Err(error) => panic!("error {error}"),
    }
}

/// The destination a step transferred to; panics on a collect.
fn transferred(answer: Result<IvrStep, String>) -> Destination {
    match answer {
        Ok(IvrStep::Transfer(destination)) => destination,
        Ok(IvrStep::Collect(collect)) => panic!("collected again with memo {}", collect.memo),
        Err(error) => panic!("error {error}"),
    }
}

/// Feed `inputs` one after another from the start, carrying the memo; the last answer.
fn walk(menu: &IvrMenu, inputs: &[IvrInput]) -> Result<IvrStep, String> {
    let mut memo = collected(step(menu, IvrInput::Start, "")).memo;
    let (last, before) = inputs.split_last().expect("at least one input");
    for input in before {
        memo = collected(step(menu, input.clone(), &memo)).memo;
    }
    step(menu, last.clone(), &memo)
}

#[test]
fn the_start_plays_the_greeting_and_collects_one_key() {
    let collect = collected(step(&menu(), IvrInput::Start, ""));
    assert_eq!(collect.prompt.as_deref(), Some("welcome"));
    assert_eq!(collect.max_digits, 1);
    assert_eq!(collect.timeout_ms, 5_000);
    assert_eq!(collect.inter_digit_timeout_ms, 3_000);
    assert_eq!(Memo::from_text(&collect.memo).unwrap(), Memo::default());
}

#[test]
fn a_menu_without_a_greeting_plays_the_system_prompt() {
    let mut menu = menu();
    menu.greeting = None;
    assert_eq!(collected(step(&menu, IvrInput::Start, "")).prompt.as_deref(), Some(DEFAULT_GREETING));
}

#[test]
fn a_bound_key_transfers_to_its_destination() {
    assert_eq!(transferred(walk(&menu(), &[digits("1")])), queue("sales"));
    assert_eq!(transferred(walk(&menu(), &[digits("2")])), queue("support"));
    assert_eq!(transferred(walk(&menu(), &[digits("#")])), Destination::Voicemail("reception".into()));
}

#[test]
fn an_unbound_key_replays_the_greeting_and_counts() {
    let collect = collected(walk(&menu(), &[digits("7")]));
    assert_eq!(collect.prompt.as_deref(), Some("welcome"));
    assert_eq!(Memo::from_text(&collect.memo).unwrap(), Memo { invalid: 1, no_input: 0 });
}

#[test]
fn the_entry_after_repeats_invalid_ones_goes_to_the_invalid_destination() {
    let mut menu = menu();
    menu.invalid = Some(Destination::Extension("100".into()));
    // repeats = 2: two replays, the third invalid entry leaves.
    assert_eq!(
        transferred(walk(&menu, &[digits("7"), digits("*"), digits("9")])),
        Destination::Extension("100".into())
    );
    // A good key before the limit still works.
    assert_eq!(transferred(walk(&menu, &[digits("7"), digits("9"), digits("1")])), queue("sales"));
}

#[test]
fn too_many_invalid_entries_without_an_invalid_destination_hang_up() {
    assert_eq!(transferred(walk(&menu(), &[digits("7"), digits("7"), digits("7")])), Destination::HangUp);
}

#[test]
fn no_repeats_means_the_first_invalid_entry_leaves() {
    let mut menu = menu();
    menu.repeats = 0;
    assert_eq!(transferred(walk(&menu, &[digits("5")])), Destination::HangUp);
}

#[test]
fn no_input_replays_then_goes_to_the_no_input_destination() {
    let mut menu = menu();
    menu.no_input = Some(queue("operator"));
    let collect = collected(walk(&menu, &[IvrInput::NoInput]));
    assert_eq!(collect.prompt.as_deref(), Some("welcome"));
    assert_eq!(Memo::from_text(&collect.memo).unwrap(), Memo { invalid: 0, no_input: 1 });
    let inputs = [IvrInput::NoInput, IvrInput::NoInput, IvrInput::NoInput];
    assert_eq!(transferred(walk(&menu, &inputs)), queue("operator"));
}

#[test]
fn no_input_without_a_destination_hangs_up_and_an_empty_entry_is_no_input() {
    let inputs = [IvrInput::NoInput, digits(""), IvrInput::NoInput];
    assert_eq!(transferred(walk(&menu(), &inputs)), Destination::HangUp);
}

#[test]
fn invalid_entries_and_timeouts_are_counted_apart() {
    let mut menu = menu();
    menu.repeats = 1;
    // One of each stays within the single repeat of each kind.
    let collect = collected(walk(&menu, &[digits("7"), IvrInput::NoInput]));
    assert_eq!(Memo::from_text(&collect.memo).unwrap(), Memo { invalid: 1, no_input: 1 });
}

#[test]
fn allowing_dialling_collects_up_to_the_extension_length() {
    let mut menu = menu();
    menu.allow_dialing = true;
    assert_eq!(collected(step(&menu, IvrInput::Start, "")).max_digits, 3);
    menu.config = r#"{"extension_digits": 4, "inter_digit_seconds": 2}"#.into();
    let collect = collected(step(&menu, IvrInput::Start, ""));
    assert_eq!((collect.max_digits, collect.inter_digit_timeout_ms), (4, 2_000));
}

#[test]
fn with_dialling_allowed_a_number_goes_to_that_extension() {
    let mut menu = menu();
    menu.allow_dialing = true;
    assert_eq!(transferred(walk(&menu, &[digits("102")])), Destination::Extension("102".into()));
    assert_eq!(transferred(walk(&menu, &[digits("45#")])), Destination::Extension("45".into()));
    // A key still works, alone or ended by '#'.
    assert_eq!(transferred(walk(&menu, &[digits("1")])), queue("sales"));
    assert_eq!(transferred(walk(&menu, &[digits("2#")])), queue("support"));
}

#[test]
fn with_dialling_allowed_a_single_unbound_digit_or_a_star_number_is_invalid() {
    let mut menu = menu();
    menu.allow_dialing = true;
    for entry in ["7", "1*2", "*9"] {
        let collect = collected(walk(&menu, &[digits(entry)]));
        assert_eq!(Memo::from_text(&collect.memo).unwrap().invalid, 1, "{entry}");
    }
}

#[test]
fn without_dialling_a_number_is_invalid() {
    let collect = collected(walk(&menu(), &[digits("102")]));
    assert_eq!(Memo::from_text(&collect.memo).unwrap().invalid, 1);
}

#[test]
fn a_malformed_config_or_memo_is_an_error_for_the_host_to_handle() {
    let mut menu = menu();
    assert!(step(&menu, IvrInput::Start, "nonsense").unwrap_err().contains("memo"));
    menu.config = r#"{"extension_digits": "x"}"#.into();
    assert!(step(&menu, IvrInput::Start, "").unwrap_err().contains("extension_digits"));
}

#[test]
fn a_menu_decides_without_logging() {
    guest_sdk::testing::reset();
    let _ = walk(&menu(), &[digits("7"), digits("1")]);
    assert!(guest_sdk::testing::logs().is_empty());
}
