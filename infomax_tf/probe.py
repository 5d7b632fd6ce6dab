"""The paper's linear evaluation protocol.

Representations of the train and test sets are min–max scaled to [0, 1] per
feature (fitted on train), a multinomial logistic regression is fitted with the
SAGA solver, C = 10 and tol = 0.1, and the test accuracy is reported. With 10
classes scikit-learn's SAGA fits the multinomial model by default (its
`multi_class=` argument is gone in 1.9).
"""

import warnings

import numpy as np
from sklearn import exceptions as sklearn_exceptions
from sklearn import linear_model
from sklearn import pipeline
from sklearn import preprocessing

from infomax_tf import errors

PAPER_C = 10.0
PAPER_TOL = 0.1


def _as_features(name: str, x) -> np.ndarray:
  x = np.asarray(x, np.float64)
  if x.ndim != 2:
    x = x.reshape(len(x), -1)
  if not np.all(np.isfinite(x)):
    raise errors.DataError(f"{name} representations contain NaN or Inf "
                           f"({np.sum(~np.isfinite(x))} values)")
  return x


def linear_probe_accuracy(train_x, train_y, test_x, test_y, *,
                          C: float = PAPER_C, tol: float = PAPER_TOL,
                          max_iter: int = 100, seed: int = 0) -> float:
  """Test accuracy of the paper's linear probe.

  Args:
    train_x: representations of the training set, [N, D] (or [N, ...]).
    train_y: integer labels [N].
    test_x: representations of the test set, [M, D].
    test_y: integer labels [M].
    C: inverse regularisation strength (paper: 10).
    tol: SAGA's stopping tolerance (paper: 0.1).
    max_iter: SAGA's epoch cap (scikit-learn's default, as in the paper).
    seed: SAGA's sampling seed, for reproducible accuracies.

  Returns:
    The fraction of test examples classified correctly.

  Raises:
    DataError: non-finite representations or mismatched sizes.
  """
  train_x, test_x = _as_features("train", train_x), _as_features("test", test_x)
  train_y, test_y = np.asarray(train_y), np.asarray(test_y)
  if len(train_x) != len(train_y) or len(test_x) != len(test_y):
    raise errors.DataError(
        f"probe: {len(train_x)}/{len(test_x)} train/test representations but "
        f"{len(train_y)}/{len(test_y)} labels")
  if train_x.shape[1] != test_x.shape[1]:
    raise errors.DataError(f"probe: train has {train_x.shape[1]} features, "
                           f"test {test_x.shape[1]}")
  model = pipeline.make_pipeline(
      preprocessing.MinMaxScaler(),
      linear_model.LogisticRegression(solver="saga", C=C, tol=tol,
                                      max_iter=max_iter, random_state=seed))
  with warnings.catch_warnings():
    # tol = 0.1 is loose by design; SAGA reaching max_iter is part of the
    # protocol, not a problem to report on every evaluation.
    warnings.simplefilter("ignore", sklearn_exceptions.ConvergenceWarning)
    model.fit(train_x, train_y)
  return float(model.score(test_x, test_y))
