//! Group commit: durability points that fall due at about the same moment share one flush and
//! fsync, so many lanes and flows do not each pay for their own.

use super::Journal;
use tokio::sync::{mpsc, oneshot};

/// Group commit: callers that need a durability point at about the same time share one
/// flush + fsync, done on a blocking thread.
#[derive(Clone)]
pub struct Committer {
    requests: mpsc::UnboundedSender<oneshot::Sender<Result<(), String>>>,
}

impl Committer {
    /// Starts the commit task on the current tokio runtime.
    pub fn start(journal: Journal) -> Committer {
        let (requests, mut receiver) = mpsc::unbounded_channel::<oneshot::Sender<Result<(), String>>>();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut waiting = vec![first];
                while let Ok(more) = receiver.try_recv() {
                    waiting.push(more);
                }
                let journal = journal.clone();
                let result = tokio::task::spawn_blocking(move || journal.durable_now())
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| format!("{e:#}")));
                for waiter in waiting {
                    let _ = waiter.send(result.clone());
                }
            }
        });
        Committer { requests }
    }

    /// Returns once everything written before the call survives a power cut.
    pub async fn durable(&self) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(reply)
            .map_err(|_| "the journal committer has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the journal committer has stopped".to_string())?
    }
}
