//! An exponential moving average (EMA) of the network's weights and batch-norm statistics
//! over the optimiser steps. The average sits in a flatter region of the loss than the last
//! iterate, which generalises better when training data is scarce, and it costs one blend
//! per parameter per step (the network has ~0.1 M parameters).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::network::Network;

/// The running average of a network (inference backend, no autodiff).
#[derive(Debug)]
pub(crate) struct WeightAverage {
    decay: f64,
    average: Option<Network>,
    updates: u64,
}

impl WeightAverage {
    /// An empty average that keeps `decay` of the old value at each step (once warmed up).
    pub(crate) fn new(decay: f64) -> WeightAverage {
        WeightAverage {
            decay,
            average: None,
            updates: 0,
        }
    }

    /// The decay of the next update: small at first, so the average is not dominated by the
    /// random initial weights (the usual `(1 + n) / (10 + n)` warm-up).
    fn next_decay(&self) -> f64 {
        let n = self.updates as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// Folds the current weights (`current.valid()` of the training network) into the average.
    pub(crate) fn update(&mut self, current: Network) {
        let decay = self.next_decay();
        self.updates += 1;
        self.average = Some(match self.average.take() {
            None => current,
            Some(average) => {
                let mut collect = Collect::default();
                current.visit(&mut collect);
                average.map(&mut Blend {
                    current: collect.tensors.into_iter(),
                    keep: decay as f32,
                })
            }
        });
    }

    /// The averaged network, if at least one update happened.
    pub(crate) fn network(&self) -> Option<&Network> {
        self.average.as_ref()
    }

    /// Consumes the average.
    pub(crate) fn into_network(self) -> Option<Network> {
        self.average
    }
}

/// Every float tensor of a module (parameters and batch-norm running statistics) in visit
/// order, flattened: `map` visits in the same order, so position identifies the tensor.
#[derive(Default)]
struct Collect {
    tensors: Vec<Tensor<1>>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.tensors.push(param.val().flatten(0, D - 1));
    }
}

/// Replaces each tensor `a` of the average with `keep * a + (1 - keep) * current`.
struct Blend<I: Iterator<Item = Tensor<1>>> {
    current: I,
    keep: f32,
}

impl<I: Iterator<Item = Tensor<1>>> ModuleMapper for Blend<I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(current) = self.current.next() else {
            // Both networks come from the same constructor, so this cannot run short; if it
            // did, keeping the old average is the harmless choice.
            return param;
        };
        let keep = self.keep;
        param.map(|average| {
            let shape = average.shape();
            average.mul_scalar(keep) + current.reshape(shape).mul_scalar(1.0 - keep)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn all_values(network: &Network) -> Vec<f32> {
        let mut collect = Collect::default();
        network.visit(&mut collect);
        collect
            .tensors
            .into_iter()
            .flat_map(|t| t.into_data().try_into_vec::<f32>().unwrap_or_default())
            .collect()
    }

    #[test]
    fn average_is_the_weighted_blend_of_the_updates() {
        let device = Device::flex();
        device.seed(1);
        let a = Network::new(2, &device);
        let b = Network::new(2, &device);
        let (va, vb) = (all_values(&a), all_values(&b));
        assert_ne!(va, vb);

        let mut average = WeightAverage::new(0.99);
        average.update(a);
        // The first update copies; the second blends with the warm-up decay (1 + 1) / (10 + 1).
        average.update(b);
        let keep = 2.0f32 / 11.0;
        let blended = all_values(average.network().expect("updated"));
        assert_eq!(blended.len(), va.len());
        for ((x, y), z) in va.iter().zip(&vb).zip(&blended) {
            assert!((keep * x + (1.0 - keep) * y - z).abs() < 1e-5);
        }
    }
}
