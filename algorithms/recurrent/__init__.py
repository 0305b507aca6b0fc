"""Recurrent networks trained by backpropagation through time through the tiles, then run on
the chip: the short-term plasticity neuron (STPN) and its LSTM and RNN baselines."""

from .bptt import evaluate, train_epoch
from .cells import AbstractCell, LSTMCell, RNNCell, STPNCell
from .classifier import CELLS, SequenceClassifier, init_classifier, trainable_spec

__all__ = [
    "AbstractCell",
    "CELLS",
    "LSTMCell",
    "RNNCell",
    "STPNCell",
    "SequenceClassifier",
    "evaluate",
    "init_classifier",
    "train_epoch",
    "trainable_spec",
]
