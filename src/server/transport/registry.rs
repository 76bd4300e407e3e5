//! The open connections of one listener: what each is doing, when it must close, and
//! which one to close when the listener is at its cap.
//!
//! A connection is *fresh* until its first request head has arrived, *busy* while a
//! request is answered, *idle* between requests when kept alive, *upgraded* once it is
//! a WebSocket, and *closing* once the registry has told it to close. Only fresh and
//! idle connections have deadlines or are closed to make room: a busy one is bounded by
//! the request timeout, an upgraded one by the WebSocket's own rules.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::metrics::Metrics;

/// How many connections beyond the cap may be on their way out at once: a flood accepts
/// a new connection only once most of those it evicted have let go of their sockets.
pub(crate) const CLOSING_SLACK: usize = 32;

/// How long a connection may wait for a request head, and stay idle between requests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) header_read: Duration,
    pub(crate) keep_alive: Duration,
}

/// Why the service closed a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closed {
    /// No complete request head within the header read timeout.
    HeaderTimeout,
    /// Kept alive past the keep-alive timeout without a request.
    IdleTimeout,
    /// Closed at the cap to make room for a new connection.
    Evicted,
    /// A new connection at the cap, with no connection that could make room.
    Refused,
}

impl Closed {
    /// The `reason` label of `/metrics`.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::HeaderTimeout => "header_timeout",
            Self::IdleTimeout => "idle_timeout",
            Self::Evicted => "evicted",
            Self::Refused => "refused",
        }
    }
}

/// What a connection's task must do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// Close at once: the registry chose it to make room.
    Close,
    /// Close at this moment, for this reason, unless a request comes first.
    At(Instant, Closed),
    /// Nothing: a request is being answered, or it is a WebSocket.
    Nothing,
}

enum Phase {
    Fresh,
    Busy(u32),
    Idle {
        since: Instant,
        /// Orders idle connections by when they became idle.
        stamp: u64,
        /// When the next request's first byte arrived.
        head: Option<Instant>,
    },
    Upgraded,
    Closing,
}

struct Entry {
    phase: Phase,
    accepted: Instant,
    wake: Arc<Notify>,
}

/// The connections and the two queues eviction takes from, oldest first.
#[derive(Default)]
struct Book {
    next: u64,
    entries: HashMap<u64, Entry>,
    /// Fresh connections by id, which is their order of arrival.
    fresh: BTreeSet<u64>,
    /// Idle connections by (stamp, id).
    idle: BTreeSet<(u64, u64)>,
    /// Entries told to close that still hold their socket.
    closing: usize,
}

impl Book {
    fn stamp(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Takes `id` out of the eviction queues, for a phase that leaves them.
    fn unqueue(&mut self, id: u64) {
        let Some(entry) = self.entries.get(&id) else {
            return;
        };
        match entry.phase {
            Phase::Fresh => {
                self.fresh.remove(&id);
            }
            Phase::Idle { stamp, .. } => {
                self.idle.remove(&(stamp, id));
            }
            Phase::Busy(_) | Phase::Upgraded | Phase::Closing => {}
        }
    }

    /// Tells `id` to close.
    fn close(&mut self, id: u64) {
        self.unqueue(id);
        if let Some(entry) = self.entries.get_mut(&id)
            && !matches!(entry.phase, Phase::Closing)
        {
            entry.phase = Phase::Closing;
            entry.wake.notify_one();
            self.closing += 1;
        }
    }
}

/// The open connections of one listener, at most `cap` of them at once.
pub(crate) struct Registry {
    listener: &'static str,
    cap: usize,
    timeouts: Timeouts,
    book: Mutex<Book>,
    /// How many connections hold a socket, closing ones included.
    open: watch::Sender<usize>,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// The registry of the listener `listener` (its `/metrics` label).
    pub(crate) fn new(
        listener: &'static str,
        cap: usize,
        timeouts: Timeouts,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        metrics.connection_cap(listener, cap);
        metrics.connections_open(listener, 0);
        Arc::new(Self {
            listener,
            cap: cap.max(1),
            timeouts,
            book: Mutex::default(),
            open: watch::Sender::new(0),
            metrics,
        })
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // The book's invariants hold between statements: a panic elsewhere leaves it whole.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the sockets of evicted connections are few enough to accept another.
    pub(crate) async fn room(&self) {
        let limit = self.cap + CLOSING_SLACK;
        let _ = self.open.subscribe().wait_for(|open| *open < limit).await;
    }

    /// Waits until no connection holds a socket.
    pub(crate) async fn drained(&self) {
        let _ = self.open.subscribe().wait_for(|open| *open == 0).await;
    }

    /// Registers a new connection. At the cap it makes room by closing the oldest fresh
    /// connection, else the oldest idle one; with neither, the new connection is refused
    /// (`None`).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut book = self.book();
        if book.entries.len() - book.closing >= self.cap {
            let victim = match book.fresh.first() {
                Some(&id) => Some(id),
                None => book.idle.first().map(|&(_, id)| id),
            };
            let Some(victim) = victim else {
                drop(book);
                self.metrics
                    .connection_closed(self.listener, Closed::Refused.label());
                return None;
            };
            book.close(victim);
            self.metrics
                .connection_closed(self.listener, Closed::Evicted.label());
        }
        let id = book.stamp();
        let wake = Arc::new(Notify::new());
        book.entries.insert(
            id,
            Entry {
                phase: Phase::Fresh,
                accepted: Instant::now(),
                wake: wake.clone(),
            },
        );
        book.fresh.insert(id);
        self.publish(&book);
        drop(book);
        Some(Slot(Arc::new(SlotInner {
            id,
            registry: self.clone(),
            wake,
            awaiting_head: AtomicBool::new(false),
            multiplexed: AtomicBool::new(false),
        })))
    }

