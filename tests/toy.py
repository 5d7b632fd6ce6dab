"""Tiny synthetic data sets for fast engine tests."""

import numpy as np

from infomax_tf import data


def cluster_views(n_train=512, n_test=256, dim=8, n_classes=4, spread=0.6,
                  seed=0) -> data.Views:
  """Two views that share a class-dependent latent: MI and labels to find."""
  rng = np.random.default_rng(seed)
  centres = rng.normal(0, 1.5, (n_classes, dim))

  def sample(n):
    labels = rng.integers(0, n_classes, n)
    latent = centres[labels] + rng.normal(0, spread, (n, dim))
    x1 = latent + rng.normal(0, 0.3, (n, dim))
    x2 = latent + rng.normal(0, 0.3, (n, dim))
    return x1.astype(np.float32), x2.astype(np.float32), labels.astype(np.int64)

  x1_train, x2_train, y_train = sample(n_train)
  x1_test, x2_test, y_test = sample(n_test)
  return data.Views(dataset="toy", source="toy", view="top_bottom",
                    view_shape=(1, dim, 1), x1_train=x1_train,
                    x2_train=x2_train, y_train=y_train, x1_test=x1_test,
                    x2_test=x2_test, y_test=y_test)
