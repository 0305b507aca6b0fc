"""The ``memxbar`` command line.

Every user error (bad YAML, unknown preset, unwritable output, ...) is printed as one line on
stderr with exit code 2; tracebacks are reserved for bugs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _devices_list(args) -> int:
    from .devices import load_preset
    from .hw_configs import preset_names

    for name in preset_names("devices"):
        model = load_preset(name)
        print(f"{name:24s} {type(model).__name__:16s} {model.description}")
    return 0


def _devices_show(args) -> int:
    from .devices import load_preset
    from .hw_configs import describe

    model = load_preset(args.preset)
    print(f"{args.preset}: {type(model).__name__} — {model.description}")
    rows = [r for r in describe(model) if r[0] != "description"]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'parameter':{width}s}  {'value':>{vwidth}s}  {'unit':4s}  meaning")
    for key, value, unit, doc in rows:
        print(f"{key:{width}s}  {value:>{vwidth}s}  {unit:4s}  {doc}")
    return 0


def _devices_plot(args) -> int:
    from .devices import load_preset
    from .runtime.device_figures import write_device_figures

    model = load_preset(args.preset)
    out = Path(args.output)
    paths = write_device_figures(model, out, n_devices=args.devices, seed=args.seed)
    for path in paths:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memxbar", description="Emulate, compile for and learn on PCM crossbar chips."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    devices = commands.add_parser("devices", help="inspect device presets")
    dev_cmds = devices.add_subparsers(dest="devices_command", required=True)
    dev_cmds.add_parser("list", help="list the shipped device presets").set_defaults(
        func=_devices_list
    )
    show = dev_cmds.add_parser("show", help="table of a preset's parameters with units")
    show.add_argument("preset", help="preset name (see 'memxbar devices list') or YAML path")
    show.set_defaults(func=_devices_show)
    plot = dev_cmds.add_parser("plot", help="PNG figures of a preset's device behaviour")
    plot.add_argument("preset", help="preset name or YAML path")
    plot.add_argument("-o", "--output", default="figures", help="output folder (default: figures)")
    plot.add_argument(
        "--devices", type=int, default=2000, help="devices simulated per curve (default 2000)"
    )
    plot.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    plot.set_defaults(func=_devices_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        message = " ".join(str(err).split())
        print(f"memxbar: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memxbar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
