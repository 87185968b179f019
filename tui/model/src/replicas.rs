//! Data-parallel training steps: a mini-batch is cut into shards, and one replica of the
//! network per shard computes that shard's gradients, each on its own thread pool; the
//! gradients are summed into one optimiser step.
//!
//! Why: burn's CPU backend parallelises inside each op, and this network's ops are too small
//! for that to pay (a training run kept ~1.3 of 2 cores busy). Whole forward/backward
//! passes side by side keep every core busy without any cross-thread hand-off inside a pass.
//!
//! What it changes in the maths: each replica's batch norms normalise with its own shard's
//! statistics ("ghost batch norm"), and burn's `RunningState` averages the replicas'
//! running statistics. Everything else is the full-batch step: each shard's mean loss is
//! weighted by its share of the batch, so the summed gradient is the batch's mean gradient.
//! The shard count is part of the training configuration, not the machine, so the same
//! seed trains the same model anywhere.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::ModelError;
use crate::data::IMAGE_BYTES;
use crate::network::{NUM_CLASSES, Network};
use crate::tensors::{images_tensor, labels_tensor, scalar};

/// Images per shard below which a batch is not split: batch norm needs two samples.
const MIN_SHARD: usize = 2;

/// One shard of a mini-batch: normalised planar images, soft targets, hard labels.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    pub planar: Vec<f32>,
    pub targets: Vec<f32>,
    pub labels: Vec<usize>,
}

/// What a training step learned about the batch, besides its gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StepStats {
    /// Sum over the batch of the per-image loss.
    pub loss_sum: f64,
    /// Images whose arg-max prediction equals their label.
    pub correct: usize,
}

/// The thread pools the replicas run on, one per shard.
pub(crate) struct Replicas {
    pools: Vec<ThreadPool>,
}

