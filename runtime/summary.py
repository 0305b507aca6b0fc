"""The summary table `memxbar run` and `memxbar report` print."""

from __future__ import annotations

from .run_file import RunRecord

__all__ = ["format_summary"]


def _joules(value: float) -> str:
    for prefix, scale in (("", 1.0), ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}J"
    return f"{value / 1e-15:.4g} fJ" if value else "0 J"


def format_summary(record: RunRecord, name: str = "") -> str:
    """Accuracy, energy per synaptic update / inference / training sample, and the breakdown."""
    final = record.final
    lines = [f"run {name}".rstrip(), ""]
    for key in ("test_accuracy", "train_accuracy"):
        if key in final:
            lines.append(f"{key:28s} {final[key]:.4f}")
    for key in ("training_steps", "training_samples", "update_events", "set_pulses", "refreshes"):
        if key in final:
            lines.append(f"{key:28s} {final[key]:.6g}")
    attrs = record.energy_attrs
    lines += [
        "",
        f"{'energy per synaptic update':28s} {_joules(attrs['per_synaptic_update_J'])}",
        f"{'energy per inference':28s} {_joules(attrs['per_inference_J'])}",
        f"{'energy per training sample':28s} {_joules(attrs['per_sample_J'])}",
        "",
        "training energy by category:",
    ]
    total = float(record.energy["total"][-1]) if len(record.energy["total"]) else 0.0
    for key in ("read", "set", "reset", "dac", "adc", "refresh", "total"):
        value = float(record.energy[key][-1]) if len(record.energy[key]) else 0.0
        share = f"{value / total:7.1%}" if total > 0 else "      -"
        lines.append(f"  {key:10s} {_joules(value):>12s} {share}")
    return "\n".join(lines)
