//! The one runner of background work. Each kind of work — export files, reports, webhook
//! deliveries, rollups, continuous detection, the silence watch — is a [`Queue`]: a step that
//! claims and does what is due and says when it expects more, and an optional upkeep (expired
//! files, retention). [`run`] drives any of them the same way: steps again at once after work,
//! otherwise idles until woken (work queued on this instance), until the next item it knows of
//! is due, or for the poll period (work queued by other instances, leases of one that stopped);
//! each step runs in its queue's span, a failed one is logged once and retried after the idle,
//! and shutdown ends it between steps. Claims are the queues' own (`FOR UPDATE SKIP LOCKED` with
//! a lease), so several servers on one database share the work.
use std::{future::Future, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Wakes the background workers when a job is queued on this instance. Idle workers otherwise
/// look again only every `LOOKOUT_JOB_POLL` seconds (work queued by other instances, leases of a
/// crashed one), so an idle server does not query its database every second.
#[derive(Clone, Default)]
pub struct JobWakers {
    pub exports: Arc<tokio::sync::Notify>,
    pub reports: Arc<tokio::sync::Notify>,
    /// Ingest stored samples of an hour that has ended: its rollups are due now.
    pub rollups: Arc<tokio::sync::Notify>,
}

/// How a worker waits: what wakes it, and how long it waits at most.
#[derive(Clone)]
pub struct Wake {
    pub notify: Arc<tokio::sync::Notify>,
    /// `LOOKOUT_JOB_POLL`, or a periodic worker's period.
    pub poll: Duration,
}

impl Wake {
    /// Nothing wakes it early: it runs once every `period` (jittered).
    pub fn every(period: Duration) -> Wake {
        Wake {
            notify: Arc::default(),
            poll: period,
        }
    }
}

/// How [`run`] paces a queue's steps.
#[derive(Clone)]
pub struct Pace {
    pub wake: Wake,
    /// Steps start at least this far apart (jittered), however much is due: zero for none.
    pub min_gap: Duration,
    /// Idle before the first step (periodic work that starts one period after the server).
    pub idle_first: bool,
}

impl Pace {
    /// Woken by `wake`, steps as often as there is work, the first at once.
    pub fn queue(wake: Wake) -> Pace {
        Pace {
            wake,
            min_gap: Duration::ZERO,
            idle_first: false,
        }
    }

    /// Once every `period` (jittered), the first one period after start.
    pub fn periodic(period: Duration) -> Pace {
        Pace {
            wake: Wake::every(period),
            min_gap: Duration::ZERO,
            idle_first: true,
        }
    }
}

/// What one step of a queue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It did some work: there may be more, so step again at once.
    Worked,
    /// Nothing more is due now; the next item it knows of is due in this long (`None`: none it
    /// knows of).
    Idle(Option<Duration>),
}

/// A kind of background work [`run`] drives.
pub trait Queue: Send + Sync + 'static {
    /// For logs and spans: `export`, `report`, `webhook`, …
    const NAME: &'static str;
    /// How often [`Queue::upkeep`] runs (before a step); `None`: never.
    const UPKEEP_EVERY: Option<Duration> = None;

    /// Claims and does what is due. Long work watches `shutdown` and hands its job back.
    fn step(
        &self,
        shutdown: &CancellationToken,
    ) -> impl Future<Output = anyhow::Result<Step>> + Send;

    /// Housekeeping beside the work: expired files, retention.
    fn upkeep(&self) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }
}

