"""A compiled program: which block of which weight matrix sits on which tile, and its files.

A :class:`Program` is the network, the chip, the device model of the chip's preset and the
placement: a tuple of :class:`Block` s, each a rectangle ``[row_start, row_stop) ×
[col_start, col_stop)`` of one weight matrix (rows = inputs, cols = outputs) on its own tile.
Blocks of one matrix that share a column range produce partial sums of the same outputs; the
periphery adds them digitally (:meth:`Program.partial_sums`).

:func:`save_program` writes the program as a human-readable YAML crossbar configuration (SI
units) and, when conductance arrays are given, an HDF5 file next to it; both are written
atomically. :func:`load_program` and :func:`load_conductances` read them back strictly:
every problem is a ``ValueError`` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..crossbar.chip import ChipSpec
from ..devices import MODELS, AbstractDevice
from ..hw_configs import ConfigError, InvalidParameter, brief, build, read_yaml, written_key
from ..hw_configs.strict import dump
from .atomic_files import atomic_write_bytes
from .network import Layer, Network, network_from_mapping

__all__ = [
    "Block",
    "PartialSum",
    "Program",
    "InvalidPlacement",
    "check_placement",
    "network_to_mapping",
    "save_program",
    "load_program",
    "load_conductances",
    "program_from_yaml",
]

FORMAT = "memxbar-program"
VERSION = 1


@dataclasses.dataclass(frozen=True)
class Block:
    """Rows ``[row_start, row_stop)`` × cols ``[col_start, col_stop)`` of one matrix on a tile.

    The block occupies word lines ``0 .. rows-1`` and bit lines ``0 .. cols-1`` of ``tile``.
    """

    layer: str
    matrix: str
    tile: int
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int

    @property
    def rows(self) -> int:
        return self.row_stop - self.row_start

    @property
    def cols(self) -> int:
        return self.col_stop - self.col_start

    @property
    def cells(self) -> int:
        """Synapses (differential pairs) the block occupies."""
        return self.rows * self.cols


@dataclasses.dataclass(frozen=True)
class PartialSum:
    """Outputs ``[col_start, col_stop)`` of a matrix are the digital sum of these tiles' outputs.

    ``tiles`` are in order of their blocks' row ranges.
    """

    layer: str
    matrix: str
    col_start: int
    col_stop: int
    tiles: tuple[int, ...]


class InvalidPlacement(ValueError):
    """Blocks that do not describe a valid placement; ``index`` is the offending block or None."""

    def __init__(self, index: int | None, message: str):
        self.index = index
        self.message = message
        where = f"block {index}: " if index is not None else ""
        super().__init__(where + message)


def check_placement(network: Network, chip: ChipSpec, blocks: tuple[Block, ...]) -> None:
    """Check that ``blocks`` place every weight matrix of ``network`` exactly once on ``chip``.

    Each block must name an existing layer and matrix, lie inside the matrix, fit a tile and sit
    on its own tile of the chip; the blocks of each matrix must cover it exactly once.

    Raises:
        InvalidPlacement (a ValueError).
    """
    layers = {layer.name: layer for layer in network.layers}
    geometry = chip.tile
    seen_tiles: dict[int, int] = {}
    per_matrix: dict[tuple[str, str], list[Block]] = {}
    for i, block in enumerate(blocks):
        if not isinstance(block, Block):
            raise InvalidPlacement(i, f"expected a Block, got {type(block).__name__}")
        layer = layers.get(block.layer)
        if layer is None:
            raise InvalidPlacement(
                i, f"layer '{block.layer}' is not in network '{network.name}' ({', '.join(layers)})"
            )
        shapes = layer.matrices()
        if block.matrix not in shapes:
            raise InvalidPlacement(
                i,
                f"layer '{block.layer}' has no matrix '{block.matrix}' ({', '.join(shapes)})",
            )
        n_rows, n_cols = shapes[block.matrix]
        for axis, start, stop, size in (
            ("rows", block.row_start, block.row_stop, n_rows),
            ("cols", block.col_start, block.col_stop, n_cols),
        ):
            if not 0 <= start < stop <= size:
                raise InvalidPlacement(
                    i,
                    f"{axis} [{start}, {stop}) are not a non-empty range inside "
                    f"{block.layer}.{block.matrix} ({n_rows}x{n_cols})",
                )
        if block.rows > geometry.rows or block.cols > geometry.cols:
            raise InvalidPlacement(
                i,
                f"a {block.rows}x{block.cols} block does not fit a "
                f"{geometry.rows}x{geometry.cols} tile",
            )
        if not 0 <= block.tile < geometry.count:
            raise InvalidPlacement(
                i, f"tile {block.tile} does not exist (the chip has tiles 0..{geometry.count - 1})"
            )
        if block.tile in seen_tiles:
            raise InvalidPlacement(
                i, f"tile {block.tile} already holds block {seen_tiles[block.tile]}"
            )
        seen_tiles[block.tile] = i
        per_matrix.setdefault((block.layer, block.matrix), []).append(block)
    for layer in network.layers:
        for matrix, shape in layer.matrices().items():
            _check_cover(layer, matrix, shape, per_matrix.get((layer.name, matrix), []))


def _check_cover(layer: Layer, matrix: str, shape: tuple[int, int], blocks: list[Block]):
    """Every cell of the matrix is in exactly one block (counted on the grid of block edges)."""
    name = f"{layer.name}.{matrix}"
    if not blocks:
        raise InvalidPlacement(None, f"matrix {name} ({shape[0]}x{shape[1]}) is not placed")
    row_cuts = sorted({0, shape[0], *(b.row_start for b in blocks), *(b.row_stop for b in blocks)})
    col_cuts = sorted({0, shape[1], *(b.col_start for b in blocks), *(b.col_stop for b in blocks)})
    count = np.zeros((len(row_cuts) - 1, len(col_cuts) - 1), np.int64)
    for b in blocks:
        r0, r1 = row_cuts.index(b.row_start), row_cuts.index(b.row_stop)
        c0, c1 = col_cuts.index(b.col_start), col_cuts.index(b.col_stop)
        count[r0:r1, c0:c1] += 1
    bad = np.argwhere(count != 1)
    if bad.size:
        i, j = bad[0]
        what = "not covered by any block" if count[i, j] == 0 else f"in {count[i, j]} blocks"
        raise InvalidPlacement(
            None,
            f"matrix {name}: rows [{row_cuts[i]}, {row_cuts[i + 1]}) x cols "
            f"[{col_cuts[j]}, {col_cuts[j + 1]}) are {what} (each cell must be in exactly one)",
        )


@dataclasses.dataclass(frozen=True)
class Program:
    """A network placed onto a chip: frozen, hashable and comparable.

    Attributes:
        network: the network IR (layers with their plasticity rules).
        chip: the chip (tile geometry, periphery, update scheme, clock).
        blocks: the placement, one block per tile.
        device: the device model of ``chip.device_preset``, resolved at compile time so the
            program is self-contained.
    """

    network: Network
    chip: ChipSpec
    blocks: tuple[Block, ...]
    device: AbstractDevice

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))
        check_placement(self.network, self.chip, self.blocks)

    @property
    def device_preset(self) -> str:
        """The chip's device preset name (or path) the device model was loaded from."""
        return self.chip.device_preset

    @property
    def update_scheme(self) -> str:
        """How weight updates become pulses (``chip.update.scheme``)."""
        return self.chip.update.scheme

    def blocks_of(self, layer: str, matrix: str | None = None) -> tuple[Block, ...]:
        """The blocks of a layer (of one of its matrices when ``matrix`` is given), in order."""
        return tuple(
            b for b in self.blocks if b.layer == layer and (matrix is None or b.matrix == matrix)
        )

    def tiles(self, layer: str | None = None) -> tuple[int, ...]:
        """Sorted indices of the tiles in use (by ``layer`` when given)."""
        blocks = self.blocks if layer is None else self.blocks_of(layer)
        return tuple(sorted(b.tile for b in blocks))

    @property
    def tiles_used(self) -> int:
        return len(self.blocks)

    def utilisation(self, layer: str | None = None) -> float:
        """Used cells / (tiles used × tile rows × tile cols), overall or of one layer."""
        blocks = self.blocks if layer is None else self.blocks_of(layer)
        capacity = len(blocks) * self.chip.tile.rows * self.chip.tile.cols
        return sum(b.cells for b in blocks) / capacity if capacity else 0.0

    def partial_sums(self) -> tuple[PartialSum, ...]:
        """Where outputs of several tiles are added digitally.

        One entry per (layer, matrix, column range) held by more than one block: those blocks
        cover different input rows of the same outputs, so their outputs are summed.
        """
        groups: dict[tuple[str, str, int, int], list[Block]] = {}
        for b in self.blocks:
            groups.setdefault((b.layer, b.matrix, b.col_start, b.col_stop), []).append(b)
        return tuple(
            PartialSum(*key, tuple(b.tile for b in sorted(blocks, key=lambda b: b.row_start)))
            for key, blocks in groups.items()
            if len(blocks) > 1
        )


