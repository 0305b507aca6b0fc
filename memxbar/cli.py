"""The ``memxbar`` command line.

Every user error (bad YAML, unknown preset, unwritable output, ...) is printed as one line on
stderr with exit code 2; tracebacks are reserved for bugs.
"""

from __future__ import annotations

import argparse
import os
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


def _compile(args) -> int:
    from .compiler import compile_network, mapping_report, save_program
    from .runtime.spiking_job import load_any_job

    job = load_any_job(args.job)
    chip = job.chip()
    program = compile_network(job.network, chip, device=job.device(chip))
    print(mapping_report(program))
    if args.output is not None:
        path = save_program(program, args.output)
        print(f"wrote {path}")
    return 0


def _add_compile_command(commands) -> None:
    compile_ = commands.add_parser(
        "compile", help="place a job's network onto its chip and print the mapping report"
    )
    compile_.add_argument("job", help="job YAML file (network and hardware.chip)")
    compile_.add_argument(
        "-o", "--output", default=None, help="write the program (crossbar configuration) YAML here"
    )
    compile_.set_defaults(func=_compile)


def _run(args) -> int:
    from .runtime.plots import write_run_plots
    from .runtime.run import RunInterrupted, run_job
    from .runtime.spiking_job import SpikingJob, load_any_job
    from .runtime.spiking_run import run_spiking_job
    from .runtime.summary import format_summary

    job = load_any_job(args.job)
    out = Path(args.output) if args.output else Path(f"{job.name}.h5")
    if not out.parent.is_dir():
        raise OSError(f"output folder '{out.parent}' does not exist")
    if not os.access(out.parent, os.W_OK):
        raise OSError(f"output folder '{out.parent}' is not writable")
    if isinstance(job, SpikingJob):
        for option, value in (
            ("--epochs", args.epochs),
            ("--eval-times", args.eval_times),
            ("--data-dir", args.data_dir),
        ):
            if value is not None:
                raise ValueError(f"{option} does not apply to a spiking job ({args.job})")
    try:
        if isinstance(job, SpikingJob):
            record = run_spiking_job(
                job, out, seed=args.seed, resume=args.resume, progress=not args.quiet
            )
        else:
            record = run_job(
                job,
                out,
                seed=args.seed,
                epochs=args.epochs,
                resume=args.resume,
                progress=not args.quiet,
                eval_times_s=_eval_times(args.eval_times),
                data_dir=args.data_dir,
            )
    except RunInterrupted as stop:
        print(f"memxbar: {stop}", file=sys.stderr)
        return 3
    print(format_summary(record, job.name))
    print(f"\nwrote {out}")
    for path in write_run_plots(record, out.parent, prefix=f"{out.stem}_"):
        print(f"wrote {path}")
    return 0


def _eval_times(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        times = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"--eval-times: expected comma-separated seconds (e.g. 1,3600,86400), got {text!r}"
        ) from None
    if any(not (t > 0) or t == float("inf") for t in times):
        raise ValueError(f"--eval-times: every time must be a positive number of seconds: {text!r}")
    return times


def _report(args) -> int:
    from .runtime.plots import write_run_plots
    from .runtime.run_file import read_run_file
    from .runtime.summary import format_summary

    path = Path(args.run)
    record = read_run_file(path)
    print(format_summary(record, path.stem))
    if not args.no_plots:
        for plot in write_run_plots(record, path.parent, prefix=f"{path.stem}_"):
            print(f"wrote {plot}")
    return 0


