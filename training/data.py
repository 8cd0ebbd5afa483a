"""Datasets as float tensors: MNIST from IDX files, scikit-learn's bundled 8x8 digits.

Pixels are scaled to [0, 1] (they become read voltages in [0, read_voltage_v]); no mean
subtraction, so inputs stay non-negative like the voltages a DAC applies.
"""

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng

__all__ = ["Dataset", "load_mnist", "load_digits", "load_dataset", "read_idx"]

_MNIST_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


class Dataset:
    """Train and test tensors: ``x`` float32 (n, features) in [0, 1], ``y`` int64 labels."""

    def __init__(self, name, train_x, train_y, test_x, test_y, n_classes):
        self.name, self.n_classes = name, n_classes
        self.train_x, self.train_y, self.test_x, self.test_y = train_x, train_y, test_x, test_y

    @property
    def n_features(self):
        return self.train_x.shape[1]

    def __repr__(self):
        return f"Dataset({self.name!r}, train={len(self.train_y)}, test={len(self.test_y)}, features={self.n_features})"


def read_idx(path):
    """Read one IDX file (plain or gzip) into a numpy array.

    Raises
    ------
    ConfigError
        Naming the file when its header or size is wrong.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise ConfigError(f"{path}: cannot read IDX file ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ConfigError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise ConfigError(f"{path}: IDX header says {expected} bytes of data, file has {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _find(data_dir, stem):
    for name in (stem + ".gz", stem):
        path = Path(data_dir) / name
        if path.exists():
            return path
    raise ConfigError(f"training.data_dir: {data_dir} has no {stem} or {stem}.gz (MNIST IDX files)")


def load_mnist(data_dir):
    """MNIST from the four IDX files in ``data_dir`` (60 000 train, 10 000 test, 784 features)."""
    if data_dir is None:
        raise ConfigError("training.data_dir: the mnist dataset needs the directory of its IDX files")
    arrays = {key: read_idx(_find(data_dir, stem)) for key, stem in _MNIST_FILES.items()}
    to_x = lambda a: torch.as_tensor(a.reshape(len(a), -1), dtype=torch.float32) / 255.0  # noqa: E731
    to_y = lambda a: torch.as_tensor(a.astype(np.int64))  # noqa: E731
    for split in ("train", "test"):
        if len(arrays[f"{split}_x"]) != len(arrays[f"{split}_y"]):
            raise ConfigError(f"training.data_dir: {split} images and labels differ in number")
    return Dataset("mnist", to_x(arrays["train_x"]), to_y(arrays["train_y"]), to_x(arrays["test_x"]), to_y(arrays["test_y"]), 10)


def load_digits(seed=0, test_fraction=0.2):
    """scikit-learn's bundled 8x8 digits (1797 images, 64 features), split by ``seed``."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = bunch.data.astype(np.float32) / 16.0
    y = bunch.target.astype(np.int64)
    order = numpy_rng(seed, "data/digits-split").permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    t = torch.as_tensor
    return Dataset("digits", t(x[train]), t(y[train]), t(x[test]), t(y[test]), 10)


def load_dataset(name, data_dir=None, seed=0):
    """``"digits"`` or ``"mnist"`` (from ``data_dir``)."""
    if name == "mnist":
        return load_mnist(data_dir)
    if name == "digits":
        return load_digits(seed)
    raise ConfigError(f"training.dataset: got {name!r}; allowed: digits, mnist")
