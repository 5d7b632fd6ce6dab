"""The paper's pixel baseline: the linear probe on the noisy first view."""

import os
import time

from absl import logging

from infomax_tf import config
from infomax_tf import data
from infomax_tf import fileio
from infomax_tf import probe

BASELINE_FILE = "baseline.json"


def pixel_baseline(views: data.Views) -> float:
  """Probe accuracy of the raw first view (noise, if any, already added)."""
  return probe.linear_probe_accuracy(views.x1_train, views.y_train,
                                     views.x1_test, views.y_test)


def run(data_config: config.DataConfig, workdir: str) -> dict:
  """Loads the data, probes the noisy first view, writes baseline.json.

  Returns:
    The record written: dataset, source, view, noise_sd, n_train, n_test,
    accuracy.
  """
  fileio.ensure_writable_dir(workdir)  # Fail before minutes of work.
  start = time.time()
  views = data.load_views(data_config.dataset, data_config.view,
                          data_dir=data_config.data_dir,
                          noise_sd=config.BASELINE_NOISE_SD)
  record = {
      "dataset": views.dataset,
      "source": views.source,
      "view": views.view,
      "noise_sd": config.BASELINE_NOISE_SD,
      "n_train": views.n_train,
      "n_test": views.n_test,
      "accuracy": pixel_baseline(views),
  }
  fileio.write_json(os.path.join(workdir, BASELINE_FILE), record)
  logging.info("pixel baseline done in %.1f s", time.time() - start)
  return record
