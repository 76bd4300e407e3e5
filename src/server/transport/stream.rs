//! The accepted socket, as hyper reads it: it tells the connection's place in its
//! registry when bytes arrive, and holds that place until the socket closes — after an
//! upgrade, inside the WebSocket.
//!
//! A socket hyper is done with closes *lingering*: it sends its end of the stream, then
//! reads and drops what the peer still sends, for a moment, before it closes. Closed at
//! once with bytes unread — the rest of a body answered early with 408 or 413 — the
//! system would reset the connection, and a reset makes the peer's system discard the
//! answer it has not read yet. A socket the registry closed (at a deadline, or to make
//! room) has no answer to deliver, and closes at once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

use super::registry::{Due, Slot};

/// How long a closing socket reads what its peer still sends, and how much, at most.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1024 * 1024;

/// A socket that reports what it reads to its [`Slot`].
pub(crate) struct Tracked {
    /// The socket; taken only when dropped.
    inner: Option<TcpStream>,
    slot: Slot,
}

impl Tracked {
    pub(crate) fn new(inner: TcpStream, slot: Slot) -> Self {
        Self {
            inner: Some(inner),
            slot,
        }
    }

    /// The socket, which is there until the wrapper is dropped.
    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        self.inner
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }
}

/// Polls `$poll` on the socket of `$tracked`, or fails as not connected.
macro_rules! on_socket {
    ($tracked:expr, $poll:ident($($arg:expr),*)) => {
        match $tracked.stream() {
            Ok(stream) => stream.$poll($($arg),*),
            Err(error) => Poll::Ready(Err(error)),
        }
    };
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let Some(stream) = self.inner.take() else {
            return;
        };
        if self.slot.due() == Due::Close {
            return;
        }
        // Outside a runtime (the process is ending) the socket simply closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(stream, self.slot.clone()));
        }
    }
}

/// Sends the end of the stream, then reads and drops what the peer still sends until it
/// closes too, [`LINGER`] passes, [`LINGER_BYTES`] were read, or the registry needs the
/// place; the connection keeps its place meanwhile, since it keeps its file.
async fn linger(mut stream: TcpStream, slot: Slot) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut buffer = [0u8; 4096];
        let mut read = 0;
        while read < LINGER_BYTES {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(more) => read += more,
            }
        }
    };
    let evicted = async {
        while slot.due() != Due::Close {
            slot.changed().await;
        }
    };
    tokio::select! {
        () = drain => {}
        () = evicted => {}
        () = tokio::time::sleep(LINGER) => {}
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = on_socket!(self, poll_read(cx, buf));
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.slot.heard();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_socket!(self, poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_socket!(self, poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_socket!(self, poll_shutdown(cx))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        on_socket!(self, poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(TcpStream::is_write_vectored)
    }
}