# --- YAML mapping of the parts ---------------------------------------------------------------


def _layer_to_mapping(layer: Layer) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": layer.type}
    for field in dataclasses.fields(layer):
        value = getattr(layer, field.name)
        if field.name == "rule":
            entry["rule"] = {"name": value.name, "params": dict(value.params)}
        elif field.name == "neuron":
            entry["neuron"] = dict(value)
        elif isinstance(value, tuple):
            entry[field.name] = list(value)
        else:
            entry[field.name] = value
    return entry


def network_to_mapping(network: Network) -> dict[str, Any]:
    """The ``{name, layers}`` mapping that :func:`network_from_mapping` reads back."""
    return {"name": network.name, "layers": [_layer_to_mapping(x) for x in network.layers]}


def _device_to_mapping(device: AbstractDevice) -> dict[str, Any]:
    names = [name for name, cls in MODELS.items() if type(device) is cls]
    if not names:
        raise ValueError(f"device model {type(device).__name__} is not one of {', '.join(MODELS)}")
    return {"model": names[0], **dump(device)}


def _block_to_mapping(block: Block) -> dict[str, Any]:
    return _Flow(
        tile=block.tile,
        layer=block.layer,
        matrix=block.matrix,
        rows=[block.row_start, block.row_stop],
        cols=[block.col_start, block.col_stop],
    )


