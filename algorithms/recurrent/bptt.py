"""Backpropagation through time of a sequence classifier, and its evaluation in batches.

Pure functions of token sequences (B, T) (symbol indices, made one-hot here) and integer
targets; both jit whole epochs (a ``lax.scan`` over batches). Training differentiates only
the arrays :func:`~.classifier.trainable_spec` marks; the tiles' ledgers of training are
dropped (training happens off chip), evaluation keeps them.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from ...crossbar import with_device_draw
from ...devices import prng
from .classifier import SequenceClassifier, trainable_spec

__all__ = ["train_epoch", "evaluate"]


def _batches(n: int, batch_size: int) -> int:
    if n < batch_size:
        raise ValueError(f"{n} sequences cannot fill one batch of {batch_size}")
    return n // batch_size


@eqx.filter_jit
def train_epoch(
    model: SequenceClassifier,
    opt_state,
    optimizer: optax.GradientTransformation,
    tokens,
    targets,
    batch_size: int,
    n_symbols: int,
    *,
    key,
    chip_per_batch: bool = False,
):
    """One pass over a shuffled training set (the last partial batch is dropped).

    ``chip_per_batch``: the AwareTiles of the model read one chip per batch (programming
    errors and drift exponents drawn once per batch, :func:`~memxbar.crossbar.with_device_draw`)
    instead of a fresh draw per read.

    Returns:
        (model, opt_state, mean loss, mean accuracy) over the epoch's batches.
    """
    n_batches = _batches(tokens.shape[0], batch_size)
    k_perm, k_steps = prng.split(key)
    order = jax.random.permutation(k_perm, tokens.shape[0])[: n_batches * batch_size]
    params, static = eqx.partition(model, trainable_spec(model))

    def loss_of(params, x, y, k):
        model = eqx.combine(params, static)
        if chip_per_batch:
            k, k_chip = prng.split(k)
            model = with_device_draw(model, k_chip)
        return model.loss(x, y, 0.0, key=k)

    grad_of = jax.value_and_grad(loss_of, has_aux=True)

    def body(carry, inputs):
        params, opt_state = carry
        idx, k = inputs
        x = jax.nn.one_hot(tokens[idx], n_symbols)
        (loss, accuracy), grads = grad_of(params, x, targets[idx], k)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, accuracy)

    keys = prng.split(k_steps, n_batches)
    (params, opt_state), (losses, accuracies) = jax.lax.scan(
        body, (params, opt_state), (order.reshape(n_batches, batch_size), keys)
    )
    return eqx.combine(params, static), opt_state, losses.mean(), accuracies.mean()


@eqx.filter_jit
def evaluate(
    model: SequenceClassifier, tokens, targets, t, batch_size: int, n_symbols: int, *, key
):
    """Accuracy and energy measure of ``model`` on every full batch of a set, read at time t (s).

    Returns:
        (model with the ledgers of the reads, accuracy, the paper's energy measure per
        sequence step averaged over the sequences).
    """
    n_batches = _batches(tokens.shape[0], batch_size)
    n = n_batches * batch_size
    steps = tokens.shape[1]
    dynamic, static = eqx.partition(model, eqx.is_array)

    def body(dynamic, inputs):
        idx, k = inputs
        model = eqx.combine(dynamic, static)
        logits, model, measure = model(jax.nn.one_hot(tokens[idx], n_symbols), t, key=k)
        correct = jnp.sum(jnp.argmax(logits, -1) == targets[idx])
        return eqx.filter(model, eqx.is_array), (correct, jnp.sum(measure))

    idx = jnp.arange(n).reshape(n_batches, batch_size)
    dynamic, (correct, measure) = jax.lax.scan(body, dynamic, (idx, prng.split(key, n_batches)))
    model = eqx.combine(dynamic, static)
    return model, jnp.sum(correct) / n, jnp.sum(measure) / (n * steps)
