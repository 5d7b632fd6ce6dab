"""Tests for infomax_tf.data: sources, fallback, views, input pipelines."""

import gzip
import logging as py_logging
import os
import socket
import struct

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from infomax_tf import data
from infomax_tf import errors


def write_idx(path, array, gz=False, magic=None):
  """Writes `array` (uint8) as an IDX file, optionally gzipped."""
  array = np.asarray(array, np.uint8)
  header = magic if magic is not None else bytes([0, 0, 0x08, array.ndim])
  payload = header + struct.pack(f">{array.ndim}I", *array.shape)
  payload += array.tobytes()
  if gz:
    path += ".gz"
    payload = gzip.compress(payload)
  with open(path, "wb") as f:
    f.write(payload)
  return path


def make_idx_folder(folder, n_train=30, n_test=10, size=(28, 28), gz=False,
                    seed=0):
  rng = np.random.default_rng(seed)
  arrays = {
      "train_images": rng.integers(0, 256, (n_train,) + size),
      "train_labels": rng.integers(0, 10, n_train),
      "test_images": rng.integers(0, 256, (n_test,) + size),
      "test_labels": rng.integers(0, 10, n_test),
  }
  for key, stem in data.IDX_FILES.items():
    write_idx(os.path.join(folder, stem), arrays[key], gz=gz)
  return arrays


# ---------------------------------------------------------------------------
# IDX folders


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_round_trips(tmp_path, gz):
  arrays = make_idx_folder(str(tmp_path), gz=gz)
  images = data.load_images("mnist", data_dir=str(tmp_path))
  assert images.source == f"idx:{tmp_path}"
  assert images.train_images.shape == (30, 28, 28, 1)
  np.testing.assert_array_equal(images.train_images[..., 0],
                                arrays["train_images"])
  np.testing.assert_array_equal(images.test_labels, arrays["test_labels"])
  assert images.train_labels.dtype == np.int64


def test_idx_dotted_file_names_are_accepted(tmp_path):
  arrays = make_idx_folder(str(tmp_path))
  for stem in data.IDX_FILES.values():
    os.rename(tmp_path / stem, tmp_path / stem.replace("-idx", ".idx"))
  images = data.load_images("idx", data_dir=str(tmp_path))
  np.testing.assert_array_equal(images.train_labels, arrays["train_labels"])


def test_idx_missing_file_is_named(tmp_path):
  make_idx_folder(str(tmp_path))
  os.remove(tmp_path / "t10k-labels-idx1-ubyte")
  with pytest.raises(errors.DataError, match="t10k-labels-idx1-ubyte"):
    data.load_images("mnist", data_dir=str(tmp_path))


def test_idx_missing_folder(tmp_path):
  with pytest.raises(errors.DataError, match="not a directory"):
    data.load_images("mnist", data_dir=str(tmp_path / "nope"))


def _corrupt(folder, stem, transform):
  path = os.path.join(folder, stem)
  with open(path, "rb") as f:
    raw = f.read()
  with open(path, "wb") as f:
    f.write(transform(raw))


@pytest.mark.parametrize("stem,transform,message", [
    ("train-images-idx3-ubyte", lambda raw: b"\x12\x34" + raw[2:],
     "bad magic number"),
    ("train-images-idx3-ubyte", lambda raw: raw[:-7], "truncated"),
    ("train-labels-idx1-ubyte", lambda raw: raw + b"\x00", "trailing bytes"),
    ("t10k-images-idx3-ubyte", lambda raw: raw[:2] + b"\x0d" + raw[3:],
     "data type 0x0d"),
    ("t10k-images-idx3-ubyte", lambda raw: raw[:6], "truncated IDX header"),
    ("train-images-idx3-ubyte", lambda raw: b"", "bad magic number"),
])
def test_corrupt_idx_gives_clear_error(tmp_path, stem, transform, message):
  make_idx_folder(str(tmp_path))
  _corrupt(str(tmp_path), stem, transform)
  with pytest.raises(errors.DataError, match=message):
    data.load_images("mnist", data_dir=str(tmp_path))