def _partial_sums_mapping(program: Program) -> list[dict[str, Any]]:
    return [
        _Flow(layer=p.layer, matrix=p.matrix, cols=[p.col_start, p.col_stop], tiles=list(p.tiles))
        for p in program.partial_sums()
    ]


class _Flow(dict):
    """A mapping written on one line."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _represent_list(dumper, data):
    flat = all(not isinstance(v, list | dict) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


def _represent_flow(dumper, data):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


def _represent_float(dumper, value):
    """Floats as their shortest repr; large whole numbers in exponent form (1.0e+09, not
    1000000000.0), when that reads back as the same float."""
    text = repr(value)
    if "e" not in text and abs(value) >= 1e6 and value == int(value):
        mantissa, exponent = f"{value:.12e}".split("e")
        short = f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
        short = short if "." in short.split("e")[0] else short.replace("e", ".0e", 1)
        if float(short) == value:
            return dumper.represent_scalar("tag:yaml.org,2002:float", short)
    return dumper.represent_float(value)


_Dumper.add_representer(float, _represent_float)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(_Flow, _represent_flow)

_HEADER = """\
# memxbar program: a crossbar configuration compiled by `memxbar compile`.
# All values are in SI units (S, s, V, J, Hz), as the key suffixes say.
# tiles: one block of a weight matrix per tile; rows/cols are [start, stop) ranges of the matrix
#   (rows = inputs on word lines 0.., cols = outputs on bit lines 0..).
# partial_sums: outputs of these tiles (same matrix, same columns) are added digitally.
# conductances (when present): the HDF5 file next to this one, with shape, dtype and SHA-256.
"""

_TOP_KEYS = ("format", "version", "chip", "device", "network", "tiles", "partial_sums")
_OPTIONAL_KEYS = ("conductances",)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]*$")


# --- saving ------------------------------------------------------------------------------------


def save_program(
    program: Program,
    path: str | Path,
    conductances: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``program`` as YAML at ``path`` (and conductances as HDF5 next to it).

    Args:
        program: the compiled program.
        path: the YAML file to write; missing parent folders are created.
        conductances: optional arrays by name (e.g. one per tile, in S); written to
            ``path.with_suffix('.h5')`` with their shape, dtype and SHA-256 listed in the YAML.

    Both files are written atomically (temporary file, fsync, rename), the HDF5 file first, so
    a crash never leaves a YAML file that names a missing or partial HDF5 file.

    Returns:
        ``path`` as a Path (``load_program(save_program(p, f)) == p``).
    """
    path = Path(path)
    if path.suffix == ".h5":
        raise ValueError(f"{path}: a program file needs a YAML name (the .h5 file goes beside it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    document = _document(program)
    if conductances:
        arrays = _checked_arrays(conductances)
        h5_path = path.with_suffix(".h5")
        _write_h5_atomically(h5_path, arrays)
        document["conductances"] = {
            "file": h5_path.name,
            "arrays": {
                name: {"shape": list(a.shape), "dtype": a.dtype.name, "sha256": _digest(a)}
                for name, a in arrays.items()
            },
        }
    atomic_write_bytes(path, _text_of(document).encode("utf-8"))
    return path


def _document(program: Program) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "chip": dump(program.chip),
        "device": _device_to_mapping(program.device),
        "network": network_to_mapping(program.network),
        "tiles": [_block_to_mapping(b) for b in program.blocks],
        "partial_sums": _partial_sums_mapping(program),
    }


