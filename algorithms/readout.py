"""A digital linear classifier trained on features, as the readout of unsupervised layers."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

__all__ = ["LinearReadout", "train_readout"]


class LinearReadout(eqx.Module):
    """Logits = features @ weight + bias."""

    weight: jnp.ndarray
    bias: jnp.ndarray

    def logits(self, features):
        return features @ self.weight + self.bias

    def accuracy(self, features, labels):
        """Share of samples whose largest logit is their label."""
        return jnp.mean(jnp.argmax(self.logits(features), axis=-1) == labels)


def train_readout(features, labels, n_classes: int, *, steps: int, learning_rate: float):
    """Full-batch Adam on softmax cross-entropy; deterministic (zero init, no sampling)."""
    features = jnp.asarray(features, jnp.float32)
    labels = jnp.asarray(labels)
    model = LinearReadout(
        jnp.zeros((features.shape[1], n_classes), jnp.float32), jnp.zeros(n_classes, jnp.float32)
    )
    optimiser = optax.adam(learning_rate)
    targets = jax.nn.one_hot(labels, n_classes)

    def loss(m):
        return optax.softmax_cross_entropy(m.logits(features), targets).mean()

    @jax.jit
    def run(model):
        def step(carry, _):
            m, opt_state = carry
            grads = jax.grad(loss)(m)
            updates, opt_state = optimiser.update(grads, opt_state, m)
            return (optax.apply_updates(m, updates), opt_state), None

        (model, _), _ = jax.lax.scan(step, (model, optimiser.init(model)), None, length=steps)
        return model

    return run(model)
