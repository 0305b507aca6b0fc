"""``memxbar sweep``: one job over the product of axes of job keys, one sweep file."""

from __future__ import annotations

from pathlib import Path


def _sweep(args) -> int:
    from ..runtime.report.sweep_table import format_sweep_table
    from ..runtime.sweep import parse_axis, run_sweep

    axes = [parse_axis(text) for text in args.over]
    zipped = [tuple(k.strip() for k in group.split(",")) for group in args.zip]
    options = {"data_dir": args.data_dir} if args.data_dir is not None else {}
    out = Path(args.output)
    record = run_sweep(
        args.job,
        axes,
        out,
        zipped=zipped,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.quiet,
        **options,
    )
    print(format_sweep_table(record))
    print(f"\nwrote {out} (the points' run files: {out.stem}_points/)")
    return 0


def add_sweep_command(commands) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="run a job over the product of axes of job keys (seed, ADC bits, ...) into one file",
    )
    sweep.add_argument("job", help="job YAML file (any kind)")
    sweep.add_argument(
        "--over",
        action="append",
        required=True,
        metavar="KEY=VALUES",
        help="an axis: a dotted job key and its values, V1,V2,... or START:STOP[:STEP] for "
        "integers (e.g. seed=0:8, hardware.chip_overrides.periphery.adc.bits=4,6,8); repeat "
        "for more axes (their product is swept)",
    )
    sweep.add_argument(
        "--zip",
        action="append",
        default=[],
        metavar="KEY1,KEY2",
        help="axes that advance together instead of forming a product (equal lengths)",
    )
    sweep.add_argument("-o", "--output", required=True, help="sweep file (.h5)")
    sweep.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    sweep.add_argument("--overwrite", action="store_true", help="start the sweep again")
    sweep.add_argument("--data-dir", default=None, help="data folder, as for 'memxbar run'")
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_sweep)
