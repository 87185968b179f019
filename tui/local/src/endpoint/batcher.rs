//! Dynamic batching: the requests that wait while the model is busy run as one forward pass.
//!
//! The model answers a few images in one pass in less time than one at a time (its deep
//! layers' products get wide enough for gemm's kernels, see `scones_model::serving`), so
//! under load the endpoint hands it what has queued up, as production inference servers do.
//! There is no batching window: a worker takes the first request as soon as it arrives and
//! whatever else is already waiting (up to [`PASS_IMAGES`]), so a request on a quiet endpoint
//! runs at once and pays only the hand-over to the worker thread.
//!
//! The workers are plain threads, one per core: a pass is CPU-bound work that must not
//! stall the async runtime's threads, and a request whose execution is stopped while it waits
//! just never reads its answer.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use scones_model::PASS_IMAGES;
use tokio::sync::oneshot;

use super::{PredictError, Predictor};

/// One waiting request: the image and where its answer goes.
struct Request {
    png: Vec<u8>,
    answer: oneshot::Sender<Result<[f32; 2], PredictError>>,
}

/// The queue in front of one model and the worker threads that drain it. Dropping it ends the
/// workers once they finish the pass in hand.
pub(crate) struct Batcher {
    queue: Sender<Request>,
}

impl Batcher {
    /// Workers for `predictor`, one per core the process may use.
    pub(crate) fn new(predictor: Arc<dyn Predictor>) -> Batcher {
        let workers = thread::available_parallelism().map_or(1, |n| n.get());
        let (queue, requests) = mpsc::channel::<Request>();
        let requests = Arc::new(Mutex::new(requests));
        for i in 0..workers {
            let (predictor, requests) = (Arc::clone(&predictor), Arc::clone(&requests));
            let spawned = thread::Builder::new()
                .name(format!("model-{i}"))
                .spawn(move || work(predictor.as_ref(), &requests));
            if let Err(e) = spawned {
                // Fewer workers is slower, not wrong; none at all fails every request below.
                tracing::warn!(error = %e, "a model worker thread could not start");
            }
        }
        Batcher { queue }
    }

    /// `[p_bicycle, p_motorcycle]` of `png`, answered in the next pass a worker runs.
    pub(crate) async fn predict(&self, png: &[u8]) -> Result<[f32; 2], PredictError> {
        let (answer, answered) = oneshot::channel();
        let request = Request {
            png: png.to_vec(),
            answer,
        };
        self.queue
            .send(request)
            .map_err(|_| PredictError::Model("no model worker is running".to_owned()))?;
        answered.await.map_err(|_| {
            PredictError::Model("the model worker stopped during the pass".to_owned())
        })?
    }
}

/// A worker: waits for a request, takes those queued behind it, answers them in one pass.
fn work(predictor: &dyn Predictor, requests: &Mutex<Receiver<Request>>) {
    loop {
        let batch = {
            // One worker at a time waits on the queue; the others wait for this lock.
            let queue = requests.lock().unwrap_or_else(|p| p.into_inner());
            let Ok(first) = queue.recv() else {
                return; // the batcher is gone
            };
            let mut batch = vec![first];
            while batch.len() < PASS_IMAGES {
                match queue.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            batch
        };
        let pngs: Vec<&[u8]> = batch.iter().map(|r| r.png.as_slice()).collect();
        let answers = predictor.predict_pngs(&pngs);
        let mut answers = answers.into_iter();
        for request in batch {
            let answer = answers.next().unwrap_or_else(|| {
                Err(PredictError::Model(
                    "the model answered fewer images than it was given".to_owned(),
                ))
            });
            // A request whose execution was stopped meanwhile no longer listens.
            let _ = request.answer.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Answers each image's first byte as its probability, and counts the passes and their
    /// sizes; each pass takes a while, so requests queue behind it.
    struct Slow {
        passes: AtomicUsize,
        largest: AtomicUsize,
    }

    impl Predictor for Slow {
        fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], PredictError> {
            match png.first() {
                Some(&b) => Ok([f32::from(b) / 255.0, 1.0 - f32::from(b) / 255.0]),
                None => Err(PredictError::BadInput("empty".to_owned())),
            }
        }

        fn predict_pngs(&self, pngs: &[&[u8]]) -> Vec<Result<[f32; 2], PredictError>> {
            self.passes.fetch_add(1, Ordering::SeqCst);
            self.largest.fetch_max(pngs.len(), Ordering::SeqCst);
            thread::sleep(Duration::from_millis(20));
            pngs.iter().map(|p| self.predict_png(p)).collect()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_requests_share_a_pass_and_each_gets_its_own_answer() {
        let model = Arc::new(Slow {
            passes: AtomicUsize::new(0),
            largest: AtomicUsize::new(0),
        });
        let batcher = Arc::new(Batcher::new(model.clone()));
        let tasks: Vec<_> = (0..40u8)
            .map(|i| {
                let batcher = Arc::clone(&batcher);
                tokio::spawn(async move {
                    let png = if i == 7 { Vec::new() } else { vec![i] };
                    (i, batcher.predict(&png).await)
                })
            })
            .collect();
        for task in tasks {
            let (i, answer) = task.await.expect("joins");
            if i == 7 {
                // One bad image fails alone; its pass answers the others.
                assert!(
                    matches!(answer, Err(PredictError::BadInput(_))),
                    "{answer:?}"
                );
            } else {
                let p = answer.expect("answers");
                assert_eq!(
                    p[0],
                    f32::from(i) / 255.0,
                    "request {i} got another's answer"
                );
            }
        }
        let passes = model.passes.load(Ordering::SeqCst);
        assert!(
            passes < 40,
            "40 requests took {passes} passes: nothing was batched"
        );
        assert!(model.largest.load(Ordering::SeqCst) <= PASS_IMAGES);
    }

    #[tokio::test]
    async fn a_quiet_endpoint_answers_one_request_in_a_pass_of_one() {
        let model = Arc::new(Slow {
            passes: AtomicUsize::new(0),
            largest: AtomicUsize::new(0),
        });
        let batcher = Batcher::new(model.clone());
        for i in 0..3u8 {
            assert_eq!(
                batcher.predict(&[i]).await.expect("answers")[0],
                f32::from(i) / 255.0
            );
        }
        assert_eq!(model.passes.load(Ordering::SeqCst), 3);
        assert_eq!(model.largest.load(Ordering::SeqCst), 1);
    }
}
