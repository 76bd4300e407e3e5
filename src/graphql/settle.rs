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
pub(crate) struct Gate {
    /// Bumped each time the gate opens; set to `true` when the request has ended.
    ended: watch::Sender<bool>,
    /// Whether a [`Settling`] request drives the gate: only then is anyone there to
    /// open it, so only then do batches wait.
    driven: AtomicBool,
}

impl Gate {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            ended: watch::Sender::new(false),
            driven: AtomicBool::new(false),
        })
    }

    /// A DataLoader spawner: the batch runs on its own task once the gate next opens,
    /// in the span of the request that asked for it, so its SQL logs carry the request
    /// id. Batches of a request that has ended are dropped unsent. Outside a settling
    /// request — before it starts, after it ends, or with no request at all — nothing
    /// would open the gate, so batches go at once.
    pub(crate) fn spawner(
        self: &Arc<Self>,
    ) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let gate = self.clone();
        move |batch| {
            let span = tracing::Span::current();
            if !gate.driven.load(Ordering::SeqCst) {
                tokio::spawn(batch.instrument(span));
                return;
            }
            let mut ended = gate.ended.subscribe();
            tokio::spawn(
                async move {
                    // The gate may have opened (or the request ended) since `subscribe`;
                    // `changed` sees it, having not looked yet.
                    if !*ended.borrow() && ended.changed().await.is_ok() && !*ended.borrow() {
                        batch.await;
                    }
                }
                .instrument(span),
            );
        }
    }

    /// Waits, in the caller's own future, until the gate next opens: at once when no
    /// settling request drives it (see `loaders::Loaders::load_now`).
    pub(crate) async fn opening(&self) {
        if !self.driven.load(Ordering::SeqCst) {
            return;
        }
        let mut ended = self.ended.subscribe();
        // An error means the request is over, and so is the wait.
        let _ = ended.changed().await;
    }

    /// Releases every batch waiting at the gate; reports whether there was one.
    fn open(&self) -> bool {
        if self.ended.receiver_count() == 0 {
            return false;
        }
        self.ended.send_modify(|_| {});
        true
    }

    /// A request starts driving the gate: batches wait for it to settle.
    fn drive(&self) {
        self.ended.send_replace(false);
        self.driven.store(true, Ordering::SeqCst);
    }

    /// The request has ended: drops the batches still waiting, and lets later ones go
    /// at once.
    fn end(&self) {
        if self.driven.swap(false, Ordering::SeqCst) {
            self.ended.send_replace(true);
        }
    }
}

/// A request's execution that opens its [`Gate`] whenever it has settled.
pub(crate) struct Settling<F> {
    inner: Pin<Box<F>>,
    gate: Arc<Gate>,
    waker: Option<(Arc<FlagWaker>, Waker)>,
}

impl<F: Future> Settling<F> {
    pub(crate) fn new(inner: F, gate: Arc<Gate>) -> Self {
        gate.drive();
        Self {
            inner: Box::pin(inner),
            gate,
            waker: None,
        }
    }
}