def _add_run_commands(commands) -> None:
    run = commands.add_parser("run", help="train a job on its emulated chip and evaluate it")
    run.add_argument("job", help="job YAML file (rate-based, or 'kind: spiking')")
    run.add_argument("-o", "--output", default=None, help="run file (default: JOB_NAME.h5)")
    run.add_argument("--seed", type=int, default=None, help="PRNG seed (default: the job's)")
    run.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    run.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint of an interrupted run"
    )
    run.add_argument(
        "--eval-times",
        default=None,
        help="drift study: seconds after training, comma-separated (e.g. 1,3600,86400,2.6e6)",
    )
    run.add_argument(
        "--data-dir",
        default=None,
        help="data folder for mnist, cifar10, stl10 (default: $MEMXBAR_DATA, else the "
        "per-user folder that 'memxbar data fetch' fills)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    report = commands.add_parser("report", help="print a run file's summary and redraw its plots")
    report.add_argument("run", help="run file (.h5) written by 'memxbar run'")
    report.add_argument("--no-plots", action="store_true", help="only print the summary")
    report.set_defaults(func=_report)


def _data_fetch(args) -> int:
    from .runtime.fetch import fetch

    try:
        folder = fetch(
            args.name,
            args.dir,
            mirror=args.mirror,
            progress=not args.quiet and sys.stderr.isatty(),
        )
    except KeyboardInterrupt:
        print("memxbar: interrupted: no partial file was kept", file=sys.stderr)
        return 130
    print(f"{args.name}: ready in {folder}")
    return 0


def _data_list(args) -> int:
    from .runtime.fetch import list_data

    root, presences = list_data(args.dir)
    print(f"data folder: {root}")
    for p in presences:
        shown = p.folder.relative_to(root) if p.folder.is_relative_to(root) else p.folder
        where = f" --dir {args.dir}" if args.dir else ""
        hint = f" (memxbar data fetch {p.source.name}{where})" if p.state != "complete" else ""
        print(f"{p.source.name:8s} {p.state:11s} {str(shown) + '/':22s} {p.detail}{hint}")
    return 0


def _add_data_commands(commands) -> None:
    from .runtime.data_home import default_data_dir

    folder_help = (
        "data folder (default: $MEMXBAR_DATA if set, else the per-user folder "
        f"{default_data_dir()})"
    )
    data = commands.add_parser(
        "data",
        help="download and inspect data sets (MNIST, CIFAR-10, STL-10)",
        description="Download the official MNIST, CIFAR-10 and STL-10 files, checked against "
        "their published SHA-256, into the data folder where 'memxbar run' finds them.",
    )
    data_cmds = data.add_subparsers(dest="data_command", required=True)
    fetch = data_cmds.add_parser(
        "fetch",
        help="download a data set, verify its checksums and unpack it",
        description="Download a data set's official files with a progress bar, check each "
        "against its published SHA-256 (a mismatch is refused and deleted), unpack archives "
        "(CIFAR-10, STL-10) and skip what is already there and verified. Sizes: mnist 11 MB, "
        "cifar10 163 MB, stl10 2.5 GB (5.3 GB while unpacking).",
        epilog="Files go to DIR/mnist/, DIR/cifar-10-batches-py/ and DIR/stl10_binary/. "
        f"Default DIR: $MEMXBAR_DATA if set, else {default_data_dir()}. A mirror serves every "
        "file under its official name at its base URL (http://, https:// or file://); "
        "$MEMXBAR_DATA_MIRROR sets one too. Exit codes: 0 done, 2 error (network, checksum, "
        "folder), 130 interrupted.",
    )
    fetch.add_argument("name", choices=("mnist", "cifar10", "stl10"), help="the data set")
    fetch.add_argument("--dir", default=None, help=folder_help)
    fetch.add_argument(
        "--mirror",
        default=None,
        help="base URL to download from instead of the official sites "
        "(default: $MEMXBAR_DATA_MIRROR)",
    )
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=_data_fetch)
    list_ = data_cmds.add_parser(
        "list",
        help="show which data sets the data folder holds, complete and verified or not",
        description="For each data set: complete (checksums verified), absent, incomplete "
        "(files missing), unverified (files present but not fetched by memxbar) or corrupt.",
    )
    list_.add_argument("--dir", default=None, help=folder_help)
    list_.set_defaults(func=_data_list)


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
    _add_compile_command(commands)
    _add_run_commands(commands)
    _add_data_commands(commands)
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
        print("memxbar: interrupted (a run resumes with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
