//! A well-formed component that exports none of Centralita's interfaces (its world is
//! `wit/world.wit`): the host must refuse to accept it as a module.

wit_bindgen::generate!({ path: "wit", world: "stranger" });

/// The component's only export.
struct Stranger;

impl Guest for Stranger {
    fn hello() -> String {
        "hello from a stranger".to_string()
    }
}

export!(Stranger);
