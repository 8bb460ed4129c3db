"""A new run's folder: its name, its ``config.yaml`` (workspace = the folder), its inputs.

A run is created as a draft (config written, no model yet); the page then uploads the model and
the data into the folder and starts it. A seeded run takes its parent's inputs (hard links where
the file system allows, else copies) and starts at once.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

from lpot.errors import ConfigError, DataError
from lpot.ui.configs import to_yaml, with_workspace
from lpot.ui.process import CONFIG, RunRecord

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SUFFIX = re.compile(r"\.[a-z0-9]{1,12}")
MODEL, DATA = "model", "data"


def default_name() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or name.endswith(".part"):
        raise ConfigError(
            f"run name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def unique_folder(root: Path, name: str) -> Path:
    """``root/name``, or ``root/name-2``, ``-3``... when taken."""
    check_name(name)
    folder, n = root / name, 1
    while folder.exists():
        n += 1
        folder = root / f"{name}-{n}"
    return folder


def create_run(root: Path, name: str, yaml_text: str, parent: str | None = None) -> Path:
    """A draft run: the folder, its ``config.yaml`` (checked by lpot's loader) and its record."""
    folder = root / check_name(name)
    if folder.exists():
        raise ConfigError(f"a folder named {name!r} already exists in {root}; choose another run name")
    text = with_workspace(yaml_text, folder)
    folder.mkdir(parents=True)
    (folder / CONFIG).write_text(text, encoding="utf-8")
    RunRecord(parent=parent).write(folder)
    return folder


def create_seeded(root: Path, name: str, config: dict, parent_folder: Path, parent_id: str) -> Path:
    """A run with ``config`` on the parent's model and data, ready to start."""
    parent = RunRecord.read(parent_folder)
    if parent is None or parent.model is None:
        raise ConfigError(f"{parent_id}: its model is not known to lpot ui; start the new run from the page")
    folder = create_run(root, unique_folder(root, name).name, to_yaml(config), parent=parent_id)
    record = RunRecord.read(folder) or RunRecord(parent=parent_id)
    for attribute in ("model", "data"):
        source = getattr(parent, attribute)
        if source:
            _share(parent_folder / source, folder / source)
            setattr(record, attribute, source)
    record.write(folder)
    return folder


def _share(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def upload_name(role: str, filename: str) -> str:
    """Where an upload goes in the run folder: ``model<suffix>`` or ``data.npz``."""
    suffix = Path(filename).suffix.lower()
    if role == MODEL:
        if not SUFFIX.fullmatch(suffix):
            raise ConfigError(
                f"model file {filename!r}: expected a file name with an extension such as .onnx"
            )
        return MODEL + suffix
    if role == DATA:
        if suffix != ".npz":
            raise DataError(f"data file {filename!r}: expected an .npz with arrays x (and y)")
        return "data.npz"
    raise ConfigError(f"upload role {role!r}: expected 'model' or 'data'")


def check_npz(path: Path) -> None:
    """The data file ``lpot tune --data`` accepts: plain arrays (never pickles), one named ``x``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data)
            arrays = {k: data[k] for k in names}
    except (ValueError, OSError) as exc:
        raise DataError(f"{path.name}: not a readable .npz of plain arrays ({exc})") from None
    if "x" not in arrays:
        raise DataError(f"{path.name}: expected an array named 'x' (and optionally 'y'), found {names}")
    if "y" in arrays and len(arrays["y"]) != len(arrays["x"]):
        raise DataError(f"{path.name}: x has {len(arrays['x'])} samples but y has {len(arrays['y'])}")