def _text_of(document: dict[str, Any]) -> str:
    return _HEADER + yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )


def program_to_yaml(program: Program) -> str:
    """The YAML text :func:`save_program` writes for ``program`` (without conductances)."""
    return _text_of(_document(program))


def _checked_arrays(conductances: Mapping[str, Any]) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in conductances.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"conductance array name {brief(name)}: use letters, digits and _ . : - "
                "(not starting with . : -)"
            )
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"conductance array '{name}': expected numbers, got {array.dtype}")
        arrays[name] = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
    return arrays


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _write_h5_atomically(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["format"] = FORMAT + "-conductances"
        for name, array in arrays.items():
            f.create_dataset(name, data=array)
    atomic_write_bytes(path, buffer.getvalue())


# --- loading -----------------------------------------------------------------------------------


def load_program(path: str | Path) -> Program:
    """Read a program YAML (and check its HDF5 conductance file, when it names one).

    Raises:
        ConfigError (a ValueError) naming the file and key: missing or malformed YAML, an
            unknown or missing key, a wrong value, an invalid placement, partial sums that do
            not match the tiles, or an HDF5 file that is missing, truncated, corrupt or does not
            hold the arrays the YAML lists.
    """
    program, _ = _read(Path(path), want_arrays=False)
    return program


def load_conductances(path: str | Path) -> dict[str, np.ndarray]:
    """The conductance arrays saved with the program at ``path`` (``{}`` when none were given).

    Raises:
        ConfigError (a ValueError), as :func:`load_program`.
    """
    _, arrays = _read(Path(path), want_arrays=True)
    return arrays


def program_from_yaml(text: str, source: str = "<program>") -> Program:
    """A program from the text :func:`program_to_yaml` wrote (e.g. the ``/config/program_yaml``
    of a run file); conductance files are not read.

    Raises:
        ConfigError (a ValueError) naming ``source`` and the key, as :func:`load_program`.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(source, "<program>", f"malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(source, "<program>", "expected a mapping at the top level")
    data.pop("conductances", None)
    return _program_from_mapping(data, source)


def _read(path: Path, want_arrays: bool) -> tuple[Program, dict[str, np.ndarray]]:
    data = read_yaml(path)
    program = _program_from_mapping(data, str(path))
    arrays = {}
    if "conductances" in data:
        arrays = _read_conductances(data["conductances"], path, want_arrays)
    return program, arrays


def _program_from_mapping(data: dict[str, Any], source: str) -> Program:
    for key in data:
        if key not in _TOP_KEYS + _OPTIONAL_KEYS:
            raise ConfigError(
                source, str(key), f"is not a known key here (known: {', '.join(_TOP_KEYS)})"
            )
    for key in _TOP_KEYS:
        if key not in data:
            raise ConfigError(source, key, "is missing")
    if data["format"] != FORMAT:
        raise ConfigError(source, "format", f"expected {FORMAT!r}, got {brief(data['format'])}")
    if data["version"] != VERSION or isinstance(data["version"], bool):
        raise ConfigError(source, "version", f"expected {VERSION}, got {brief(data['version'])}")
    chip = build(ChipSpec, _mapping(data["chip"], source, "chip"), source=source, prefix="chip.")
    device = _device_from_mapping(data["device"], source)
    try:
        chip.check_device(device)
    except InvalidParameter as err:
        key = "chip." + written_key(data["chip"], err.field)
        raise ConfigError(source, key, err.message) from None
    network = network_from_mapping(data["network"], source=source, key="network")
    blocks = _blocks_from_list(data["tiles"], source)
    try:
        program = Program(network, chip, blocks, device)
    except InvalidPlacement as err:
        key = "tiles" if err.index is None else f"tiles[{err.index}]"
        raise ConfigError(source, key, err.message) from None
    _check_partial_sums(data["partial_sums"], program, source)
    return program


def _mapping(value: Any, source: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(source, key, f"expected a mapping, got {brief(value)}")
    return value


def _device_from_mapping(value: Any, source: str) -> AbstractDevice:
    mapping = _mapping(value, source, "device")
    model = mapping.get("model")
    if model not in MODELS:
        raise ConfigError(source, "device.model", f"expected one of {', '.join(MODELS)}")
    rest = {k: v for k, v in mapping.items() if k != "model"}
    return build(MODELS[model], rest, source=source, prefix="device.")


def _int(value: Any, source: str, key: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(source, key, f"expected an integer ≥ {minimum}, got {brief(value)}")
    return value


def _text(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(source, key, f"expected a non-empty name, got {brief(value)}")
    return value


def _range(value: Any, source: str, key: str) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(source, key, f"expected [start, stop], got {brief(value)}")
    start, stop = (_int(v, source, key) for v in value)
    if stop <= start:
        raise ConfigError(source, key, f"expected start < stop, got {brief(value)}")
    return start, stop


_BLOCK_KEYS = ("tile", "layer", "matrix", "rows", "cols")


def _blocks_from_list(value: Any, source: str) -> tuple[Block, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(source, "tiles", "expected a non-empty list of blocks")
    blocks = []
    for i, entry in enumerate(value):
        key = f"tiles[{i}]"
        entry = _mapping(entry, source, key)
        for name in entry:
            if name not in _BLOCK_KEYS:
                raise ConfigError(
                    source, f"{key}.{name}", f"is not a known key ({', '.join(_BLOCK_KEYS)})"
                )
        for name in _BLOCK_KEYS:
            if name not in entry:
                raise ConfigError(source, f"{key}.{name}", "is missing")
        rows = _range(entry["rows"], source, f"{key}.rows")
        cols = _range(entry["cols"], source, f"{key}.cols")
        blocks.append(
            Block(
                layer=_text(entry["layer"], source, f"{key}.layer"),
                matrix=_text(entry["matrix"], source, f"{key}.matrix"),
                tile=_int(entry["tile"], source, f"{key}.tile"),
                row_start=rows[0],
                row_stop=rows[1],
                col_start=cols[0],
                col_stop=cols[1],
            )
        )
    return tuple(blocks)


def _check_partial_sums(value: Any, program: Program, source: str) -> None:
    expected = [dict(m) for m in _partial_sums_mapping(program)]
    if not isinstance(value, list):
        raise ConfigError(source, "partial_sums", f"expected a list, got {brief(value)}")
    for i in range(max(len(value), len(expected))):
        got = value[i] if i < len(value) else None
        want = expected[i] if i < len(expected) else None
        if got != want:
            shown = "nothing" if want is None else str(want)
            raise ConfigError(
                source, f"partial_sums[{i}]", f"does not match the tiles (expected {shown})"
            )


def _read_conductances(value: Any, path: Path, want_arrays: bool) -> dict[str, np.ndarray]:
    source = str(path)
    section = _mapping(value, source, "conductances")
    for key in section:
        if key not in ("file", "arrays"):
            raise ConfigError(source, f"conductances.{key}", "is not a known key (file, arrays)")
    name = _text(section.get("file"), source, "conductances.file")
    if Path(name).name != name:
        raise ConfigError(source, "conductances.file", f"expected a file name, got {brief(name)}")
    listed = _mapping(section.get("arrays"), source, "conductances.arrays")
    expected = {}
    for array_name, spec in listed.items():
        key = f"conductances.arrays.{array_name}"
        spec = _mapping(spec, source, key)
        if set(spec) != {"shape", "dtype", "sha256"}:
            raise ConfigError(source, key, "expected exactly the keys shape, dtype, sha256")
        shape = spec["shape"]
        if not isinstance(shape, list):
            raise ConfigError(source, f"{key}.shape", f"expected a list, got {brief(shape)}")
        shape = tuple(_int(n, source, f"{key}.shape") for n in shape)
        try:
            dtype = np.dtype(spec["dtype"])
        except TypeError:
            raise ConfigError(
                source, f"{key}.dtype", f"unknown dtype {brief(spec['dtype'])}"
            ) from None
        expected[str(array_name)] = (shape, dtype, str(spec["sha256"]))
    h5_path = path.parent / name
    return _read_h5(h5_path, expected, want_arrays)


def _read_h5(
    path: Path, expected: Mapping[str, tuple[tuple[int, ...], np.dtype, str]], want_arrays: bool
) -> dict[str, np.ndarray]:
    import h5py

    source = str(path)
    if not path.is_file():
        raise ConfigError(source, "<file>", "file does not exist (the program YAML names it)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            present = set(f.keys())
            extra = sorted(present - set(expected))
            if extra:
                raise ConfigError(source, extra[0], "is not listed in the program YAML")
            for name, (shape, dtype, digest) in expected.items():
                if name not in present or not isinstance(f[name], h5py.Dataset):
                    raise ConfigError(source, name, "is missing (the program YAML lists it)")
                array = f[name][()]
                if array.shape != shape or array.dtype != dtype:
                    raise ConfigError(
                        source,
                        name,
                        f"is {array.dtype.name}{list(array.shape)}, the program YAML says "
                        f"{dtype.name}{list(shape)}",
                    )
                if _digest(array) != digest:
                    raise ConfigError(
                        source, name, "data do not match their SHA-256 checksum (file corrupt)"
                    )
                if want_arrays:
                    arrays[name] = array
    except ConfigError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        detail = " ".join(str(err).split())
        raise ConfigError(
            source, "<file>", f"not a readable HDF5 file (truncated or corrupt?): {detail}"
        ) from None
    return arrays