impl<F> Drop for Settling<F> {
    fn drop(&mut self) {
        self.gate.end();
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
            Poll::Ready(output) => {
                this.gate.end();
                Poll::Ready(output)
            }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_graphql::dataloader::DataLoader;
    use futures::FutureExt;
    use tokio::sync::oneshot;

    use super::*;
    use crate::graphql::coalesce::Coalesced;
    use crate::graphql::coalesce::tests::Recording;

    /// A branch that is busy: it wakes itself and yields once.
    struct Busy(bool);

    impl Future for Busy {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    async fn busy(times: usize) {
        for _ in 0..times {
            Busy(false).await;
        }
    }

    /// A request's loader over `inner`, as `graphql::loaders` builds them.
    fn loader(gate: &Arc<Gate>, inner: Recording) -> DataLoader<Coalesced<i64, Recording>> {
        DataLoader::new(Coalesced::new(inner), gate.spawner()).delay(Duration::ZERO)
    }

    /// Whether a flag was set within a second.
    async fn eventually(flag: &AtomicBool) -> bool {
        for _ in 0..100 {
            if flag.load(Ordering::SeqCst) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_batch_waits_while_the_request_is_busy_and_goes_once_it_settles() {
        let gate = Gate::new();
        let spawn = gate.spawner();
        let ran = Arc::new(AtomicBool::new(false));
        let (sent, answer) = oneshot::channel();
        let request = Settling::new(
            {
                let ran = ran.clone();
                async move {
                    let batch_ran = ran.clone();
                    spawn(
                        async move {
                            batch_ran.store(true, Ordering::SeqCst);
                            let _ = sent.send(7);
                        }
                        .boxed(),
                    );
                    // Each time the request is busy the runtime runs its other tasks,
                    // the batch's among them.
                    for _ in 0..20 {
                        busy(1).await;
                        assert!(!ran.load(Ordering::SeqCst), "the batch went early");
                    }
                    answer.await
                }
            },
            gate.clone(),
        );
        let answer = tokio::time::timeout(Duration::from_secs(5), request).await;
        assert_eq!(answer.ok().and_then(Result::ok), Some(7));
    }

    #[tokio::test]
    async fn every_key_of_a_level_goes_in_one_batch() {
        let gate = Gate::new();
        let inner = Recording::open();
        let loader = loader(&gate, inner.clone());
        let level = futures::future::join_all((0..20i64).map(|key| {
            let loader = &loader;
            async move {
                // Branches reach the loader after different amounts of work.
                busy(usize::try_from(key % 7).unwrap_or(0)).await;
                loader.load_one(key).await
            }
        }));
        let answers = tokio::time::timeout(Duration::from_secs(5), Settling::new(level, gate))
            .await
            .unwrap_or_default();
        let answers: Vec<Option<i64>> = answers.into_iter().map(|a| a.ok().flatten()).collect();
        assert_eq!(
            answers,
            (0..20).map(|key| Some(key * 10)).collect::<Vec<_>>()
        );
        assert_eq!(inner.batches(), vec![(0..20).collect::<Vec<i64>>()]);
    }

    #[tokio::test]
    async fn a_request_that_ends_drops_its_unsent_batches() {
        struct Dropped(Arc<AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let gate = Gate::new();
        let spawn = gate.spawner();
        let (ran, dropped) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let request = Settling::new(
            {
                let (ran, dropped) = (ran.clone(), dropped.clone());
                async move {
                    let guard = Dropped(dropped);
                    spawn(
                        async move {
                            let _guard = guard;
                            ran.store(true, Ordering::SeqCst);
                        }
                        .boxed(),
                    );
                    busy(usize::MAX).await;
                }
            },
            gate.clone(),
        );
        // Polled once while busy, then given up (a timeout, a closed connection).
        assert!(request.now_or_never().is_none());
        assert!(eventually(&dropped).await, "the batch was kept");
        assert!(!ran.load(Ordering::SeqCst), "the batch was sent");
    }

    #[tokio::test]
    async fn a_loader_outside_a_settling_request_does_not_wait() {
        let gate = Gate::new();
        let inner = Recording::open();
        let loader = loader(&gate, inner.clone());
        let answer = tokio::time::timeout(Duration::from_secs(5), loader.load_one(4)).await;
        assert_eq!(answer.ok().and_then(Result::ok).flatten(), Some(40));

        // Nor after the request it served has ended.
        let served = Settling::new(loader.load_one(1), gate.clone());
        assert!(
            tokio::time::timeout(Duration::from_secs(5), served)
                .await
                .is_ok()
        );
        let answer = tokio::time::timeout(Duration::from_secs(5), loader.load_one(2)).await;
        assert_eq!(answer.ok().and_then(Result::ok).flatten(), Some(20));
        assert_eq!(inner.batches(), vec![vec![4], vec![1], vec![2]]);
    }

    #[tokio::test]
    async fn a_batch_runs_in_the_span_of_the_request_that_asked() {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(std::io::sink)
            .finish();
        let _subscriber = tracing::subscriber::set_default(subscriber);
        let gate = Gate::new();
        let spawn = gate.spawner();
        let (sent, seen) = oneshot::channel();
        let request = async move {
            spawn(
                async move {
                    let name = tracing::Span::current().metadata().map(|meta| meta.name());
                    let _ = sent.send(name);
                }
                .boxed(),
            );
            seen.await
        }
        .instrument(tracing::info_span!("request"));
        let seen = tokio::time::timeout(Duration::from_secs(5), Settling::new(request, gate)).await;
        assert_eq!(seen.ok().and_then(Result::ok).flatten(), Some("request"));
    }
}