    /// Publishes how many connections hold a socket. Under the book's lock, so that the
    /// counts are published in the order they happened: a stale count left last would
    /// keep [`Self::room`] waiting for a change that may not come until a timeout.
    fn publish(&self, book: &Book) {
        let open = book.entries.len();
        self.open.send_replace(open);
        self.metrics.connections_open(self.listener, open);
    }

    fn release(&self, id: u64) {
        let mut book = self.book();
        book.unqueue(id);
        if let Some(entry) = book.entries.remove(&id)
            && matches!(entry.phase, Phase::Closing)
        {
            book.closing -= 1;
        }
        self.publish(&book);
    }
}

/// One connection's place in its registry, shared by its socket, its task and its
/// requests; the place is given up when the last of them is dropped, which for a
/// WebSocket is when the socket closes.
#[derive(Clone)]
pub(crate) struct Slot(Arc<SlotInner>);

struct SlotInner {
    id: u64,
    registry: Arc<Registry>,
    /// Wakes the connection's task when what is due changed.
    wake: Arc<Notify>,
    /// Whether the next byte read starts a request head on an idle connection.
    awaiting_head: AtomicBool,
    /// Whether the connection speaks HTTP/2, whose idle connections carry frames of
    /// their own (pings, window updates): a byte read there starts no request head.
    multiplexed: AtomicBool,
}

impl Drop for SlotInner {
    fn drop(&mut self) {
        self.registry.release(self.id);
    }
}

impl Slot {
    /// What the connection's task must do now.
    pub(crate) fn due(&self) -> Due {
        let book = self.0.registry.book();
        self.due_in(&book)
    }

    fn due_in(&self, book: &Book) -> Due {
        let timeouts = self.0.registry.timeouts;
        let Some(entry) = book.entries.get(&self.0.id) else {
            return Due::Close;
        };
        match entry.phase {
            Phase::Fresh => Due::At(entry.accepted + timeouts.header_read, Closed::HeaderTimeout),
            Phase::Idle {
                head: Some(head), ..
            } => Due::At(head + timeouts.header_read, Closed::HeaderTimeout),
            Phase::Idle { since, .. } => Due::At(since + timeouts.keep_alive, Closed::IdleTimeout),
            Phase::Busy(_) | Phase::Upgraded => Due::Nothing,
            Phase::Closing => Due::Close,
        }
    }

    /// Closes the connection if its deadline has passed (a request may have come since
    /// the task looked); returns whether it is to close.
    pub(crate) fn expire(&self) -> bool {
        let registry = &self.0.registry;
        let mut book = registry.book();
        match self.due_in(&book) {
            Due::Close => true,
            Due::Nothing => false,
            Due::At(at, _) if at > Instant::now() => false,
            Due::At(_, reason) => {
                book.close(self.0.id);
                drop(book);
                registry
                    .metrics
                    .connection_closed(registry.listener, reason.label());
                true
            }
        }
    }

    /// Resolves when what is due may have changed.
    pub(crate) async fn changed(&self) {
        self.0.wake.notified().await;
    }

    /// Bytes arrived on the socket.
    pub(crate) fn heard(&self) {
        if !self.0.awaiting_head.load(Ordering::Relaxed)
            || !self.0.awaiting_head.swap(false, Ordering::AcqRel)
        {
            return;
        }
        let mut book = self.0.registry.book();
        if let Some(Entry {
            phase: Phase::Idle { head, .. },
            ..
        }) = book.entries.get_mut(&self.0.id)
        {
            head.get_or_insert_with(Instant::now);
            self.0.wake.notify_one();
        }
    }

    /// Marks the connection as closing, without a reason to count: the server is
    /// stopping. Its socket then closes at once rather than lingering.
    pub(crate) fn dismiss(&self) {
        self.0.registry.book().close(self.0.id);
    }

    /// Whether the connection is waiting for a request (fresh, or idle), with nothing to
    /// finish.
    pub(crate) fn is_between_requests(&self) -> bool {
        let book = self.0.registry.book();
        book.entries
            .get(&self.0.id)
            .is_some_and(|entry| matches!(entry.phase, Phase::Fresh | Phase::Idle { .. }))
    }

