"""A files job's data: the scan read, encoded by the correlative time code, split
(stratified) and composed into the ingest stream; and the baselines on the same split.

:func:`load_files` gives :class:`FilesData`, the input of :class:`.files_experiment.
FilesExperiment`; :func:`baselines` fits logistic regression and a linear SVM (scikit-learn) on
the one-hot key-values of the same training files and scores them on the same test files.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .data.file_code import CorrelativeTimeCode
from .data.file_features import FileRecords, file_records, one_hot, split
from .data.file_scan import read_scan_csv
from .files_job import FilesJob

__all__ = ["FilesData", "load_files", "baselines"]


@dataclasses.dataclass(frozen=True)
class FilesData:
    """A job's files, encoded and split.

    Attributes:
        files: the records, labels and keys (every file used).
        paths: each file's relative path.
        code: the correlative time code of the keys.
        patterns: (n_files) spike patterns, as (input, step) events.
        train, test: indices of the training and test files (stratified split).
        stream: indices of the streamed files in arrival order (empty without a stream);
        stream_new: whether each streamed file is from the new subtree.
        n_neurons: neurons of the layer.
    """

    files: FileRecords
    paths: tuple[str, ...]
    code: CorrelativeTimeCode
    patterns: tuple
    train: np.ndarray
    test: np.ndarray
    stream: np.ndarray
    stream_new: np.ndarray
    n_neurons: int

    @property
    def n_classes(self) -> int:
        return len(self.files.classes)


def _in_subtree(path: str, subtree: str) -> bool:
    prefix = subtree.strip("/") + "/"
    return path.startswith(prefix)


def load_files(job: FilesJob, *, seed: int | None = None, data_dir: str | None = None) -> FilesData:
    """Read the job's scan, make its records and code, split it and compose the stream.

    Raises:
        ValueError: naming the scan for a missing or malformed file, too few files, or a
            stream subtree with too few files.
    """
    seed = job.seed if seed is None else seed
    config = job.data
    path = config.path(job.source, data_dir)
    if not path.is_file():
        raise ValueError(
            f"{job.source or 'job'}: data.csv: no scan at {path} (make one with "
            "`memxbar files scan DIR -o FILE.csv`; a relative path is read from --data-dir, "
            "else from the job file's folder)"
        )
    rows = read_scan_csv(path)
    rng = np.random.default_rng(seed)
    if config.max_files and config.max_files < len(rows):
        keep = np.sort(rng.choice(len(rows), config.max_files, replace=False))
        rows = [rows[i] for i in keep]
    files = file_records(
        rows,
        with_extension=config.with_extension,
        max_depth=config.max_depth,
        label=config.label,
        exclude=config.exclude,
        source=str(path),
    )
    paths = tuple(r["path"] for r in rows)
    code = CorrelativeTimeCode(
        files.nominal,
        files.ordinal,
        neurons_per_key=job.code.neurons_per_key,
        events_per_value=job.code.events_per_value,
        steps=job.code.steps,
        width=job.code.width,
        levels=job.code.levels,
        seed=job.code.seed,
    )
    stream_cfg = job.stream
    new = np.zeros(len(rows), bool)
    if stream_cfg is not None:
        new = np.array([_in_subtree(p, stream_cfg.new_subtree) for p in paths])
    known = np.flatnonzero(~new)
    if len(known) < 2:
        raise ValueError(f"{path}: {len(known)} file(s) to train and test on; need at least 2")
    train, test = split(files.labels[known], config.test_fraction, seed=seed)
    train, test = known[train], known[test]
    if len(test) == 0:
        raise ValueError(f"{path}: no test files (too few files per class for the split)")
    stream = np.zeros(0, np.int64)
    stream_new = np.zeros(0, bool)
    if stream_cfg is not None:
        half = stream_cfg.files // 2
        fresh = np.flatnonzero(new)
        if len(fresh) < stream_cfg.files - half or len(test) < half:
            raise ValueError(
                f"{job.source}: stream: {stream_cfg.files} files need {stream_cfg.files - half} "
                f"under {stream_cfg.new_subtree!r} (the scan has {len(fresh)}) and {half} test "
                f"files (there are {len(test)})"
            )
        first = rng.choice(test, half, replace=False)
        second = rng.choice(fresh, stream_cfg.files - half, replace=False)
        stream = np.concatenate([first, second])
        stream_new = np.concatenate([np.zeros(half, bool), np.ones(len(second), bool)])
    patterns = tuple(code.events(r) for r in files.records)
    per_class = job.neurons.count
    n_neurons = per_class * len(files.classes) if job.supervised is not None else per_class
    return FilesData(files, paths, code, patterns, train, test, stream, stream_new, n_neurons)


def baselines(data: FilesData, *, seed: int) -> dict[str, float]:
    """Logistic regression, a linear SVM and the majority class, on the one-hot key–values of
    the same split (scikit-learn)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    X, y = one_hot(data.files), data.files.labels
    tr, te = data.train, data.test
    out = {"majority_accuracy": float(np.mean(y[te] == np.bincount(y[tr]).argmax()))}
    if len(np.unique(y[tr])) < 2:
        return out | {"logreg_accuracy": out["majority_accuracy"], "svm_accuracy": np.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr = LogisticRegression(max_iter=2000).fit(X[tr], y[tr])
        svm = LinearSVC(random_state=seed).fit(X[tr], y[tr])
    out["logreg_accuracy"] = float(lr.score(X[te], y[te]))
    out["svm_accuracy"] = float(svm.score(X[te], y[te]))
    return out
