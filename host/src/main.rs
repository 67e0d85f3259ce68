//! The `centralita` command: `serve` runs the PBX host; `module run` and `module bench`
//! try a routing module offline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::serve::{Listener, ListenerExt};
use clap::{Parser, Subcommand};

use centralita::api::{self, Auth};
use centralita::app::App;
use centralita::calls::{CallEngine, CallSettings, CdrWriter};
use centralita::config::ServeArgs;
use centralita::media::relay::MediaRelay;
use centralita::module_cli::ModuleRunner;
use centralita::sandbox::Sandbox;
use centralita::sandbox::counters::Counters;
use centralita::sandbox::limits::DecisionLimits;
use centralita::security::Guard;
use centralita::sip::endpoint::Endpoint;
use centralita::sip::registrar::service::{Outcome, Registrar};
use centralita::sip::transport::driver;
use centralita::store::Store;
use centralita::store::records::Grants;
use centralita::trunks::{self, Trunks};
use centralita::{demo, operator_token, shutdown};

// mimalloc: decisions allocate and free many small objects; glibc's malloc showed in the
// decision benchmark's profile (and its periodic consolidation in the tail). Its huge
// pages are turned off in `main` (see `huge_pages`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "centralita", version, about = "Multi-tenant hosted PBX with WebAssembly routing modules")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the PBX host.
    Serve(Box<ServeArgs>),
    /// Try a routing module without a server.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// Move a store between backends.
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy a single host's redb store into an empty PostgreSQL database, in one
    /// transaction, to run a cluster on it. Stop the host first: writes made during the
    /// copy are not in it.
    Copy {
        /// The data directory whose centralita.redb is copied.
        #[arg(long, env = "CENTRALITA_DATA_DIR")]
        data_dir: PathBuf,
        /// The PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum ModuleCommand {
    /// Ask a module file for one decision and print it as JSON.
    Run {
        /// The component (.wasm).
        file: PathBuf,
        /// The decision point, e.g. did-routing.
        #[arg(long)]
        decision: String,
        /// A JSON file with the decision's input ("-" = standard input).
        #[arg(long)]
        input: PathBuf,
        /// Deadline in milliseconds.
        #[arg(long, default_value_t = centralita::sandbox::limits::DEFAULT_DEADLINE_MS)]
        deadline_ms: u32,
        /// Hosts the module may reach with http, comma-separated.
        #[arg(long, value_delimiter = ',')]
        http_allow: Vec<String>,
    },
    /// Measure a did-routing module: COUNT decisions, each on a fresh instance.
    Bench {
        /// The component (.wasm).
        file: PathBuf,
        /// A did-routing case (JSON).
        #[arg(long)]
        input: PathBuf,
        /// Number of measured decisions.
        #[arg(long, default_value_t = 100_000)]
        count: usize,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The WebRTC stack logs every state change at info and a browser's usual
                // DTLS extensions and the packets before the handshake at warn.
                .unwrap_or_else(|_| {
                    "info,wasmtime=warn,cranelift=warn,rtc=error,rtc_ice=error,rtc_dtls=error,webrtc=warn"
                        .into()
                }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    centralita::huge_pages::keep_small_pages();
    match Cli::parse().command {
        Command::Serve(args) => serve(*args),
        Command::Module(ModuleCommand::Run { file, decision, input, deadline_ms, http_allow }) => {
            let input = read_input(&input)?;
            let runner = ModuleRunner::from_file(&file, Grants { mail: false, http_allow })?.with_limits(
                DecisionLimits::new(deadline_ms, centralita::sandbox::limits::DEFAULT_MEMORY_MIB),
            );
            let decision = runner.run_json(&decision, &input)?;
            println!("{}", serde_json::to_string_pretty(&decision)?);
            Ok(())
        }
        Command::Store(StoreCommand::Copy { data_dir, to }) => {
            let file = data_dir.join("centralita.redb");
            if !file.exists() {
                bail!("no store to copy: {} does not exist", file.display());
            }
            let source = Store::open(&data_dir).with_context(|| format!("opening {}", file.display()))?;
            let target = Store::connect(&to).context("connecting to the target database")?;
            let report = source.copy_into(&target).context("copying the store")?;
            for (table, rows) in report.tables.iter().filter(|(_, rows)| *rows > 0) {
                eprintln!("{table}: {rows} rows");
            }
            println!("copied {} rows from {} into PostgreSQL", report.rows(), file.display());
            Ok(())
        }
        Command::Module(ModuleCommand::Bench { file, input, count }) => {
            if count == 0 {
                bail!("--count must be at least 1");
            }
            let runner = ModuleRunner::from_file(&file, Grants::default())?;
            let report = runner.bench_did(&read_input(&input)?, count)?;
            eprintln!("{} decisions, fresh instance each, {} allocator", report.count, report.allocator);
            println!(
                "decisions p50_us={:.1} p99_us={:.1} per_sec={:.0}",
                report.p50_us, report.p99_us, report.per_sec
            );
            Ok(())
        }
    }
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin()).context("reading standard input");
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let store = match &config.store {
        Some(url) => Store::connect(url).context("connecting to the PostgreSQL store")?,
        None => Store::open(&config.data_dir)
            .with_context(|| format!("opening the store in {}", config.data_dir.display()))?,
    };
    tracing::info!(backend = store.kind(), "store open");
    let mail = match &config.mail {
        Some(settings) => centralita::mail::Mailer::smtp(settings).context("starting mail delivery")?,
        None => {
            tracing::info!("no --smtp-url: mail (voicemail, missed calls, modules) is not sent");
            centralita::mail::Mailer::disabled()
        }
    };
    let sandbox = Sandbox::new(store.clone(), Some(config.data_dir.join("compiled")), config.pooling)?
        .with_mailer(mail.clone());
    for (name, _) in centralita::sandbox::registry::standard_modules() {
        sandbox.load_standard(name).with_context(|| format!("loading the standard module {name}"))?;
    }
    let uploaded = sandbox.preload(&store)?;
    tracing::info!(allocator = ?sandbox.allocator(), uploaded, "sandbox ready");
    let sandbox = Arc::new(sandbox);
    // Module versions activated through another host's API reach this one's calls.
    store.listen({
        let sandbox = Arc::clone(&sandbox);
        move |heard| sandbox.heard(&heard)
    });
    let token = operator_token::load_or_create(&config.data_dir)?;
    let registrar = Arc::new(
        Registrar::new(store.clone()).with_sha256(config.digest_sha256).behind_front(config.sip_front),
    );
    let security = Arc::new(Guard::load(store.clone(), config.ban).context("loading the ban list")?);
    let app = App {
        queue_stats: centralita::routing::queue::stats::QueueStats::new(store.clone()),
        events: Default::default(),
        // Browsers' media sockets bind where SIP listens, or the public address when SIP
        // listens on every address (an ICE candidate must name one browsers can reach).
        rooms: centralita::rooms::Rooms::new(if config.sip_listen.ip().is_unspecified() {
            config.public_ip
        } else {
            config.sip_listen.ip()
        }),
        store,
        sandbox,
        counters: Arc::new(Counters::default()),
        registrar: registrar.clone(),
        security,
        mail,
        prompts: centralita::prompts::Prompts::new(Some(config.data_dir.join("prompts"))),
        data_dir: Some(config.data_dir.clone()),
    };
    // With other hosts on the store, their calls' events reach this host's clients.
    centralita::events::cluster::share(&app.events, &app.store);
    if config.demo {
        demo::ensure(&app).context("creating the demo company")?;
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(config.workers).enable_all().build()?;
    runtime.block_on(async move {
        // One signal stops every listener, and SIP takes nothing new from then on.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let draining = shutdown::Draining::default();
        tokio::spawn({
            let draining = draining.clone();
            async move {
                shutdown::signal().await;
                draining.start();
                let _ = stop.send(true);
                shutdown::signal().await;
                tracing::warn!("asked to stop again: not waiting for the calls in progress");
                draining.hurry();
            }
        });
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };

        let sip_socket = std::net::UdpSocket::bind(config.sip_listen)
            .with_context(|| format!("binding SIP (UDP) to {}", config.sip_listen))?;
        // TCP on the same address and port as UDP (RFC 3261 §18.2.1).
        let sip_tcp = std::net::TcpListener::bind(sip_socket.local_addr()?)
            .with_context(|| format!("binding SIP (TCP) to {}", sip_socket.local_addr().unwrap_or(config.sip_listen)))?;
        tracing::info!(address = %sip_socket.local_addr()?, "SIP listening on UDP and TCP");
        let sip_address = SocketAddr::new(config.public_ip, sip_socket.local_addr()?.port());
        let media = MediaRelay::new(config.sip_listen.ip(), config.public_ip, config.rtp_ports);
        tracing::info!(rtp_ports = %config.rtp_ports, public_ip = %config.public_ip, "media relay ready");
        let (commands, command_queue) = tokio::sync::mpsc::unbounded_channel();
        let cdrs = CdrWriter::start(app.store.clone()).context("starting the CDR writer")?;
        // Every call-state event also goes to the companies' call-events modules (webhooks).
        if let Some(feed) = app.events.observe() {
            tokio::spawn(centralita::routing::event_feed::run(app.clone(), feed));
        }
        // Delete recordings past their company's retention, now and every hour.
        tokio::spawn(centralita::recordings::retention_loop(app.clone()));
        // Delete voicemail messages past their box's retention, now and every hour.
        tokio::spawn(centralita::voicemail::purge_loop(app.clone()));
        let engine = CallEngine::new(app.clone(), media, commands.clone(), cdrs, CallSettings {
            ring_timeout: config.ring_timeout,
            draining: draining.clone(),
            ..CallSettings::new(sip_address)
        });
        // Register every company's trunks to their providers (in a cluster, those this host
        // owns among the hosts the calls see running), following the companies' changes.
        let trunks = Arc::new(Trunks::default());
        let trunk_settings = trunks::Settings { contact: config.sip_front, ..trunks::Settings::default() };
        let trunks_stopped = trunks.start(
            app.store.clone(),
            engine.live_hosts(),
            commands,
            sip_address,
            trunk_settings,
            until_stopped(stopped.clone()),
        );
        engine.serve_click_to_dial();
        let guard = app.security.clone();
        let endpoint = Endpoint::new(registrar).with_calls(engine.spawner()).with_draining(draining.clone()).with_auth_failure_hook(Box::new(
            move |source, outcome| {
                let reason = match outcome {
                    Outcome::AuthenticationFailed { company, extension } => {
                        format!("wrong SIP credentials for extension {extension} of {company}")
                    }
                    other => format!("{other:?}"),
                };
                guard.auth_failed(source.ip(), &reason, std::time::SystemTime::now());
            },
        ));
        let guard = app.security.clone();
        let streams = driver::Streams::new();
        let websockets = streams.intake();
        let sip = driver::spawn_thread(
            sip_socket,
            sip_tcp,
            streams,
            endpoint,
            command_queue,
            move |ip| guard.admits(ip),
            // The trunks' un-REGISTERs go out (and are answered), and the calls in progress
            // end (up to the drain timeout), before SIP stops.
            {
                let stopped = stopped.clone();
                let engine = engine.clone();
                let (drain_timeout, draining) = (config.drain_timeout, draining.clone());
                async move {
                    until_stopped(stopped).await;
                    // Bounded here too: the supervisor may be in a slow store read when told.
                    let limit = trunks::supervisor::SHUTDOWN_WAIT + std::time::Duration::from_secs(1);
                    let trunks = tokio::time::timeout(limit, trunks_stopped);
                    let calls = shutdown::let_calls_end(&engine, drain_timeout, &draining);
                    let _ = tokio::join!(trunks, calls);
                }
            },
        )
        .context("starting the SIP thread")?;

        let listener = tokio::net::TcpListener::bind(config.http_listen)
            .await
            .with_context(|| format!("binding the HTTP API to {}", config.http_listen))?
            // Event-stream frames are small and must leave at once, not wait for the
            // client's ACK of the previous one (Nagle's algorithm).
            .tap_io(|stream| {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY on an API connection");
                }
            });
        tracing::info!(address = %listener.local_addr()?, data_dir = %config.data_dir.display(), "API listening on /api/v1");
        let router = api::router(app, Auth::new(token), trunks, Some(websockets));
        let https = match &config.https {
            Some(settings) => {
                let listener = api::https::TlsListener::bind(settings).await.context("starting HTTPS")?;
                tracing::info!(address = %listener.local_addr(), "HTTPS listening (API, pages, SIP over wss)");
                Some(tokio::spawn(listener.serve(router.clone(), until_stopped(stopped.clone()))))
            }
            None => None,
        };
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(until_stopped(stopped))
            .await
            .context("serving the API")?;
        if let Some(https) = https {
            https.await.context("the HTTPS task")?;
        }
        tokio::task::spawn_blocking(move || sip.join())
            .await
            .context("waiting for the SIP thread")?
            .map_err(|_| anyhow::anyhow!("the SIP thread panicked"))?;
        Ok(())
    })
}
