"""The HDF5 run file: one file per run, with a fixed layout other tools rely on.

Layout:
    /config/job_yaml, /config/program_yaml      text of the job and the compiled program
    /metrics/step, /metrics/<name>              metrics over training (same length)
    /metrics/eval_time_s,                       drift study (``--eval-times``): test accuracy
      /metrics/test_accuracy_vs_time[_uncompensated]   at these times after the last update
    /energy/step, /energy/<category>            cumulative joules over training, categories
                                                read, set, reset, dac, adc, refresh, total;
                                                attributes per_synaptic_update_J,
                                                per_inference_J, per_sample_J
    /final/<name>                               scalars (test_accuracy, counts, ...)
    /weights/<layer>                            snapshots (n, rows, cols); attribute steps
    /conductances/<layer>                       final programmed conductances (S), PCM only
    /setup/<name>                               what reports need of the job: tiles ('pcm',
                                                'ideal'); spiking runs: input_group,
                                                group_names, group_rates_Hz, target_group
                                                (files from memxbar 0.1 have no /setup: it is
                                                read from their job text)

A spiking run (``kind`` 'spiking', :mod:`.spiking_run`) has the same groups and adds
    /config/kind                                'spiking' (absent: a rate-based run)
    /metrics/raster_time_s, /metrics/raster_neuron   every output spike: its time (s) and
                                                neuron, an axis of their own
and its /energy attributes are per_synaptic_update_J, per_simulated_second_J and
per_synaptic_event_J.

A short-term STDP run (``kind`` 'ststdp', :mod:`.ststdp_experiment`) is a rate run (its
training) with /config/kind 'ststdp' and
    /curves/speed, /curves/<name>                accuracy per transformation speed (an axis
                                                of its own): accuracy_w[_shuffled],
                                                accuracy_wf[_shuffled], accuracy_mlp[_shuffled]
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import h5py
import numpy as np

from ..crossbar import ENERGY_CATEGORIES
from ..hw_configs.files import atomic_write_bytes

__all__ = ["RunRecord", "write_run_file", "read_run_file", "ENERGY_KEYS"]

ENERGY_KEYS = (*ENERGY_CATEGORIES, "total")
_ENERGY_ATTRS = ("per_synaptic_update_J", "per_inference_J", "per_sample_J")
#: The /energy attributes every run file of a kind has (others may follow).
_ENERGY_ATTRS_OF = {
    "rate": _ENERGY_ATTRS,
    "spiking": ("per_synaptic_update_J", "per_simulated_second_J", "per_synaptic_event_J"),
    "recurrent": ("per_sequence_step_J", "per_sequence_J", "per_synaptic_update_J"),
    "ststdp": _ENERGY_ATTRS,
    "files": ("per_classified_file_J", "per_training_file_J", "per_synaptic_update_J"),
}
#: /metrics entries of the spike raster (an axis of their own), RunRecord.raster keys.
_RASTER = {"raster_time_s": "time_s", "raster_neuron": "neuron"}
# /metrics entries of the drift study (an eval-time axis, not the training-step axis).
_DRIFT_STUDY = (
    "step",
    "eval_time_s",
    "test_accuracy_vs_time",
    "test_accuracy_vs_time_uncompensated",
)


@dataclasses.dataclass
class RunRecord:
    """Everything a run file holds, as numpy arrays and Python scalars."""

    job_yaml: str
    program_yaml: str
    metric_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    energy_steps: np.ndarray
    energy: dict[str, np.ndarray]
    energy_attrs: dict[str, float]
    final: dict[str, float]
    weights: dict[str, np.ndarray]
    weight_steps: dict[str, np.ndarray]
    conductances: dict[str, np.ndarray]
    eval_times_s: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    accuracy_vs_time: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    kind: str = "rate"
    raster: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    #: What reports need to know about the job, so that they never parse its YAML: ``tiles``
    #: ('pcm' or 'ideal'); a spiking run's input layout (``input_group``, ``group_names``,
    #: ``group_rates_Hz``, ``target_group``, -1 for none).
    setup: dict = dataclasses.field(default_factory=dict)
    #: Curves over an axis of their own (/curves): a short-term STDP run's accuracies per
    #: transformation ``speed``.
    curves: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def write_run_file(path: str | Path, record: RunRecord) -> None:
    """Write ``record`` to ``path`` atomically (a half-written run file never exists)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        config = f.create_group("config")
        config["job_yaml"] = record.job_yaml
        config["program_yaml"] = record.program_yaml
        if record.kind != "rate":
            config["kind"] = record.kind
        metrics = f.create_group("metrics")
        metrics["step"] = record.metric_steps
        for name, values in record.metrics.items():
            metrics[name] = values
        if len(record.eval_times_s):
            metrics["eval_time_s"] = record.eval_times_s
            metrics["test_accuracy_vs_time"] = record.accuracy_vs_time["compensated"]
            metrics["test_accuracy_vs_time_uncompensated"] = record.accuracy_vs_time[
                "uncompensated"
            ]
        for name, key in _RASTER.items():
            if key in record.raster:
                metrics[name] = record.raster[key]
        energy = f.create_group("energy")
        energy["step"] = record.energy_steps
        for name in ENERGY_KEYS:
            energy[name] = record.energy[name]
        required = _ENERGY_ATTRS_OF[record.kind]
        for name in (*required, *sorted(set(record.energy_attrs) - set(required))):
            energy.attrs[name] = float(record.energy_attrs[name])
        final = f.create_group("final")
        for name, value in record.final.items():
            final[name] = value
        weights = f.create_group("weights")
        for name, values in record.weights.items():
            weights[name] = values
            weights[name].attrs["steps"] = record.weight_steps[name]
        setup = f.create_group("setup")
        for name, value in record.setup.items():
            setup[name] = value
        conductances = f.create_group("conductances")
        for name, values in record.conductances.items():
            conductances[name] = values
            conductances[name].attrs["unit"] = "S"
        if record.curves:
            curves = f.create_group("curves")
            for name, values in record.curves.items():
                curves[name] = values
    atomic_write_bytes(Path(path), buffer.getvalue())


