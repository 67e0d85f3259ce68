//! The host imports a module may call, and the linker that offers them. Besides our own
//! interfaces, the linker offers the few WASI interfaces Rust's standard library imports
//! (streams, clocks, random, the cli environment and stdio) — never filesystem or
//! sockets; `component::check_imports` refuses an upload that asks for anything else.

mod clock;
mod http;
mod kv;
mod log;
mod mail;

use wasmtime::Engine;
use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings as wasi;
use wasmtime_wasi::random::WasiRandom;

use super::bindings::{Router, types};
use super::state::DecisionState;

impl types::Host for DecisionState {}

struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// Build the linker every decision instantiates with.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<DecisionState>> {
    let mut linker = Linker::new(engine);
    Router::add_to_linker::<DecisionState, HasSelf<DecisionState>>(&mut linker, |state| state)?;

    let l = &mut linker;
    wasi::io::error::add_to_linker::<DecisionState, HasIo>(l, |s| s.ctx().table)?;
    wasi::sync::io::poll::add_to_linker::<DecisionState, HasIo>(l, |s| s.ctx().table)?;
    wasi::sync::io::streams::add_to_linker::<DecisionState, HasIo>(l, |s| s.ctx().table)?;
    wasi::clocks::wall_clock::add_to_linker::<DecisionState, WasiClocks>(l, |s| s.clocks())?;
    wasi::clocks::monotonic_clock::add_to_linker::<DecisionState, HasSelf<DecisionState>>(l, |s| s)?;
    wasi::random::random::add_to_linker::<DecisionState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    wasi::random::insecure::add_to_linker::<DecisionState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    wasi::random::insecure_seed::add_to_linker::<DecisionState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    wasi::cli::exit::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::environment::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::stdin::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::stdout::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::stderr::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::terminal_input::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::terminal_output::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::terminal_stdin::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::terminal_stdout::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    wasi::cli::terminal_stderr::add_to_linker::<DecisionState, WasiCli>(l, |s| s.cli())?;
    Ok(linker)
}

/// The interfaces (without version) a module may import whatever its grants.
pub const ALWAYS_ALLOWED: &[&str] = &[
    "centralita:router/types",
    "centralita:router/log",
    "centralita:router/kv",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/exit",
    "wasi:cli/environment",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

/// The `mail` import, granted by `Grants::mail`.
pub const MAIL: &str = "centralita:router/mail";
/// The `http` import, granted by a non-empty `Grants::http_allow`.
pub const HTTP: &str = "centralita:router/http";
