"""Tests for infomax_tf.metric_learning, including the I_NCE identity."""

import math

import numpy as np
import pytest
import tensorflow as tf

from infomax_tf import estimators
from infomax_tf import metric_learning


def _embeddings(k, dim, seed, scale=1.0):
  anchors = scale * tf.random.stateless_normal([k, dim], seed=[seed, 0])
  positives = scale * tf.random.stateless_normal([k, dim], seed=[seed, 1])
  return anchors, positives


def _ref_k_pair_mc(anchors, positives):
  """Sohn (2016), written literally in float64."""
  a = np.asarray(anchors, np.float64)
  p = np.asarray(positives, np.float64)
  k = len(a)
  total = 0.0
  for i in range(k):
    total += math.log(1.0 + sum(math.exp(a[i] @ p[j] - a[i] @ p[i])
                                for j in range(k) if j != i))
  return total / k


def _ref_triplet(anchors, positives, margin, metric, hardest_negative):
  a = np.asarray(anchors, np.float64)
  p = np.asarray(positives, np.float64)
  k = len(a)

  def similarity(i, j):
    if metric == "dot":
      return a[i] @ p[j]
    return -np.sum((a[i] - p[j]) ** 2)

  losses = []
  for i in range(k):
    negatives = [similarity(i, j) for j in range(k) if j != i]
    if hardest_negative:
      negatives = [max(negatives)]
    losses.extend(max(0.0, margin - similarity(i, i) + s) for s in negatives)
  return float(np.mean(losses))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k,dim", [(2, 1), (8, 10), (64, 32), (128, 100)])
@pytest.mark.parametrize("score_sd", [0.1, 1.0, 10.0])
def test_infonce_equals_log_k_minus_k_pair_loss(seed, k, dim, score_sd):
  # Entry sd sqrt(s) / dim^(1/4) makes the scores a_i . p_j have sd s.
  anchors, positives = _embeddings(k, dim, seed,
                                   math.sqrt(score_sd) / dim ** 0.25)
  nce = estimators.infonce_lower_bound(
      tf.matmul(anchors, positives, transpose_b=True))
  loss = metric_learning.k_pair_mc_loss(anchors, positives)
  np.testing.assert_allclose(float(nce), math.log(k) - float(loss),
                             rtol=0, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k,dim", [(2, 3), (16, 8), (128, 100)])
def test_infonce_and_k_pair_gradients_are_equal_and_opposite(seed, k, dim):
  anchors, positives = _embeddings(k, dim, seed, 2.0 / dim ** 0.25)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([anchors, positives])
    nce = estimators.infonce_lower_bound(
        tf.matmul(anchors, positives, transpose_b=True))
    loss = metric_learning.k_pair_mc_loss(anchors, positives)
  for embeddings in (anchors, positives):
    nce_grad = tape.gradient(nce, embeddings).numpy()
    loss_grad = tape.gradient(loss, embeddings).numpy()
    assert np.abs(nce_grad).max() > 1e-4  # a real gradient, not zeros
    np.testing.assert_allclose(nce_grad, -loss_grad, rtol=0, atol=1e-6)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k,dim", [(2, 2), (5, 3), (12, 6)])
def test_k_pair_loss_matches_sohn_formula(seed, k, dim):
  anchors, positives = _embeddings(k, dim, seed)
  np.testing.assert_allclose(
      float(metric_learning.k_pair_mc_loss(anchors, positives)),
      _ref_k_pair_mc(anchors.numpy(), positives.numpy()), rtol=1e-5)


@pytest.mark.parametrize("k", [2, 10, 128])
def test_k_pair_loss_is_log_k_for_uninformative_embeddings(k):
  same = tf.ones([k, 4])
  np.testing.assert_allclose(
      float(metric_learning.k_pair_mc_loss(same, same)), math.log(k),
      rtol=1e-6)


def test_k_pair_loss_is_finite_and_non_negative_for_extreme_embeddings():
  anchors, positives = _embeddings(32, 16, 0, scale=100.0)  # scores ~1e5
  with tf.GradientTape() as tape:
    tape.watch(anchors)
    loss = metric_learning.k_pair_mc_loss(anchors, positives)
  assert np.isfinite(float(loss)) and float(loss) >= 0.0
  assert np.all(np.isfinite(tape.gradient(loss, anchors).numpy()))


@pytest.mark.parametrize("metric", metric_learning.TRIPLET_METRICS)
@pytest.mark.parametrize("hardest_negative", [False, True])
@pytest.mark.parametrize("margin", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("seed", range(2))
def test_triplet_loss_matches_brute_force(metric, hardest_negative, margin,
                                          seed):
  anchors, positives = _embeddings(7, 3, seed)
  got = metric_learning.triplet_loss(anchors, positives, margin=margin,
                                     metric=metric,
                                     hardest_negative=hardest_negative)
  expected = _ref_triplet(anchors.numpy(), positives.numpy(), margin, metric,
                          hardest_negative)
  np.testing.assert_allclose(float(got), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("metric", metric_learning.TRIPLET_METRICS)
def test_triplet_loss_is_zero_when_positives_win_by_the_margin(metric):
  # Anchors equal their positives; distinct one-hot codes scaled by 3.
  codes = 3.0 * tf.eye(6)
  assert float(metric_learning.triplet_loss(
      codes, codes, margin=1.0, metric=metric)) == 0.0
  # ... and positive once the margin exceeds the gap (9 for dot, 18 for
  # squared Euclidean).
  assert float(metric_learning.triplet_loss(
      codes, codes, margin=20.0, metric=metric)) > 0.0


def test_triplet_loss_rejects_bad_arguments():
  anchors, positives = _embeddings(4, 2, 0)
  with pytest.raises(ValueError):
    metric_learning.triplet_loss(anchors, positives, margin=-1.0)
  with pytest.raises(ValueError):
    metric_learning.triplet_loss(anchors, positives, metric="cosine")


@pytest.mark.parametrize("fn", [
    metric_learning.k_pair_mc_loss,
    metric_learning.triplet_loss,
    lambda a, p: metric_learning.triplet_loss(a, p, hardest_negative=True),
], ids=["k_pair_mc", "triplet", "triplet_hardest"])
def test_losses_trace_with_unknown_batch_size_and_compile(fn):
  spec = tf.TensorSpec([None, 5], tf.float32)
  traced = tf.function(fn, input_signature=[spec, spec])
  compiled = tf.function(fn, jit_compile=True)
  for k in (2, 9):
    anchors, positives = _embeddings(k, 5, k)
    eager = float(fn(anchors, positives))
    np.testing.assert_allclose(float(traced(anchors, positives)), eager,
                               rtol=1e-5)
    np.testing.assert_allclose(float(compiled(anchors, positives)), eager,
                               rtol=1e-5)