def read_run_file(path: str | Path) -> RunRecord:
    """Read a run file; a missing, corrupt or incomplete file raises ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: run file does not exist")
    try:
        with h5py.File(path, "r") as f:
            metrics = f["metrics"]
            energy = f["energy"]
            weights = f["weights"]
            kind = _text(f["config/kind"]) if "kind" in f["config"] else "rate"
            if kind not in _ENERGY_ATTRS_OF:
                raise KeyError(f"unknown run kind {kind!r}")
            required = _ENERGY_ATTRS_OF[kind]
            return RunRecord(
                job_yaml=_text(f["config/job_yaml"]),
                program_yaml=_text(f["config/program_yaml"]),
                metric_steps=metrics["step"][()],
                metrics={
                    k: metrics[k][()] for k in metrics if k not in _DRIFT_STUDY and k not in _RASTER
                },
                energy_steps=energy["step"][()],
                energy={k: energy[k][()] for k in ENERGY_KEYS},
                energy_attrs={
                    **{k: float(energy.attrs[k]) for k in required},
                    **{k: float(v) for k, v in energy.attrs.items() if k not in required},
                },
                final={k: f["final"][k][()].item() for k in f["final"]},
                weights={k: weights[k][()] for k in weights},
                weight_steps={k: weights[k].attrs["steps"][()] for k in weights},
                conductances={k: v[()] for k, v in f["conductances"].items()},
                eval_times_s=metrics["eval_time_s"][()]
                if "eval_time_s" in metrics
                else np.zeros(0),
                accuracy_vs_time={
                    label: metrics[name][()]
                    for label, name in (
                        ("compensated", "test_accuracy_vs_time"),
                        ("uncompensated", "test_accuracy_vs_time_uncompensated"),
                    )
                    if name in metrics
                },
                kind=kind,
                raster={key: metrics[name][()] for name, key in _RASTER.items() if name in metrics},
                setup=_read_setup(f),
                curves={k: v[()] for k, v in f["curves"].items()} if "curves" in f else {},
            )
    except (OSError, KeyError) as err:
        raise ValueError(f"{path}: not a complete memxbar run file ({err})") from None


def _read_setup(f) -> dict:
    if "setup" in f:
        return {k: _setup_value(v) for k, v in f["setup"].items()}
    return _legacy_setup(_text(f["config/job_yaml"]))


def _legacy_setup(job_yaml: str) -> dict:
    """/setup of a run file written before it existed (memxbar 0.1), from the job text.

    Reads only the few plain values a report needs, tolerantly, never through the job schema,
    so that schema changes cannot break old files.
    """
    import yaml

    try:
        job = yaml.safe_load(job_yaml)
    except yaml.YAMLError:
        job = None
    job = job if isinstance(job, dict) else {}
    hardware = job.get("hardware") if isinstance(job.get("hardware"), dict) else {}
    setup = {"tiles": str(hardware.get("tiles", "pcm"))}
    inputs = job.get("inputs") if isinstance(job.get("inputs"), dict) else {}
    groups = [g for g in inputs.get("groups") or () if isinstance(g, dict)]
    if groups:
        setup["input_group"] = np.repeat(np.arange(len(groups)), [g["count"] for g in groups])
        setup["group_names"] = [str(g["name"]) for g in groups]
        setup["group_rates_Hz"] = np.array([float(g["rate_Hz"]) for g in groups])
        targets = [i for i, g in enumerate(groups) if g.get("target")]
        setup["target_group"] = targets[0] if targets else -1
    return setup


def _setup_value(dataset):
    value = dataset[()]
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _text(dataset) -> str:
    value = dataset[()]
    return value.decode() if isinstance(value, bytes) else str(value)
