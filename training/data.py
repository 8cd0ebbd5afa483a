"""Datasets as float tensors: MNIST from IDX files, scikit-learn's bundled 8x8 digits.

Pixels are scaled to [0, 1] (they become read voltages in [0, read_voltage_v]); no mean
subtraction, so inputs stay non-negative like the voltages a DAC applies.
"""

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from memcosim.base.errors import ConfigError
from memcosim.base.files import open_input
from memcosim.base.seeding import numpy_rng

__all__ = ["Dataset", "load_mnist", "load_digits", "load_dataset", "read_idx", "dataset_files"]

_MNIST_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


class Dataset:
    """Train and test tensors: ``x`` float32 (n, features) in [0, 1], ``y`` int64 labels; ``image_shape``
    ``(channels, height, width)`` of the images the features are (row-major)."""

    def __init__(self, name, train_x, train_y, test_x, test_y, n_classes, image_shape=None):
        self.name, self.n_classes = name, n_classes
        self.train_x, self.train_y, self.test_x, self.test_y = train_x, train_y, test_x, test_y
        self.image_shape = tuple(image_shape) if image_shape is not None else (1, 1, train_x.shape[1])

    @property
    def n_features(self):
        return self.train_x.shape[1]

    def __repr__(self):
        return f"Dataset({self.name!r}, train={len(self.train_y)}, test={len(self.test_y)}, features={self.n_features})"


def read_idx(path, ndim=None, max_bytes=None):
    """Read one IDX file (plain or gzip) into a numpy array of unsigned bytes.

    Parameters
    ----------
    path : str or Path
    ndim : int, optional
        The number of dimensions the file must have (MNIST: 3 for images, 1 for labels).
    max_bytes : int, optional
        Refuse a file whose header announces more data than this (checked before reading it).

    Raises
    ------
    ConfigError
        Naming the file when it is unreadable, its header is wrong, its dimensions are not
        ``ndim``, or its size does not match the header.
    """
    path = Path(path)
    try:
        with open_input(path, "IDX file") as (raw, _), \
                (gzip.GzipFile(fileobj=raw, mode="rb") if path.suffix == ".gz" else raw) as fh:
            head = fh.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
                raise ConfigError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
            dims_bytes = fh.read(4 * head[3])
            if len(dims_bytes) != 4 * head[3]:
                raise ConfigError(f"{path}: IDX header cut short ({len(dims_bytes)} of {4 * head[3]} dimension bytes)")
            dims = struct.unpack(f">{head[3]}I", dims_bytes)
            if ndim is not None and len(dims) != ndim:
                raise ConfigError(f"{path}: IDX file has {len(dims)} dimension(s) {list(dims)}, expected {ndim}")
            expected = math.prod(dims)
            if max_bytes is not None and expected > max_bytes:
                raise ConfigError(f"{path}: IDX header announces {expected} bytes, more than the {max_bytes} expected")
            data = fh.read(expected + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ConfigError(f"{path}: cannot read IDX file ({exc})") from None
    if len(data) != expected:
        raise ConfigError(f"{path}: IDX header says {expected} bytes of data, file has {'more' if len(data) > expected else len(data)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims).copy()


def _find(data_dir, stem):
    for name in (stem + ".gz", stem):
        path = Path(data_dir) / name
        if path.exists():
            return path
    raise ConfigError(f"training.data_dir: {data_dir} has no {stem} or {stem}.gz (MNIST IDX files)")


def dataset_files(name, data_dir=None):
    """The files :func:`load_dataset` reads for ``name`` (none for the bundled digits)."""
    if name != "mnist":
        return []
    if data_dir is None:
        raise ConfigError("training.data_dir: the mnist dataset needs the directory of its IDX files")
    return [_find(data_dir, stem) for stem in _MNIST_FILES.values()]


_MNIST_MAX_BYTES = 100_000 * 28 * 28
"""Largest MNIST-like image file read (100 000 images of 28 x 28)."""


def load_mnist(data_dir):
    """MNIST from the four IDX files in ``data_dir`` (60 000 train, 10 000 test, 784 features).

    Raises
    ------
    ConfigError
        Naming the file: images not 3-D or labels not 1-D, no images, images and labels that
        differ in number, labels outside 0-9, or train and test images of different sizes.
    """
    paths = dict(zip(_MNIST_FILES, dataset_files("mnist", data_dir)))
    arrays = {key: read_idx(path, ndim=3 if key.endswith("_x") else 1, max_bytes=_MNIST_MAX_BYTES)
              for key, path in paths.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if len(x) == 0 or x.shape[1] * x.shape[2] == 0:
            raise ConfigError(f"{paths[f'{split}_x']}: holds no images (shape {list(x.shape)})")
        if len(x) != len(y):
            raise ConfigError(f"{paths[f'{split}_y']}: {len(y)} labels for the {len(x)} images of {paths[f'{split}_x']}")
        if y.max() >= 10:
            raise ConfigError(f"{paths[f'{split}_y']}: label {int(y.max())} found; MNIST labels are 0-9")
    if arrays["train_x"].shape[1:] != arrays["test_x"].shape[1:]:
        raise ConfigError(f"{paths['test_x']}: images of {list(arrays['test_x'].shape[1:])} pixels, the training images "
                          f"have {list(arrays['train_x'].shape[1:])}")
    to_x = lambda a: torch.as_tensor(a.reshape(len(a), -1), dtype=torch.float32) / 255.0  # noqa: E731
    to_y = lambda a: torch.as_tensor(a.astype(np.int64))  # noqa: E731
    return Dataset("mnist", to_x(arrays["train_x"]), to_y(arrays["train_y"]), to_x(arrays["test_x"]), to_y(arrays["test_y"]), 10,
                   (1, *arrays["train_x"].shape[1:]))


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
    return Dataset("digits", t(x[train]), t(y[train]), t(x[test]), t(y[test]), 10, (1, 8, 8))


def load_dataset(name, data_dir=None, seed=0):
    """``"digits"`` or ``"mnist"`` (from ``data_dir``)."""
    if name == "mnist":
        return load_mnist(data_dir)
    if name == "digits":
        return load_digits(seed)
    raise ConfigError(f"training.dataset: got {name!r}; allowed: digits, mnist")