def test_corrupt_gzip_gives_clear_error(tmp_path):
  make_idx_folder(str(tmp_path), gz=True)
  _corrupt(str(tmp_path), "train-images-idx3-ubyte.gz", lambda raw: raw[:40])
  with pytest.raises(errors.DataError, match="cannot read IDX file"):
    data.load_images("mnist", data_dir=str(tmp_path))


def test_idx_image_label_count_mismatch(tmp_path):
  make_idx_folder(str(tmp_path))
  write_idx(str(tmp_path / "train-labels-idx1-ubyte"), np.zeros(29))
  with pytest.raises(errors.DataError, match="30 images but 29 labels"):
    data.load_images("mnist", data_dir=str(tmp_path))


def test_idx_train_test_shape_mismatch(tmp_path):
  make_idx_folder(str(tmp_path))
  write_idx(str(tmp_path / "t10k-images-idx3-ubyte"), np.zeros((10, 20, 20)))
  with pytest.raises(errors.DataError, match="differ in shape"):
    data.load_images("mnist", data_dir=str(tmp_path))


def test_idx_odd_image_height_cannot_be_halved(tmp_path):
  make_idx_folder(str(tmp_path), size=(27, 28))
  with pytest.raises(errors.DataError, match="even image height"):
    data.load_views("mnist", "top_bottom", data_dir=str(tmp_path))
  views = data.load_views("mnist", "left_right", data_dir=str(tmp_path))
  assert views.view_shape == (27, 14, 1)


# ---------------------------------------------------------------------------
# tfds (mocked), the offline fallback, and the embedded MNIST-5k


@pytest.mark.parametrize("name,shape", [("mnist", (28, 28, 1)),
                                        ("fashion_mnist", (28, 28, 1)),
                                        ("cifar10", (32, 32, 3))])
def test_tfds_source_with_mock_data(tmp_path, name, shape):
  with tfds.testing.mock_data(num_examples=24):
    images = data.load_images(name, tfds_data_dir=str(tmp_path))
  assert images.source == "tfds"
  assert images.train_images.shape == (24,) + shape
  assert images.train_images.dtype == np.uint8
  assert images.test_labels.shape == (24,)
  assert images.train_labels.max() < 10


def test_cifar10_views_are_top_and_bottom_16_rows(tmp_path):
  with tfds.testing.mock_data(num_examples=8):
    images = data.load_images("cifar10", tfds_data_dir=str(tmp_path))
  views = data.make_views(images, "top_bottom")
  assert views.view_shape == (16, 32, 3)
  assert views.x1_train.shape == (8, 16 * 32 * 3)
  np.testing.assert_allclose(
      views.x2_train.reshape(8, 16, 32, 3),
      images.train_images[:, 16:].astype(np.float32) / 255.0)


@pytest.fixture
def absl_warnings(caplog):
  caplog.set_level(py_logging.WARNING)
  return caplog


def _fallback_warnings(caplog):
  return [r for r in caplog.records
          if r.levelno == py_logging.WARNING and "MNIST-5k" in r.getMessage()]


def test_offline_fallback_forced(tmp_path, absl_warnings, monkeypatch):
  downloads = []
  real_load = tfds.load

  def spy_load(*args, **kwargs):
    downloads.append(kwargs.get("download"))
    return real_load(*args, **kwargs)

  monkeypatch.setattr(tfds, "load", spy_load)
  images = data.load_images("mnist", tfds_data_dir=str(tmp_path))
  assert images.name == "mnist5k"
  assert images.source == "mnist5k (offline fallback)"
  assert len(images.train_labels) == 4000
  # Offline, tfds is only asked for a cached copy, never to download.
  assert downloads == [False]
  warnings = _fallback_warnings(absl_warnings)
  assert len(warnings) == 1
  assert "--data_dir" in warnings[0].getMessage()
  # tfds's own "no dataset_info.json" chatter is silenced.
  assert not [r for r in absl_warnings.records
              if "dataset_info.json" in r.getMessage()]


