//! HTTPS: the same router as plain HTTP, behind TLS (rustls). Browsers allow a microphone
//! only on secure pages, and a secure page may open only `wss` WebSockets, so the web
//! phone needs this (or a TLS front) to be used from another machine.
//!
//! Handshakes run in tasks of their own, bounded by [`HANDSHAKE_LIMIT`], so a slow or
//! silent client never holds up the next connection; a failed one is logged and dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;

use crate::config::HttpsSettings;

/// The longest a client may take to finish its TLS handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const READY_QUEUE: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("cannot read {path}: {source}")]
    Pem { path: String, source: rustls::pki_types::pem::Error },
    #[error("{0} holds no certificate")]
    NoCertificate(String),
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
}

/// Marks a request that came over TLS (the panel's cookie is then `Secure`).
#[derive(Debug, Clone, Copy)]
pub struct SecureTransport;

/// Connections on the HTTPS address, their handshakes done.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Listen on `settings.listen` with its certificate and key.
    pub async fn bind(settings: &HttpsSettings) -> Result<TlsListener, HttpsError> {
        let acceptor = TlsAcceptor::from(Arc::new(server_config(&settings.cert, &settings.key)?));
        let tcp = TcpListener::bind(settings.listen)
            .await
            .map_err(|source| HttpsError::Bind { address: settings.listen, source })?;
        let local =
            tcp.local_addr().map_err(|source| HttpsError::Bind { address: settings.listen, source })?;
        let (handshaken, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(accept_loop(tcp, acceptor, handshaken));
        Ok(TlsListener { local, ready })
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, HttpsError> {
    let pem_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| HttpsError::Pem { path: path.clone(), source }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(pem_error(cert))?
        .collect::<Result<_, _>>()
        .map_err(pem_error(cert))?;
    if chain.is_empty() {
        return Err(HttpsError::NoCertificate(cert.display().to_string()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error(key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshaken: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(%error, "cannot accept an HTTPS connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, to_server) = (acceptor.clone(), handshaken.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = to_server.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
        if handshaken.is_closed() {
            return;
        }
    }
}

impl TlsListener {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serve `router` on each connection until `shutdown` completes. Each request sees
    /// its connection's peer as `ConnectInfo<SocketAddr>`, as on plain HTTP; WebSocket
    /// upgrades (`wss`) are served too.
    pub async fn serve(mut self, router: Router, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                Some(connection) = self.ready.recv() => connection,
                () = &mut shutdown => return,
            };
            let app = router.clone().layer(Extension(ConnectInfo(peer))).layer(Extension(SecureTransport));
            tokio::spawn(async move {
                let service = TowerToHyperService::new(app);
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                if let Err(error) = connection.await {
                    tracing::debug!(%peer, %error, "an HTTPS connection ended in error");
                }
            });
        }
    }
}