impl Replicas {
    /// `count` replicas, sharing the machine's cores between them.
    pub(crate) fn new(count: usize) -> Result<Replicas, ModelError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = (cores / count.max(1)).max(1);
        let pools = (0..count.max(1))
            .map(|i| {
                ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(move |t| format!("scones-replica-{i}.{t}"))
                    .build()
                    .map_err(|e| ModelError::Backend {
                        reason: format!("cannot start training threads: {e}"),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Replicas { pools })
    }

    /// How many shards a batch of `batch` images is cut into: one per replica, fewer when
    /// the shards would be too small for batch norm.
    pub(crate) fn shards_for(&self, batch: usize) -> usize {
        self.pools.len().min(batch / MIN_SHARD).max(1)
    }

    /// The gradients of `model`'s mean loss over all `shards`, computed side by side.
    pub(crate) fn gradients(
        &self,
        model: &Network,
        shards: Vec<Shard>,
        device: &Device,
    ) -> Result<(GradientsParams, StepStats), ModelError> {
        let batch: usize = shards.iter().map(|s| s.labels.len()).sum();
        let results = std::thread::scope(|scope| {
            let running: Vec<_> = shards
                .into_iter()
                .zip(&self.pools)
                .map(|(shard, pool)| {
                    // A fork has its own autodiff graph but the same parameter ids, so its
                    // gradients add up with the others'; running statistics stay shared.
                    let replica = model.clone().fork(device);
                    let weight = shard.labels.len() as f32 / batch as f32;
                    let device = device.clone();
                    scope.spawn(move || {
                        pool.install(|| shard_gradients(replica, shard, weight, &device))
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(ModelError::Backend {
                            reason: "a training thread panicked".to_string(),
                        })
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut sum = GradientsAccumulator::<Network>::new();
        let mut stats = StepStats {
            loss_sum: 0.0,
            correct: 0,
        };
        // Summed in shard order, so the step does not depend on which thread finished first.
        for (grads, shard_stats) in results {
            sum.accumulate(model, grads);
            stats.loss_sum += shard_stats.loss_sum;
            stats.correct += shard_stats.correct;
        }
        Ok((sum.grads(), stats))
    }
}

/// Cuts a batch (planar images, soft targets, labels, in the same order) into `count`
/// contiguous shards of (nearly) equal size.
pub(crate) fn shard(
    planar: Vec<f32>,
    targets: Vec<f32>,
    labels: Vec<usize>,
    count: usize,
) -> Vec<Shard> {
    let per_shard = labels.len().div_ceil(count.max(1)).max(1);
    labels
        .chunks(per_shard)
        .zip(planar.chunks(per_shard * IMAGE_BYTES))
        .zip(targets.chunks(per_shard * NUM_CLASSES))
        .map(|((labels, planar), targets)| Shard {
            planar: planar.to_vec(),
            targets: targets.to_vec(),
            labels: labels.to_vec(),
        })
        .collect()
}

/// Forward and backward pass of one replica over one shard; the loss is the shard's mean
/// loss times `weight` (its share of the batch).
fn shard_gradients(
    replica: Network,
    shard: Shard,
    weight: f32,
    device: &Device,
) -> Result<(GradientsParams, StepStats), ModelError> {
    let n = shard.labels.len();
    let inputs = images_tensor(shard.planar, n, device);
    let targets = Tensor::from_data(TensorData::new(shard.targets, [n, NUM_CLASSES]), device);
    let logits = replica.forward(inputs);
    let predicted = logits.clone().argmax(1).reshape([n]);
    let correct = count_equal(predicted, labels_tensor(&shard.labels, device))?;
    let loss = soft_cross_entropy(logits, targets);
    let mean_loss = scalar(loss.clone().detach())?;
    let grads = GradientsParams::from_grads(loss.mul_scalar(weight).backward(), &replica);
    Ok((
        grads,
        StepStats {
            loss_sum: f64::from(mean_loss) * n as f64,
            correct,
        },
    ))
}

/// Mean cross-entropy between soft targets and the softmax of `logits`. With smoothed one-hot
/// targets this is exactly label-smoothed cross-entropy; it also takes mixup/CutMix blends.
fn soft_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let log_probs = activation::log_softmax(logits, 1);
    (log_probs * targets).sum_dim(1).mean().neg()
}

/// How many positions of two `[batch]` integer tensors are equal.
fn count_equal(a: Tensor<1, Int>, b: Tensor<1, Int>) -> Result<usize, ModelError> {
    let equal = a.equal(b).int().sum();
    let values = equal
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| ModelError::Backend {
            reason: format!("{e:?}"),
        })?;
    Ok(values.first().copied().unwrap_or(0).max(0) as usize)
}

#[cfg(test)]
mod tests {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::{Replicas, Shard, shard};
    use crate::data::IMAGE_BYTES;
    use crate::network::Network;
    use crate::tensors::values;

    /// Every parameter's gradient in both sets, as (name-less) value vectors.
    struct Compare<'a> {
        a: &'a GradientsParams,
        b: &'a GradientsParams,
        pairs: Vec<(Vec<f32>, Vec<f32>)>,
    }

    impl ModuleVisitor for Compare<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let a = self
                .a
                .get::<D>(param.id)
                .map(|t| values(t).expect("values"));
            let b = self
                .b
                .get::<D>(param.id)
                .map(|t| values(t).expect("values"));
            if let (Some(a), Some(b)) = (a, b) {
                self.pairs.push((a, b));
            }
        }
    }

    fn one_shard(planar: &[f32], targets: &[f32], labels: &[usize]) -> Shard {
        Shard {
            planar: planar.to_vec(),
            targets: targets.to_vec(),
            labels: labels.to_vec(),
        }
    }

    /// Two shards holding the same images see the same batch statistics as the whole batch,
    /// so their weighted, summed gradients must equal the one-replica gradient of the batch:
    /// this pins the loss weighting and the accumulation (a wrong weight doubles or halves
    /// every gradient).
    #[test]
    fn sharded_gradients_sum_to_the_full_batch_gradient() {
        let device = Device::flex().autodiff();
        let model = Network::new(4, &device);
        let half = 4;
        let images =
            Tensor::<4>::random([half, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let planar = values(images).expect("images");
        let targets = [0.95, 0.05, 0.05, 0.95, 0.95, 0.05, 0.05, 0.95];
        let labels = [0, 1, 0, 1];
        assert_eq!(planar.len(), half * IMAGE_BYTES);

        let two = Replicas::new(2).expect("pools");
        assert_eq!(two.shards_for(2 * half), 2);
        let (sharded, sharded_stats) = two
            .gradients(
                &model,
                vec![
                    one_shard(&planar, &targets, &labels),
                    one_shard(&planar, &targets, &labels),
                ],
                &device,
            )
            .expect("sharded step");

        let doubled = |v: &[f32]| [v, v].concat();
        let one = Replicas::new(1).expect("pool");
        let (whole, whole_stats) = one
            .gradients(
                &model,
                vec![Shard {
                    planar: doubled(&planar),
                    targets: doubled(&targets),
                    labels: [labels, labels].concat(),
                }],
                &device,
            )
            .expect("whole-batch step");

        assert_eq!(sharded_stats.correct, whole_stats.correct);
        assert!((sharded_stats.loss_sum - whole_stats.loss_sum).abs() < 1e-4);
        let mut compare = Compare {
            a: &sharded,
            b: &whole,
            pairs: Vec::new(),
        };
        model.visit(&mut compare);
        assert!(
            compare.pairs.len() >= 10,
            "{} gradients",
            compare.pairs.len()
        );
        for (a, b) in &compare.pairs {
            let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= 1e-3 * scale, "{x} vs {y} (scale {scale})");
            }
        }
    }

    #[test]
    fn batches_too_small_to_split_stay_whole() {
        let replicas = Replicas::new(2).expect("pools");
        assert_eq!(replicas.shards_for(64), 2);
        assert_eq!(replicas.shards_for(4), 2);
        assert_eq!(replicas.shards_for(3), 1);
        assert_eq!(replicas.shards_for(2), 1);
    }

    #[test]
    fn shards_are_contiguous_aligned_and_cover_the_batch() {
        let images = 5;
        let planar: Vec<f32> = (0..images * IMAGE_BYTES).map(|i| i as f32).collect();
        let targets: Vec<f32> = (0..images * 2).map(|i| i as f32).collect();
        let labels: Vec<usize> = (0..images).collect();
        let shards = shard(planar.clone(), targets.clone(), labels.clone(), 2);
        assert_eq!(shards.len(), 2);
        assert_eq!(shards[0].labels, vec![0, 1, 2]);
        assert_eq!(shards[1].labels, vec![3, 4]);
        for s in &shards {
            let first = s.labels[0];
            assert_eq!(s.planar.len(), s.labels.len() * IMAGE_BYTES);
            assert_eq!(s.planar[0], (first * IMAGE_BYTES) as f32);
            assert_eq!(s.targets, targets[first * 2..(first + s.labels.len()) * 2]);
        }
        let rejoined: Vec<f32> = shards.iter().flat_map(|s| s.planar.clone()).collect();
        assert_eq!(rejoined, planar);
        assert_eq!(shard(planar, targets, labels, 1).len(), 1);
    }
}