def test_offline_fallback_when_network_probe_fails(tmp_path, absl_warnings,
                                                   monkeypatch):
  monkeypatch.delenv(data.OFFLINE_ENV)

  def refuse(*args, **kwargs):
    raise OSError("Network is unreachable")

  monkeypatch.setattr(socket, "create_connection", refuse)
  monkeypatch.setattr(
      tfds, "load", _no_download(tfds.load))
  images = data.load_images("mnist", tfds_data_dir=str(tmp_path))
  assert images.source == "mnist5k (offline fallback)"
  message = _fallback_warnings(absl_warnings)[0].getMessage()
  assert "unreachable" in message


def _no_download(real_load):
  def load(*args, **kwargs):
    assert not kwargs.get("download"), "tried to download while offline"
    return real_load(*args, **kwargs)
  return load


def test_network_probe_is_bounded_when_the_host_hangs(monkeypatch):
  """A black-holed network must not stall loading: the probe gives up."""
  monkeypatch.delenv(data.OFFLINE_ENV)
  monkeypatch.setattr(data, "_NETWORK_PROBE_TIMEOUT_S", 0.2)
  release = __import__("threading").Event()

  def hang(*args, **kwargs):
    release.wait(30)
    raise OSError("released")

  monkeypatch.setattr(socket, "create_connection", hang)
  try:
    reason = data._network_unavailable_reason()  # pylint: disable=protected-access
  finally:
    release.set()
  assert "did not answer" in reason


def test_other_tfds_datasets_do_not_fall_back_to_mnist(tmp_path):
  with pytest.raises(errors.DataError, match="cifar10"):
    data.load_images("cifar10", tfds_data_dir=str(tmp_path))


def test_mnist5k_split_is_stratified_and_deterministic():
  a = data.load_mnist5k()
  b = data.load_mnist5k()
  np.testing.assert_array_equal(a.train_images, b.train_images)
  assert a.train_images.shape == (4000, 28, 28, 1)
  assert a.test_images.shape == (1000, 28, 28, 1)
  np.testing.assert_array_equal(np.bincount(a.train_labels), [400] * 10)
  np.testing.assert_array_equal(np.bincount(a.test_labels), [100] * 10)
  # Train and test are disjoint images.
  train = {img.tobytes() for img in a.train_images}
  assert not any(img.tobytes() in train for img in a.test_images)


@pytest.mark.parametrize("dataset,view", [("svhn", "top_bottom"),
                                          ("mnist5k", "diagonal")])
def test_unknown_dataset_or_view(dataset, view):
  with pytest.raises(errors.DataError, match="unknown"):
    data.load_views(dataset, view)


def test_idx_dataset_needs_data_dir():
  with pytest.raises(errors.DataError, match="--data_dir"):
    data.load_images("idx")


