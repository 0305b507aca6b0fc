"""A sequence classifier: a recurrent cell over one-hot symbols, a linear readout at the end.

``y = V h_T + c`` with the readout V on a tile too; cross-entropy at the last step (the
STPN paper's many-to-one setting). :func:`init_classifier` draws the STPN paper's
initialisation; the model is a pytree whose arrays are either trained (:func:`trainable_spec`)
or held by tiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

from ...crossbar import AbstractTile, DigitalFastTile
from ...devices import prng
from .cells import AbstractCell, LSTMCell, RNNCell, STPNCell

__all__ = ["SequenceClassifier", "init_classifier", "trainable_spec", "CELLS"]

#: Cell name in job files → (class, gates per hidden unit).
CELLS = {"stpn": (STPNCell, 1), "lstm": (LSTMCell, 4), "rnn": (RNNCell, 1)}


class SequenceClassifier(eqx.Module):
    """A recurrent ``cell`` and a ``readout`` tile (H, classes) with a digital bias."""

    cell: AbstractCell
    readout: AbstractTile
    readout_bias: Float[Array, " classes"]

    def __call__(self, x, t, *, key):
        """(logits (B, classes), model with grown ledgers, energy measure per sequence (B,))
        of one-hot sequences ``x`` (B, T, I) read at chip time t (s)."""
        steps = x.shape[1]
        cell, state = self.cell.initial(x.shape[0])
        dynamic, static = eqx.partition(cell, eqx.is_array)

        def body(carry, inputs):
            dynamic, state, measure = carry
            x_t, k = inputs
            cell = eqx.combine(dynamic, static)
            cell, state, h, m = cell.step(state, x_t, t, key=k)
            return (eqx.filter(cell, eqx.is_array), state, measure + m), h

        keys = prng.split(key, steps + 1)
        measure = jnp.zeros(x.shape[0], jnp.float32)
        (dynamic, _, measure), hs = jax.lax.scan(
            body, (dynamic, state, measure), (jnp.swapaxes(x, 0, 1), keys[:steps])
        )
        out, readout = self.readout.mvm(hs[-1], t, key=keys[steps])
        model = eqx.tree_at(
            lambda m: (m.cell, m.readout), self, (eqx.combine(dynamic, static).finished(), readout)
        )
        return out + self.readout_bias, model, measure

    def loss(self, x, y, t, *, key):
        """(mean cross-entropy, accuracy) of one-hot sequences ``x`` with integer targets ``y``."""
        logits, _, _ = self(x, t, key=key)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def trainable(self) -> tuple:
        return (*self.cell.trainable(), self.readout.weights, self.readout_bias)


def trainable_spec(model: SequenceClassifier):
    """A filter spec (the model's structure, True at the arrays training updates)."""
    spec = jax.tree_util.tree_map(lambda _: False, model)
    return eqx.tree_at(lambda m: m.trainable(), spec, replace_fn=lambda _: True)


def init_classifier(
    cell: Literal["stpn", "lstm", "rnn"],
    n_inputs: int,
    hidden: int,
    n_classes: int,
    make_tile: Callable[[str, jnp.ndarray], AbstractTile],
    *,
    key,
    decay_range: tuple[float, float] | None = None,
) -> SequenceClassifier:
    """A classifier with the STPN paper's initialisation (its authors' code).

    W, b, V, c ~ U(±1/√H) (PyTorch's default for recurrent and linear layers); for the
    STPN λ ~ U(0, 1) and γ ~ U(±0.001/√H). ``make_tile(name, weights)`` holds each matrix
    (``name``: 'input', 'recurrent' or 'readout'; e.g. an IdealTile, or an AwareTile for
    hardware-aware training). ``decay_range`` clips the STPN's λ where applied (the decays a
    volatile element realises; None: any).
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r} (known: {', '.join(CELLS)})")
    for name, n in (("n_inputs", n_inputs), ("hidden", hidden), ("n_classes", n_classes)):
        if not (isinstance(n, int) and n >= 1):
            raise ValueError(f"init_classifier: {name} must be a positive integer, got {n!r}")
    cls, gates = CELLS[cell]
    bound = 1.0 / hidden**0.5
    k_in, k_rec, k_b, k_v, k_c, k_decay, k_gain = prng.split(key, 7)

    def uniform(k, shape, low=-bound, high=bound):
        return jax.random.uniform(k, shape, jnp.float32, low, high)

    width = gates * hidden
    parts = dict(
        w_in=make_tile("input", uniform(k_in, (n_inputs, width))),
        w_rec=make_tile("recurrent", uniform(k_rec, (hidden, width))),
        bias=uniform(k_b, (width,)),
    )
    if cell == "stpn":
        shape = (n_inputs + hidden, hidden)
        gain_bound = 0.001 * bound
        parts["fast"] = DigitalFastTile.create(
            uniform(k_decay, shape, 0.0, 1.0),
            uniform(k_gain, shape, -gain_bound, gain_bound),
            decay_range=decay_range,
        )
    return SequenceClassifier(
        cell=cls(**parts),
        readout=make_tile("readout", uniform(k_v, (hidden, n_classes))),
        readout_bias=uniform(k_c, (n_classes,)),
    )
