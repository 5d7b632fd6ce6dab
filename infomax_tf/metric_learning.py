"""Metric-learning losses on anchor/positive embeddings (claim 4 of the paper).

Tschannen et al. (2020, Sec. 4) note that with a separable critic
f(x, y) = phi(x) . phi(y) and K pairs,

  I_NCE = log K - L_K-pair-mc,

where L_K-pair-mc is the multi-class K-pair loss of Sohn (2016) on anchors
a_i = phi(x_i) and positives p_i = phi(y_i), with the other positives of the
batch as negatives. So maximising I_NCE with such a critic is minimising a
metric-learning loss. `k_pair_mc_loss` is written in Sohn's form, independently
of `infomax_tf.estimators.infonce_lower_bound`, so that the identity is a test.

References:
  Sohn. Improved Deep Metric Learning with Multi-class N-pair Loss Objective.
    NeurIPS 2016.
  Schroff, Kalenichenko, Philbin. FaceNet: A Unified Embedding for Face
    Recognition and Clustering. CVPR 2015.
"""

import math

import tensorflow as tf

TRIPLET_METRICS = ("dot", "squared_euclidean")


def _pairwise_similarity(anchors, positives, metric: str) -> tf.Tensor:
  """[K, K] similarities s[i, j] between anchor i and positive j."""
  if metric == "dot":
    return tf.matmul(anchors, positives, transpose_b=True)
  if metric == "squared_euclidean":
    # -||a - p||^2 = 2 a.p - |a|^2 - |p|^2; clamp rounding below zero.
    squared_distance = (
        tf.reduce_sum(tf.square(anchors), axis=-1, keepdims=True)
        - 2.0 * tf.matmul(anchors, positives, transpose_b=True)
        + tf.reduce_sum(tf.square(positives), axis=-1)[tf.newaxis, :])
    return -tf.maximum(squared_distance, 0.0)
  raise ValueError(
      f"Unknown metric {metric!r}; known: {', '.join(TRIPLET_METRICS)}.")


def k_pair_mc_loss(anchors, positives) -> tf.Tensor:
  """Multi-class K-pair loss of Sohn (2016) with in-batch negatives.

  ```none
  L = 1/K sum_i log( 1 + sum_{j != i} exp(a_i . p_j - a_i . p_i) )
  ```
  Positive j serves as a negative for every anchor i != j. Computed as
  softplus(logsumexp_{j != i}(a_i . p_j - a_i . p_i)), which is stable for any
  magnitude. Then `infonce_lower_bound(a @ p^T) = log K - L` exactly. Sohn's
  optional L2 penalty on the embeddings is left to the caller.

  Args:
    anchors: float32 [K, d] anchor embeddings a_i.
    positives: float32 [K, d] positive embeddings p_i, paired by row.

  Returns:
    Scalar float32 `Tensor`, >= 0.
  """
  with tf.name_scope("k_pair_mc_loss"):
    anchors = tf.convert_to_tensor(anchors, dtype_hint=tf.float32)
    positives = tf.convert_to_tensor(positives, dtype_hint=tf.float32)
    similarity = tf.matmul(anchors, positives, transpose_b=True)
    margins = similarity - tf.linalg.diag_part(similarity)[:, tf.newaxis]
    num_pairs = tf.shape(similarity)[0]
    is_positive = tf.eye(num_pairs, dtype=tf.bool)
    negatives_only = tf.where(
        is_positive, tf.constant(-math.inf, similarity.dtype), margins)
    return tf.reduce_mean(
        tf.nn.softplus(tf.reduce_logsumexp(negatives_only, axis=-1)))


def triplet_loss(anchors, positives, margin: float = 1.0,
                 metric: str = "squared_euclidean",
                 hardest_negative: bool = False) -> tf.Tensor:
  """Margin triplet loss with in-batch negatives (Schroff et al., 2015).

  With similarity s (s[i, j] = a_i . p_j, or -||a_i - p_j||^2):
  ```none
  all negatives:    L = 1/(K(K-1)) sum_i sum_{j != i}
                          max(0, margin - s[i, i] + s[i, j])
  hardest negative: L = 1/K sum_i
                          max(0, margin - s[i, i] + max_{j != i} s[i, j])
  ```
  For the squared Euclidean metric this is the FaceNet hinge
  max(0, ||a - p||^2 - ||a - n||^2 + margin).

  Args:
    anchors: float32 [K, d] anchor embeddings.
    positives: float32 [K, d] positive embeddings, paired by row; the other
      rows are the negatives.
    margin: hinge margin, >= 0.
    metric: "squared_euclidean" or "dot".
    hardest_negative: use only the most similar negative per anchor
      ("batch hard") instead of averaging over all of them.

  Returns:
    Scalar float32 `Tensor`, >= 0.

  Raises:
    ValueError: for a negative margin or an unknown metric.
  """
  if margin < 0:
    raise ValueError(f"margin must be >= 0, got {margin}.")
  with tf.name_scope("triplet_loss"):
    anchors = tf.convert_to_tensor(anchors, dtype_hint=tf.float32)
    positives = tf.convert_to_tensor(positives, dtype_hint=tf.float32)
    similarity = _pairwise_similarity(anchors, positives, metric)
    positive_similarity = tf.linalg.diag_part(similarity)[:, tf.newaxis]
    num_pairs = tf.shape(similarity)[0]
    is_positive = tf.eye(num_pairs, dtype=tf.bool)
    if hardest_negative:
      hardest = tf.reduce_max(
          tf.where(is_positive,
                   tf.constant(-math.inf, similarity.dtype), similarity),
          axis=-1, keepdims=True)
      return tf.reduce_mean(tf.nn.relu(margin - positive_similarity + hardest))
    hinge = tf.nn.relu(margin - positive_similarity + similarity)
    num_triplets = tf.cast(num_pairs * (num_pairs - 1), similarity.dtype)
    return tf.reduce_sum(
        tf.where(is_positive, tf.zeros_like(hinge), hinge)) / num_triplets
