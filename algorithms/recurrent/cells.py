"""Recurrent cells whose matrices are tiles: the STPN, the LSTM and the vanilla RNN.

Every matrix-vector product goes through a tile (:class:`~memxbar.crossbar.AbstractTile`), so
one cell trains through float tiles (IdealTile, or AwareTile for hardware-aware training:
gradients flow through the tile's forward model) and runs on a chip (PCM tiles) unchanged.
Tiles store ``y = x @ W`` with W of shape (inputs, outputs): the papers' H × (I + H) matrix
is stored as its transpose, split into an input tile (I, g·H) and a recurrent tile (H, g·H)
(g = 4 gates for the LSTM, else 1), whose outputs are added digitally.

A step returns the new cell (its tiles' ledgers grew), the new state and its output ``h``,
and the paper's energy measure of the step per sequence (:meth:`measure`): Σ_ij |G_ij| z_j²
with the effective weights G the step used and z = [x; h_prev] (Garcia Rodriguez et al.,
ICML 2022, who take inputs as voltages and weights as conductances).
"""

# No ``from __future__ import annotations``: equinox reads AbstractVar annotations as objects.
import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ...crossbar import AbstractFastTile, AbstractTile
from ...devices import prng

__all__ = ["AbstractCell", "STPNCell", "LSTMCell", "RNNCell", "NORM_EPS"]

#: Added to the STPN's row norms (the authors' code adds 1e-16 before dividing).
NORM_EPS = 1e-16


class AbstractCell(eqx.Module):
    """A recurrent cell over a batch of sequences; see the module docstring."""

    w_in: eqx.AbstractVar[AbstractTile]
    w_rec: eqx.AbstractVar[AbstractTile]
    bias: eqx.AbstractVar[Float[Array, " gh"]]

    @property
    def hidden(self) -> int:
        return self.w_rec.rows

    @abc.abstractmethod
    def initial(self, batch: int):
        """(cell ready for ``batch`` new sequences, the state before the first step)."""

    def finished(self):
        """The cell after its sequences: what it holds per sequence dropped, ledgers kept."""
        return self

    @abc.abstractmethod
    def step(self, state, x, t, *, key):
        """(cell, state, h, measure) after one step of inputs ``x`` (B, I) at chip time t (s)."""

    @abc.abstractmethod
    def trainable(self) -> tuple:
        """The arrays training updates (for an ``eqx.tree_at`` filter)."""

    def _linear(self, x, h, t, key):
        """(x @ W_in + h @ W_rec, cell with the tiles' ledgers grown)."""
        k_in, k_rec = prng.split(key)
        a_in, w_in = self.w_in.mvm(x, t, key=k_in)
        a_rec, w_rec = self.w_rec.mvm(h, t, key=k_rec)
        return a_in + a_rec, eqx.tree_at(lambda c: (c.w_in, c.w_rec), self, (w_in, w_rec))

    def weights(self):
        """The long-term weights W (I + H, g·H) as the tiles hold them (introspection)."""
        return jnp.concatenate([self.w_in.true_weights(), self.w_rec.true_weights()])

    def measure(self, x, h, G=None):
        """The paper's energy measure of one step per sequence (B,): Σ_ij |G_ij| z_j²."""
        z2 = jnp.square(jnp.concatenate([x, h], axis=-1))
        if G is None:
            return z2 @ jnp.sum(jnp.abs(self.weights()), axis=1)
        return jnp.sum(z2[:, :, None] * jnp.abs(G), axis=(1, 2))


class RNNCell(AbstractCell):
    """h_t = tanh(x_t W_in + h_{t−1} W_rec + b) (Elman)."""

    w_in: AbstractTile
    w_rec: AbstractTile
    bias: Float[Array, " h"]

    def initial(self, batch: int):
        return self, jnp.zeros((batch, self.hidden), jnp.float32)

    def step(self, state, x, t, *, key):
        a, cell = self._linear(x, state, t, key)
        h = jnp.tanh(a + self.bias)
        return cell, h, h, self.measure(x, state)

    def trainable(self):
        return (self.w_in.weights, self.w_rec.weights, self.bias)


class LSTMCell(AbstractCell):
    """The LSTM of Hochreiter & Schmidhuber with a forget gate (PyTorch's gate order i, f, g, o)."""

    w_in: AbstractTile
    w_rec: AbstractTile
    bias: Float[Array, " 4h"]

    def initial(self, batch: int):
        zeros = jnp.zeros((batch, self.hidden), jnp.float32)
        return self, (zeros, zeros)

    def step(self, state, x, t, *, key):
        h_prev, c_prev = state
        a, cell = self._linear(x, h_prev, t, key)
        i, f, g, o = jnp.split(a + self.bias, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c_prev + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return cell, (h, c), h, self.measure(x, h_prev)

    def trainable(self):
        return (self.w_in.weights, self.w_rec.weights, self.bias)


class STPNCell(AbstractCell):
    """The short-term plasticity neuron (Garcia Rodriguez, Guo, Moraitis, ICML 2022).

    With z = [x_t; h_{t−1}], G = W + F_{t−1} and n_j = ‖G_:,j‖₂ + NORM_EPS (the norm of the
    synapses onto neuron j):  h_t = tanh((z G)_j / n_j + b_j),  and the fast weights
    F_t = λ ⊙ F_{t−1} / n + γ ⊙ (z ⊗ h_t), F_0 = 0, held by ``fast`` (λ = its decay, γ = its
    gain; :mod:`memxbar.crossbar.fast_weights`).

    The norm needs W and F: F is read every step (``fast.read_weights``); W from
    ``w_reference``, the controller's digital copy of the long-term weights (read once after
    programming), or the tiles' own weights when None (training).
    """

    w_in: AbstractTile
    w_rec: AbstractTile
    bias: Float[Array, " h"]
    fast: AbstractFastTile
    w_reference: Float[Array, "z h"] | None = None

    def initial(self, batch: int):
        cell = eqx.tree_at(lambda c: c.fast, self, self.fast.fresh(batch))
        return cell, jnp.zeros((batch, self.hidden), jnp.float32)

    def finished(self):
        return eqx.tree_at(lambda c: c.fast, self, self.fast.fresh(0))

    def step(self, state, x, t, *, key):
        k_lin, k_fast, k_read, k_write = prng.split(key, 4)
        z = jnp.concatenate([x, state], axis=-1)
        a, cell = self._linear(x, state, t, k_lin)
        a_fast, fast = cell.fast.mvm(z, key=k_fast)
        F, fast = fast.read_weights(key=k_read)
        W = self.weights() if self.w_reference is None else self.w_reference
        G = W + F
        n = jnp.sqrt(jnp.sum(G * G, axis=1)) + NORM_EPS
        h = jnp.tanh((a + a_fast) / n + self.bias)
        fast = fast.advance(n, z, h, key=k_write)
        measure = jnp.sum(jnp.square(z)[:, :, None] * jnp.abs(G) / n[:, None, :], axis=(1, 2))
        return eqx.tree_at(lambda c: c.fast, cell, fast), h, h, measure

    def trainable(self):
        return (self.w_in.weights, self.w_rec.weights, self.bias, self.fast.decay, self.fast.gain)
