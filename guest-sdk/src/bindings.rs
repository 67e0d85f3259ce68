//! Bindings generated from `wit/`, one module per world. The imports world is generated
//! once; every decision world reuses its types and host functions through `with`, so a
//! `Destination` is the same Rust type whichever decision a module implements.

/// The host imports and the shared types.
pub mod host {
    wit_bindgen::generate!({
        path: "../wit",
        world: "imports",
        runtime_path: "::guest_sdk::rt",
        additional_derives: [PartialEq],
    });
}

macro_rules! decision_world {
    ($module:ident, $world:literal, $macro_name:literal, $bindings_path:literal) => {
        #[doc = concat!("Bindings of the `", $world, "` world.")]
        pub mod $module {
            wit_bindgen::generate!({
                path: "../wit",
                world: $world,
                runtime_path: "::guest_sdk::rt",
                with: {
                    "centralita:router/types@0.1.0": crate::bindings::host::centralita::router::types,
                    "centralita:router/log@0.1.0": crate::bindings::host::centralita::router::log,
                    "centralita:router/kv@0.1.0": crate::bindings::host::centralita::router::kv,
                    "centralita:router/mail@0.1.0": crate::bindings::host::centralita::router::mail,
                    "centralita:router/http@0.1.0": crate::bindings::host::centralita::router::http,
                },
                pub_export_macro: true,
                export_macro_name: $macro_name,
                default_bindings_module: $bindings_path,
            });
        }
    };
}

decision_world!(did_router, "did-router", "export_did_router", "::guest_sdk::bindings::did_router");
decision_world!(ivr_menu, "ivr-menu", "export_ivr_menu", "::guest_sdk::bindings::ivr_menu");
decision_world!(queue_router, "queue-router", "export_queue_router", "::guest_sdk::bindings::queue_router");
decision_world!(call_policy, "call-policy", "export_call_policy", "::guest_sdk::bindings::call_policy");
decision_world!(
    call_observer,
    "call-observer",
    "export_call_observer",
    "::guest_sdk::bindings::call_observer"
);
