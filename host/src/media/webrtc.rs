//! The host's WebRTC peer connections (conference rooms, the web phone's bridge) built in
//! one place: the default configuration and interceptors (NACK, RTCP reports), host ICE
//! candidates on one local address, and the codecs the caller registered.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};

/// A peer connection speaking the codecs of `engine`, its events to `handler`, its
/// sockets on `bind_ip` (any free port).
pub async fn peer_connection(
    mut engine: MediaEngine,
    handler: Arc<dyn PeerConnectionEventHandler>,
    bind_ip: IpAddr,
) -> Result<Arc<dyn PeerConnection>, String> {
    let registry = register_default_interceptors(Registry::new(), &mut engine).map_err(|e| e.to_string())?;
    let connection = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec![SocketAddr::new(bind_ip, 0)])
        .build()
        .await
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(connection))
}
