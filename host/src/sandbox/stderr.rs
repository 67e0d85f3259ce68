//! A module's standard error: the last [`MAX_STDERR`] bytes are kept, so a panic message
//! (written last) can be reported with the failure. Older output is dropped rather than
//! refused: a full stream would make Rust's `eprintln!` panic and turn chatter into a trap.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::limits::MAX_STDERR;

/// How much a module may write at once; any amount is accepted.
const WRITE_BUDGET: usize = 64 * 1024;

/// The last [`MAX_STDERR`] bytes a module wrote to standard error.
#[derive(Clone, Default)]
pub struct CappedStderr {
    kept: Arc<Mutex<Vec<u8>>>,
}

impl CappedStderr {
    /// What was kept.
    pub fn contents(&self) -> Vec<u8> {
        crate::sync::lock(&self.kept).clone()
    }

    fn keep(&self, bytes: &[u8]) {
        let mut kept = crate::sync::lock(&self.kept);
        let bytes = &bytes[bytes.len().saturating_sub(MAX_STDERR)..];
        let overflow = (kept.len() + bytes.len()).saturating_sub(MAX_STDERR);
        kept.drain(..overflow);
        kept.extend_from_slice(bytes);
    }
}

impl IsTerminal for CappedStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedStderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CappedStderr {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_BUDGET)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedStderr {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedStderr {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_bytes_written() {
        let stderr = CappedStderr::default();
        stderr.keep(&vec![b'a'; MAX_STDERR]);
        stderr.keep(b"panicked at the end");
        let kept = stderr.contents();
        assert_eq!(kept.len(), MAX_STDERR);
        assert!(kept.ends_with(b"panicked at the end"));
        stderr.keep(&vec![b'b'; 3 * MAX_STDERR]);
        assert_eq!(stderr.contents(), vec![b'b'; MAX_STDERR]);
    }
}