/// Drives `queue` until `shutdown`: see the module's description.
pub async fn run<Q: Queue>(queue: Q, pace: Pace, shutdown: CancellationToken) {
    if pace.idle_first && !idle(&pace.wake, None, &shutdown).await {
        return;
    }
    let mut last_upkeep: Option<std::time::Instant> = None;
    loop {
        if let Some(every) = Q::UPKEEP_EVERY {
            if last_upkeep.is_none_or(|at| at.elapsed() >= every) {
                let span = tracing::info_span!("upkeep", queue = Q::NAME);
                match queue.upkeep().instrument(span).await {
                    Ok(()) => last_upkeep = Some(std::time::Instant::now()),
                    Err(error) => tracing::warn!(
                        queue = Q::NAME,
                        error = format!("{error:#}"),
                        "Background upkeep failed; retrying later."
                    ),
                }
            }
        }
        let span = tracing::info_span!("job", queue = Q::NAME);
        let outcome = queue.step(&shutdown).instrument(span).await;
        let counted = match &outcome {
            Ok(Step::Worked) => "worked",
            Ok(Step::Idle(_)) => "idle",
            Err(_) => "failed",
        };
        crate::counters::add(
            crate::counters::JOB_STEPS,
            &[("queue", Q::NAME), ("outcome", counted)],
            1,
        );
        let due = match outcome {
            Ok(Step::Worked) => Some(Duration::ZERO),
            Ok(Step::Idle(due)) => due,
            Err(error) => {
                tracing::warn!(
                    queue = Q::NAME,
                    error = format!("{error:#}"),
                    "Background work failed; retrying later."
                );
                None
            }
        };
        let mut rest = due;
        if !pace.min_gap.is_zero() {
            let pause = jittered(pace.min_gap);
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.cancelled() => return,
            }
            rest = due.map(|due| due.saturating_sub(pause));
        }
        let keep_going = match rest {
            Some(rest) if rest.is_zero() => !shutdown.is_cancelled(),
            _ => idle(&pace.wake, rest, &shutdown).await,
        };
        if !keep_going {
            return;
        }
    }
}

/// Runs `work` while calling `renew` every `every`, so a job's lease does not run out (and
/// another worker take it over) while it is still being done. A failed renewal is logged and
/// tried again at the next tick; the work goes on.
pub async fn keep_leased<T, R>(
    work: impl Future<Output = T>,
    every: Duration,
    renew: impl Fn() -> R,
) -> T
where
    R: Future<Output = Result<(), sqlx::Error>>,
{
    tokio::pin!(work);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = ticks.tick() => {
                if let Err(error) = renew().await {
                    tracing::warn!(%error, "Cannot renew a job's lease; trying again shortly.");
                }
            }
        }
    }
}

/// A queue's "seconds until the next item is due" as a wait: `None` for an empty queue (SQL's
/// NULL: `greatest(…, 0)` would turn it into 0, hence the clamp here), overdue as zero, capped at
/// a day.
pub fn due_in(seconds: Option<f64>) -> Option<Duration> {
    seconds.map(|s| Duration::from_secs_f64(s.clamp(0.0, 86_400.0)))
}

/// `period` and up to a quarter more, at random: workers started together (and with the
/// sampler's tick) drift apart instead of all using the database in the same millisecond, which
/// kept a pooled connection (a PostgreSQL backend) open for each of them at idle rather than one
/// for all. Never shorter, so "at most every `period`" still holds.
pub fn jittered(period: Duration) -> Duration {
    use rand::Rng;
    period.mul_f64(rand::thread_rng().gen_range(1.0..1.25))
}

