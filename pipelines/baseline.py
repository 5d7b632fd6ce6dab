"""The paper's pixel baseline: the linear probe on the noisy first view."""

import os

from infomax_tf import config
from infomax_tf import data
from infomax_tf import fileio
from infomax_tf import probe
from infomax_tf import workdir_lock

BASELINE_FILE = "baseline.json"


def pixel_baseline(views: data.Views, noise_sd: float = config.BASELINE_NOISE_SD,
                   seed: int = 0) -> dict:
  """Probes the raw first view plus fixed Gaussian noise.

  Args:
    views: clean views (pixels in [0, 1]).
    noise_sd: sd of the added noise (paper: 0.05).
    seed: noise seed.

  Returns:
    The baseline record: dataset, source, view, noise_sd, n_train, n_test,
    accuracy.
  """
  train_x = data.add_gaussian_noise(views.x1_train, noise_sd, [seed, 0])
  test_x = data.add_gaussian_noise(views.x1_test, noise_sd, [seed, 2])
  return {
      "dataset": views.dataset,
      "source": views.source,
      "view": views.view,
      "noise_sd": noise_sd,
      "n_train": views.n_train,
      "n_test": views.n_test,
      "accuracy": probe.linear_probe_accuracy(train_x, views.y_train, test_x,
                                              views.y_test),
  }


def write(record: dict, directory: str) -> None:
  fileio.write_json(os.path.join(directory, BASELINE_FILE), record)


def run(data_config: config.DataConfig, workdir: str) -> dict:
  """Loads the data, probes the noisy first view, writes baseline.json."""
  fileio.ensure_writable_dir(workdir)  # Fail before any work.
  views = data.load_views(data_config.dataset, data_config.view,
                          data_dir=data_config.data_dir)
  with workdir_lock.hold(workdir):
    record = pixel_baseline(views)
    write(record, workdir)
  return record