    /// A request head arrived (over HTTP/2 if `multiplexed`): the connection is busy
    /// until the returned guard drops.
    pub(crate) fn begin(&self, multiplexed: bool) -> Request {
        if multiplexed {
            self.0.multiplexed.store(true, Ordering::Relaxed);
        }
        self.0.awaiting_head.store(false, Ordering::Relaxed);
        let mut book = self.0.registry.book();
        book.unqueue(self.0.id);
        if let Some(entry) = book.entries.get_mut(&self.0.id) {
            entry.phase = match entry.phase {
                Phase::Busy(requests) => Phase::Busy(requests + 1),
                Phase::Fresh | Phase::Idle { .. } => Phase::Busy(1),
                Phase::Upgraded => Phase::Upgraded,
                Phase::Closing => Phase::Closing,
            };
            entry.wake.notify_one();
        }
        Request {
            slot: self.clone(),
            upgraded: false,
        }
    }
}

/// A request being answered on a connection.
pub(crate) struct Request {
    slot: Slot,
    upgraded: bool,
}

impl Request {
    /// The answer switched the connection to another protocol (a WebSocket): it is
    /// neither idle nor fresh again, and holds its place until the socket closes.
    pub(crate) fn upgraded(mut self) {
        self.upgraded = true;
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        let slot = &self.slot.0;
        let mut book = slot.registry.book();
        let stamp = book.stamp();
        let Some(entry) = book.entries.get_mut(&slot.id) else {
            return;
        };
        let idle = match entry.phase {
            Phase::Busy(_) if self.upgraded => {
                entry.phase = Phase::Upgraded;
                false
            }
            Phase::Busy(1) => {
                entry.phase = Phase::Idle {
                    since: Instant::now(),
                    stamp,
                    head: None,
                };
                true
            }
            Phase::Busy(requests) => {
                entry.phase = Phase::Busy(requests - 1);
                false
            }
            _ => false,
        };
        entry.wake.notify_one();
        if idle {
            book.idle.insert((stamp, slot.id));
            if !slot.multiplexed.load(Ordering::Relaxed) {
                slot.awaiting_head.store(true, Ordering::Release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(cap: usize) -> Arc<Registry> {
        let timeouts = Timeouts {
            header_read: Duration::from_secs(10),
            keep_alive: Duration::from_secs(60),
        };
        Registry::new("api", cap, timeouts, Arc::new(Metrics::new([])))
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_connection_without_a_request_makes_room() {
        let registry = registry(3);
        let oldest = registry.admit().unwrap();
        let busy = registry.admit().unwrap();
        let _request = busy.begin(false);
        let younger = registry.admit().unwrap();
        let newcomer = registry.admit().unwrap();
        assert_eq!(oldest.due(), Due::Close);
        assert_eq!(busy.due(), Due::Nothing);
        assert!(matches!(younger.due(), Due::At(_, Closed::HeaderTimeout)));
        assert!(matches!(newcomer.due(), Due::At(_, Closed::HeaderTimeout)));
    }

    #[tokio::test]
    async fn with_no_fresh_connection_the_longest_idle_one_makes_room() {
        let registry = registry(2);
        let first = registry.admit().unwrap();
        let second = registry.admit().unwrap();
        drop(second.begin(false));
        drop(first.begin(false));
        // `second` has been idle the longest.
        let _third = registry.admit().unwrap();
        assert_eq!(second.due(), Due::Close);
        assert!(matches!(first.due(), Due::At(_, Closed::IdleTimeout)));
    }

    #[tokio::test]
    async fn busy_and_upgraded_connections_are_never_closed_to_make_room() {
        let registry = registry(2);
        let busy = registry.admit().unwrap();
        let _request = busy.begin(false);
        let socket = registry.admit().unwrap();
        socket.begin(false).upgraded();
        assert!(registry.admit().is_none(), "nothing can make room");
        assert_eq!(socket.due(), Due::Nothing);
        assert_eq!(busy.due(), Due::Nothing);
    }

    #[tokio::test]
    async fn a_place_is_given_up_when_the_last_holder_drops() {
        let registry = registry(1);
        let slot = registry.admit().unwrap();
        let held = slot.clone();
        drop(slot);
        assert_eq!(*registry.open.borrow(), 1);
        drop(held);
        assert_eq!(*registry.open.borrow(), 0);
        registry.drained().await;
    }

    #[tokio::test]
    async fn the_next_head_on_an_idle_connection_has_the_header_timeout() {
        let registry = registry(1);
        let slot = registry.admit().unwrap();
        drop(slot.begin(false));
        let Due::At(idle_until, Closed::IdleTimeout) = slot.due() else {
            panic!("idle: {:?}", slot.due());
        };
        slot.heard();
        let Due::At(head_until, Closed::HeaderTimeout) = slot.due() else {
            panic!("a head began: {:?}", slot.due());
        };
        assert!(head_until < idle_until);
    }
}
