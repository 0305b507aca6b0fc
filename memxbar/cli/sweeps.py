"""``memxbar sweep``: one job over the product of axes of job keys, one sweep file."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from .options import integer_option


def _sweep(args) -> int:
    from ..runtime.report.sweep_plots import write_sweep_plots
    from ..runtime.report.sweep_table import format_sweep_table
    from ..runtime.sweep import parse_axis
    from ..runtime.sweep.cluster import dask_cluster
    from ..runtime.sweep.local import plan_sweep

    axes = [parse_axis(text) for text in args.over]
    zipped = [tuple(k.strip() for k in group.split(",")) for group in args.zip]
    options = {"data_dir": args.data_dir} if args.data_dir is not None else {}
    out = Path(args.output)
    on_cluster = args.scheduler is not None or args.workers is not None
    if on_cluster:  # every point checked before a cluster is started or reached
        plan_sweep(args.job, axes, zipped, options)
    with dask_cluster(args.scheduler, args.workers) if on_cluster else nullcontext() as cluster:
        record = _run(args, axes, zipped, out, options, cluster)
    print(format_sweep_table(record))
    print(f"\nwrote {out} (the points' run files: {out.stem}_points/)")
    if not args.no_plots:
        for plot in write_sweep_plots(record, out.parent, prefix=f"{out.stem}_"):
            print(f"wrote {plot}")
    return 0


def _run(args, axes, zipped, out, options, cluster):
    from ..runtime.sweep import run_sweep

    return run_sweep(
        args.job,
        axes,
        out,
        zipped=zipped,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.quiet,
        group_size=args.group_size,
        cluster=cluster,
        **options,
    )


def add_sweep_command(commands) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="run a job over the product of axes of job keys (seed, ADC bits, ...) into one file",
    )
    sweep.add_argument("job", help="job YAML file (any kind)")
    sweep.add_argument(
        "--over",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="an axis: a dotted job key and its values, V1,V2,... or START:STOP[:STEP] for "
        "integers (e.g. seed=0:8, hardware.chip_overrides.periphery.adc.bits=4,6,8); repeat "
        "for more axes (their product is swept); adds to (or replaces, key by key) the axes "
        "of the job file's sweep: section",
    )
    sweep.add_argument(
        "--zip",
        action="append",
        default=[],
        metavar="KEY1,KEY2",
        help="axes that advance together instead of forming a product (equal lengths)",
    )
    sweep.add_argument("-o", "--output", required=True, help="sweep file (.h5)")
    sweep.add_argument(
        "--group-size",
        type=integer_option("--group-size", 1),
        default=64,
        metavar="N",
        help="run up to N points that differ only in the seed together, vmapped in one "
        "compiled program (default 64; 1: one point after another)",
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the point groups as tasks on the Dask cluster whose scheduler is at ADDRESS "
        "(tcp://HOST:8786; needs pip install 'memxbar[cluster]')",
    )
    sweep.add_argument(
        "--workers",
        type=integer_option("--workers", 1),
        default=None,
        metavar="N",
        help="start a local Dask cluster of N worker processes for the sweep",
    )
    sweep.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    sweep.add_argument("--overwrite", action="store_true", help="start the sweep again")
    sweep.add_argument("--data-dir", default=None, help="data folder, as for 'memxbar run'")
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sweep.add_argument(
        "--no-plots", action="store_true", help="no figures (accuracy / energy vs each axis)"
    )
    sweep.set_defaults(func=_sweep)
