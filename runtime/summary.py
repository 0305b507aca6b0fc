"""The summary table `memxbar run` and `memxbar report` print."""

from __future__ import annotations

from .run_file import RunRecord

__all__ = ["format_summary", "format_spiking_summary"]


def _joules(value: float) -> str:
    for prefix, scale in (("", 1.0), ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}J"
    return f"{value / 1e-15:.4g} fJ" if value else "0 J"


def format_summary(record: RunRecord, name: str = "") -> str:
    """Accuracy, energy per synaptic update / inference / training sample, and the breakdown.

    A spiking run gets :func:`format_spiking_summary`.
    """
    if record.kind == "spiking":
        return format_spiking_summary(record, name)
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
    return "\n".join(lines + _breakdown(record))


def _breakdown(record: RunRecord) -> list[str]:
    """Lines of the final energy per category with its share of the total."""
    lines = []
    total = float(record.energy["total"][-1]) if len(record.energy["total"]) else 0.0
    for key in ("read", "set", "reset", "dac", "adc", "refresh", "total"):
        value = float(record.energy[key][-1]) if len(record.energy[key]) else 0.0
        share = f"{value / total:7.1%}" if total > 0 else "      -"
        lines.append(f"  {key:10s} {_joules(value):>12s} {share}")
    return lines


def format_spiking_summary(record: RunRecord, name: str = "") -> str:
    """A spiking run: activity, the scores (AUC, flatness, NMI), the mean weight of every
    neuron on every input group, and energy per synaptic update event, per simulated second
    and per synaptic event with the breakdown by category."""
    from .spiking_job import spiking_job_from_text

    final = record.final
    layout = spiking_job_from_text(record.job_yaml).layout
    lines = [f"run {name}".rstrip(), ""]
    rows = [
        ("simulated time", f"{final['duration_s']:.6g} s"),
        ("inputs x neurons", f"{final['n_inputs']} x {final['n_neurons']}"),
        ("input rate", f"{final['input_rate_Hz']:.4g} Hz"),
        ("output rate", f"{final['post_rate_Hz']:.4g} Hz"),
        ("synaptic events", f"{final['synaptic_events']:.6g}"),
    ]
    rows += [(key, f"{final[key]:.4f}") for key in ("auc", "flatness", "nmi") if key in final]
    if "groups_learned" in final:
        rows.append(("groups_learned", f"{final['groups_learned']:.0f} of {layout.n_groups}"))
    rows += [
        (key, f"{final[key]:.6g}")
        for key in ("update_events", "set_pulses", "reset_pulses", "refreshes")
        if key in final
    ]
    lines += [f"{key:28s} {value}" for key, value in rows]
    lines += ["", "mean weight per group (neurons x groups):"]
    width = max(8, *(len(n) + 1 for n in layout.names))
    lines.append(" " * 10 + "".join(f"{n:>{width}s}" for n in layout.names))
    means = [record.metrics[f"mean_weight_{n}"][-1] for n in layout.names]
    for j in range(int(final["n_neurons"])):
        lines.append(f"  neuron {j:<2d}" + "".join(f"{m[j]:>{width}.3f}" for m in means))
    attrs = record.energy_attrs
    lines += [
        "",
        f"{'energy per synaptic update':28s} {_joules(attrs['per_synaptic_update_J'])}",
        f"{'energy per simulated second':28s} {_joules(attrs['per_simulated_second_J'])}",
        f"{'energy per synaptic event':28s} {_joules(attrs['per_synaptic_event_J'])}",
        "",
        "learning energy by category:",
    ]
    return "\n".join(lines + _breakdown(record))
