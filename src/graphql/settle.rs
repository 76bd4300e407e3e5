//! When a request's DataLoaders send their batches: when the request has settled, not
//! after a fixed delay.
//!
//! async-graphql's DataLoader gathers keys for a short time and then queries. How many
//! keys one level of a list gathers in that time depends on how busy the machine is, so
//! the same query would sometimes take more statements. Instead, each batch waits at a
//! [`Gate`] until every branch of the request is blocked — waiting on a loader or on the
//! database — which [`Settling`] detects by watching whether the request's future woke
//! itself while it was polled. Then every waiting batch goes at once, with every key the
//! level asked for.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::future::BoxFuture;
use tokio::sync::watch;
use tracing::Instrument;

/// Holds a request's loader batches until the request settles.
pub struct Gate {
    opened: watch::Sender<u64>,
}

impl Gate {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: watch::Sender::new(0),
        })
    }

    /// A DataLoader spawner: the batch runs on its own task once the gate next opens,
    /// in the span of the request that asked for it, so its SQL logs carry the request
    /// id. Batches of a request that has ended are dropped unsent.
    pub fn spawner(self: &Arc<Self>) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let gate = self.clone();
        move |batch| {
            let mut opened = gate.opened.subscribe();
            let span = tracing::Span::current();
            tokio::spawn(
                async move {
                    if opened.changed().await.is_ok() {
                        batch.await;
                    }
                }
                .instrument(span),
            );
        }
    }

    /// Releases every batch waiting at the gate; reports whether there was one.
    fn open(&self) -> bool {
        if self.opened.receiver_count() == 0 {
            return false;
        }
        self.opened.send_modify(|generation| *generation += 1);
        true
    }
}

/// A request's execution that opens its [`Gate`] whenever it has settled.
pub struct Settling<F> {
    inner: Pin<Box<F>>,
    gate: Arc<Gate>,
    waker: Option<(Arc<FlagWaker>, Waker)>,
}

impl<F: Future> Settling<F> {
    pub fn new(inner: F, gate: Arc<Gate>) -> Self {
        Self {
            inner: Box::pin(inner),
            gate,
            waker: None,
        }
    }
}

/// Forwards wake-ups to the task and notes that one happened.
struct FlagWaker {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for FlagWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.task.wake_by_ref();
    }
}

impl<F: Future> Future for Settling<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let stale = this
            .waker
            .as_ref()
            .is_none_or(|(flag, _)| !flag.task.will_wake(cx.waker()));
        if stale {
            let flag = Arc::new(FlagWaker {
                woken: AtomicBool::new(false),
                task: cx.waker().clone(),
            });
            let waker = Waker::from(flag.clone());
            this.waker = Some((flag, waker));
        }
        let Some((flag, waker)) = &this.waker else {
            return Poll::Pending;
        };
        flag.woken.store(false, Ordering::SeqCst);
        match this.inner.as_mut().poll(&mut Context::from_waker(waker)) {
            Poll::Ready(output) => Poll::Ready(output),
            Poll::Pending => {
                // Not woken while polled: every branch waits on a loader or the database.
                if !flag.woken.load(Ordering::SeqCst) {
                    this.gate.open();
                }
                Poll::Pending
            }
        }
    }
}