# ---------------------------------------------------------------------------
# Views


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("view", data.VIEWS)
def test_views_partition_pixels_exactly(shape, view):
  rng = np.random.default_rng(1)
  images = rng.integers(0, 256, (5,) + shape).astype(np.uint8)
  x1, x2 = data.split_views(images, view)
  assert x1.shape == x2.shape == (5, np.prod(shape) // 2)
  assert x1.min() >= 0 and x1.max() <= 1
  # Reassembling the halves gives back every pixel, each exactly once.
  h, w, c = data.view_shape(shape, view)
  halves = (x1.reshape(5, h, w, c), x2.reshape(5, h, w, c))
  axis = 1 if view == "top_bottom" else 2
  whole = np.concatenate(halves, axis=axis)
  np.testing.assert_array_equal(np.round(whole * 255).astype(np.uint8), images)


def test_mnist_top_bottom_is_first_and_last_392_pixels():
  images = np.arange(2 * 784).reshape(2, 28, 28) % 256
  x1, x2 = data.split_views(images.astype(np.uint8), "top_bottom")
  flat = images.reshape(2, 784).astype(np.float32) / 255
  np.testing.assert_array_equal(x1, flat[:, :392])
  np.testing.assert_array_equal(x2, flat[:, 392:])


def test_noise_is_deterministic_and_has_the_given_sd():
  x = np.zeros((2000, 50), np.float32)
  a = data.add_gaussian_noise(x, 0.05, seed=3)
  np.testing.assert_array_equal(a, data.add_gaussian_noise(x, 0.05, seed=3))
  assert not np.array_equal(a, data.add_gaussian_noise(x, 0.05, seed=4))
  assert abs(a.std() - 0.05) < 0.001
  assert data.add_gaussian_noise(x, 0.0, seed=3) is x


def test_make_views_noise_differs_per_array():
  images = data.ImageData("t", "t", *(np.zeros((4, 28, 28, 1), np.uint8),
                                      np.zeros(4, np.int64)) * 2)
  views = data.make_views(images, noise_sd=0.1, noise_seed=0)
  assert not np.array_equal(views.x1_train, views.x2_train)
  assert not np.array_equal(views.x1_train, views.x1_test)


# ---------------------------------------------------------------------------
# Input pipelines


def _take(ds, n):
  return [tuple(t.numpy() for t in element) for element in ds.take(n)]


def test_batch_indices_are_epoch_permutations_without_remainder():
  ds = data.batch_indices(num_examples=100, batch_size=32, seed=7)
  batches = [b.numpy() for b in ds.take(6)]  # 3 steps per epoch.
  assert all(len(b) == 32 for b in batches)
  for epoch in range(2):
    seen = np.concatenate(batches[3 * epoch:3 * epoch + 3])
    assert len(np.unique(seen)) == 96 and seen.max() < 100
  # Each epoch is reshuffled.
  assert not np.array_equal(batches[0], batches[3])


def test_train_dataset_is_deterministic_per_seed_and_resumable():
  rng = np.random.default_rng(0)
  x1 = rng.random((50, 6)).astype(np.float32)
  x2 = rng.random((50, 4)).astype(np.float32)
  full = _take(data.make_train_dataset(x1, x2, 8, seed=1, noise_sd=0.1), 15)
  again = _take(data.make_train_dataset(x1, x2, 8, seed=1, noise_sd=0.1), 15)
  other = _take(data.make_train_dataset(x1, x2, 8, seed=2, noise_sd=0.1), 15)
  for (a1, a2), (b1, b2) in zip(full, again):
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
  assert not np.array_equal(full[0][0], other[0][0])
  # Restarting at step 9 (mid second epoch) yields exactly the same batches.
  resumed = _take(data.make_train_dataset(x1, x2, 8, seed=1, noise_sd=0.1,
                                          start_step=9), 6)
  for (a1, a2), (b1, b2) in zip(full[9:], resumed):
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
  assert full[0][0].shape == (8, 6) and full[0][1].shape == (8, 4)


def test_train_dataset_pairs_views_of_the_same_image():
  x1 = np.arange(40, dtype=np.float32).reshape(20, 2)
  x2 = x1 + 1000
  for v1, v2 in _take(data.make_train_dataset(x1, x2, 5, seed=0), 8):
    np.testing.assert_array_equal(v2, v1 + 1000)


def test_eval_dataset_drops_remainder_in_order():
  x = np.arange(10, dtype=np.float32)[:, None]
  batches = _take(data.make_eval_dataset(x, x, 4), 10)
  assert len(batches) == 2
  np.testing.assert_array_equal(batches[1][0][:, 0], [4, 5, 6, 7])


def test_batch_larger_than_data_is_a_config_error():
  with pytest.raises(errors.ConfigError, match="batch size"):
    data.batch_indices(10, 11, seed=0)


def test_pipeline_works_under_tf_function():
  x = np.ones((16, 3), np.float32)
  ds = data.make_train_dataset(x, x, 4, seed=0)

  @tf.function
  def total(iterator):
    a, b = next(iterator)
    return tf.reduce_sum(a) + tf.reduce_sum(b)

  assert float(total(iter(ds))) == 24.0


def test_mnist5k_is_not_grouped_by_class():
  """Evaluation batches are consecutive: each must mix the classes."""
  images = data.load_mnist5k()
  for labels in (images.train_labels, images.test_labels):
    first_batch = labels[:128]
    assert len(np.unique(first_batch)) == 10
    assert np.bincount(first_batch).max() < 30