/// Waits until a worker should look for work again: woken by `wake`, at `due` (the next piece of
/// work it knows of) or after its poll period, whichever is first; `false` when the server is
/// shutting down.
pub async fn idle(wake: &Wake, due: Option<Duration>, shutdown: &CancellationToken) -> bool {
    let wait = due.map_or(jittered(wake.poll), |due| due.min(wake.poll));
    tokio::select! {
        _ = wake.notify.notified() => true,
        _ = tokio::time::sleep(wait) => true,
        _ = shutdown.cancelled() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Plays back a script of step outcomes, counting steps and upkeeps.
    #[derive(Clone, Default)]
    struct Scripted {
        script: Arc<Mutex<Vec<anyhow::Result<Step>>>>,
        steps: Arc<AtomicUsize>,
        upkeeps: Arc<AtomicUsize>,
    }

    impl Scripted {
        fn new(mut script: Vec<anyhow::Result<Step>>) -> Scripted {
            script.reverse();
            Scripted {
                script: Arc::new(Mutex::new(script)),
                ..Scripted::default()
            }
        }
    }

    impl Queue for Scripted {
        const NAME: &'static str = "scripted";
        const UPKEEP_EVERY: Option<Duration> = Some(Duration::from_secs(3600));

        async fn step(&self, _: &CancellationToken) -> anyhow::Result<Step> {
            self.steps.fetch_add(1, Ordering::SeqCst);
            self.script
                .lock()
                .expect("script")
                .pop()
                .unwrap_or(Ok(Step::Idle(None)))
        }

        async fn upkeep(&self) -> anyhow::Result<()> {
            self.upkeeps.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    const POLL: Duration = Duration::from_secs(60);

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn work_is_followed_at_once_and_idle_waits_for_a_wake_the_due_time_or_the_poll() {
        let queue = Scripted::new(vec![
            Ok(Step::Worked),
            Ok(Step::Worked),
            Ok(Step::Idle(Some(Duration::from_secs(5)))),
            Ok(Step::Idle(None)),
            Err(anyhow::anyhow!("database away")),
            Ok(Step::Idle(None)),
        ]);
        let wake = Wake {
            notify: Arc::default(),
            poll: POLL,
        };
        let shutdown = CancellationToken::new();
        let runner = tokio::spawn(run(
            queue.clone(),
            Pace::queue(wake.clone()),
            shutdown.clone(),
        ));
        settle().await;
        // Two steps that worked and the one that found nothing until 5 s from now.
        assert_eq!(queue.steps.load(Ordering::SeqCst), 3);
        tokio::time::advance(Duration::from_secs(5)).await;
        settle().await;
        assert_eq!(queue.steps.load(Ordering::SeqCst), 4);
        // Nothing known: a wake starts the next step before the poll period.
        tokio::time::advance(Duration::from_secs(1)).await;
        wake.notify.notify_one();
        settle().await;
        assert_eq!(queue.steps.load(Ordering::SeqCst), 5);
        // The failed step idles for the poll period (up to a quarter more).
        tokio::time::advance(POLL / 2).await;
        settle().await;
        assert_eq!(queue.steps.load(Ordering::SeqCst), 5);
        tokio::time::advance(POLL).await;
        settle().await;
        assert_eq!(queue.steps.load(Ordering::SeqCst), 6);
        assert_eq!(
            queue.upkeeps.load(Ordering::SeqCst),
            1,
            "upkeep at most hourly"
        );
        shutdown.cancel();
        runner.await.expect("the runner ends on shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn periodic_work_starts_one_period_in_and_a_minimum_gap_holds_between_steps() {
        let periodic = Scripted::default();
        let shutdown = CancellationToken::new();
        let runner = tokio::spawn(run(
            periodic.clone(),
            Pace::periodic(Duration::from_secs(10)),
            shutdown.clone(),
        ));
        settle().await;
        assert_eq!(periodic.steps.load(Ordering::SeqCst), 0);
        tokio::time::advance(Duration::from_millis(12_600)).await;
        settle().await;
        assert_eq!(periodic.steps.load(Ordering::SeqCst), 1);
        shutdown.cancel();
        runner.await.expect("ends");

        let busy = Scripted::new((0..10).map(|_| Ok(Step::Worked)).collect());
        let shutdown = CancellationToken::new();
        let pace = Pace {
            min_gap: Duration::from_secs(2),
            ..Pace::queue(Wake::every(POLL))
        };
        let runner = tokio::spawn(run(busy.clone(), pace, shutdown.clone()));
        settle().await;
        assert_eq!(busy.steps.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(2_600)).await;
        settle().await;
        assert_eq!(busy.steps.load(Ordering::SeqCst), 2, "one step per gap");
        shutdown.cancel();
        runner.await.expect("ends");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_is_renewed_while_its_work_runs_and_not_after() {
        let renewals = Arc::new(AtomicUsize::new(0));
        let counted = renewals.clone();
        let answer = keep_leased(
            async {
                tokio::time::sleep(Duration::from_secs(95)).await;
                42
            },
            Duration::from_secs(20),
            || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            },
        )
        .await;
        assert_eq!(answer, 42);
        // At 20, 40, 60 and 80 s.
        assert_eq!(renewals.load(Ordering::SeqCst), 4);
    }
}
