"""Variational lower bounds on mutual information from a critic's score matrix.

Every bound here is a pure function of a score matrix

  scores[i, j] = f(x_i, y_j),   i, j = 1..K,

computed on a batch of K pairs (x_i, y_i) drawn from the joint p(x, y). The
diagonal holds the K positive (joint) pairs; the K(K - 1) off-diagonal entries
play samples from the product of marginals p(x)p(y), as in Poole et al. (2019)
and Tschannen et al. (2020). Each function returns a float32 scalar and traces
in `tf.function` with an unknown batch size (and under `jit_compile=True`).
As in tfp, an [N, M] matrix with N <= M is also accepted: positives on its
diagonal, log M in place of log K for NCE.

Numerics. Exponentials are taken only inside log-sum-exp reductions, so scores
of magnitude up to 1e4 give finite values and gradients for the NCE, JS, DV and
SMILE bounds. NWJ and TUBA exponentiate their marginal term *outside* the
logarithm (that is the bound), so when the off-diagonal scores exceed ~88 the
true value is below -3.4e38: it rounds to -inf in float32, never to NaN.
Non-finite scores are not masked: a NaN anywhere gives a NaN bound, and +-inf
scores follow IEEE arithmetic through the log-sum-exp forms (a -inf off-diagonal
score contributes exp(-inf) = 0 exactly, as a critic that rules out a pair
should). SMILE clips the scores of its marginal term by definition; that is the
estimator, not masking. The bounds need K >= 2 (the marginal terms average
over the off-diagonal entries).

Training and evaluation. Training minimises -bound. For most estimators the
training bound is also the reported MI estimate. The f-GAN JS bound is not an
MI bound: following Poole et al. (2019), a critic trained with JS is evaluated
with NWJ; `evaluation_estimator(name)` returns the function to report MI with
for a critic trained with `name`.

References:
  Tschannen, Djolonga, Rubenstein, Gelly, Lucic. On Mutual Information
    Maximization for Representation Learning. ICLR 2020.
  Poole, Ozair, van den Oord, Alemi, Tucker. On Variational Bounds of Mutual
    Information. ICML 2019.
  Song, Ermon. Understanding the Limitations of Variational Mutual Information
    Estimators. ICLR 2020.
"""

import functools
import math
from typing import Callable, Optional, Union

import tensorflow as tf

Estimator = Callable[[tf.Tensor], tf.Tensor]

# Canonical registry names, in the order they are documented.
ESTIMATORS = ("nce", "nwj", "tuba", "js", "dv", "smile")
ALIASES = {"infonce": "nce"}
DEFAULT_SMILE_CLIP = 5.0


def _as_scores(scores) -> tf.Tensor:
  return tf.convert_to_tensor(scores, dtype_hint=tf.float32, name="scores")


def _joint_mean(scores: tf.Tensor) -> tf.Tensor:
  """Mean of the diagonal (positive-pair) scores."""
  return tf.reduce_mean(tf.linalg.diag_part(scores))


def _offdiagonal_logmeanexp(scores: tf.Tensor) -> tf.Tensor:
  """log mean_{i != j} exp(scores[i, j]), over all off-diagonal entries."""
  num_rows, num_cols = tf.unstack(tf.shape(scores)[-2:])
  on_diagonal = tf.eye(num_rows, num_cols, dtype=tf.bool)
  # exp(-inf) = 0 removes the diagonal from the sum exactly; the gradient of
  # tf.where sends nothing to the removed entries.
  off_diagonal = tf.where(
      on_diagonal, tf.constant(-math.inf, scores.dtype), scores)
  num_off_diagonal = tf.cast(
      num_rows * num_cols - tf.minimum(num_rows, num_cols), scores.dtype)
  return tf.reduce_logsumexp(off_diagonal) - tf.math.log(num_off_diagonal)


def infonce_lower_bound(scores) -> tf.Tensor:
  """InfoNCE bound of van den Oord et al. (2018), paper eq. (I_NCE).

  ```none
  I_NCE = log K + 1/K sum_i [ S[i, i] - log sum_j exp(S[i, j]) ]
        = 1/K sum_i log( exp(S[i, i]) / (1/K sum_j exp(S[i, j])) )
  ```
  It never exceeds log K. Equal to `tfp.vi.mutual_information.
  lower_bound_info_nce(scores)`, which however needs a static batch size.

  Args:
    scores: float32 `Tensor` [K, K], `scores[i, j] = f(x_i, y_j)`, positive
      pairs on the diagonal.

  Returns:
    Scalar float32 `Tensor`: the bound in nats.
  """
  with tf.name_scope("infonce_lower_bound"):
    scores = _as_scores(scores)
    num_cols = tf.cast(tf.shape(scores)[-1], scores.dtype)
    per_row = tf.linalg.diag_part(scores) - tf.reduce_logsumexp(scores, axis=-1)
    return tf.math.log(num_cols) + tf.reduce_mean(per_row)


def tuba_lower_bound(
    scores, log_baseline: Optional[Union[float, tf.Tensor]] = None
) -> tf.Tensor:
  """Tractable unnormalised Barber-Agakov bound (TUBA) of Poole et al. (2019).

  With a baseline a(x) > 0 given as log a(x_i) for row i (MI is symmetric, so
  the baseline may be a function of either variable),
  ```none
  I_TUBA = 1 + E_p(x,y)[f(x, y) - log a(x)] - E_p(x)p(y)[exp(f(x, y)) / a(x)]
         = 1 + 1/K sum_i S'[i, i] - 1/(K(K-1)) sum_{i != j} exp(S'[i, j]),
  ```
  where S'[i, j] = S[i, j] - log a(x_i). The marginal term is computed as
  exp(logmeanexp) for stability. `nwj_lower_bound(S) == tuba_lower_bound(S,
  log_baseline=1.)`.

  Args:
    scores: float32 `Tensor` [K, K], positive pairs on the diagonal.
    log_baseline: `None` (a = 1), a scalar, or a [K] `Tensor` of log a(x_i),
      one per row.

  Returns:
    Scalar float32 `Tensor`: the bound in nats.
  """
  with tf.name_scope("tuba_lower_bound"):
    scores = _as_scores(scores)
    if log_baseline is not None:
      log_baseline = tf.convert_to_tensor(log_baseline, dtype=scores.dtype)
      # [1, 1] for a scalar, [K, 1] for one value per row.
      scores = scores - tf.reshape(log_baseline, [-1, 1])
    return (1.0 + _joint_mean(scores)
            - tf.math.exp(_offdiagonal_logmeanexp(scores)))


def nwj_lower_bound(scores) -> tf.Tensor:
  """Bound of Nguyen, Wainwright and Jordan (2010), paper eq. (I_NWJ).

  ```none
  I_NWJ = 1 + 1/K sum_i S'[i, i] - exp( logmeanexp_{i != j} S'[i, j] ),
  S'    = S - 1,
  ```
  i.e. E_p(x,y)[f] - e^{-1} E_p(x)p(y)[exp(f)], with the off-diagonal entries
  as the product of marginals. The optimal critic is f = 1 + log p(x,y) /
  (p(x)p(y)). Identical to `tfp.vi.mutual_information.
  lower_bound_nguyen_wainwright_jordan(scores)` with its default mask, which
  also averages the marginal term over the off-diagonal entries only.

  Args:
    scores: float32 `Tensor` [K, K], positive pairs on the diagonal.

  Returns:
    Scalar float32 `Tensor`: the bound in nats.
  """
  with tf.name_scope("nwj_lower_bound"):
    return tuba_lower_bound(_as_scores(scores) - 1.0)


def js_lower_bound(scores) -> tf.Tensor:
  """f-GAN Jensen-Shannon objective (Nowozin et al., 2016), for training.

  ```none
  I_JS = E_p(x,y)[-softplus(-f)] - E_p(x)p(y)[softplus(f)]
       = 1/K sum_i -softplus(-S[i, i])
         - 1/(K(K-1)) sum_{i != j} softplus(S[i, j])
  ```
  This is E_p[log D] + E_q[log(1 - D)] with D = sigmoid(f), the GAN
  discriminator objective: it lower-bounds 2 JSD(p(x,y) || p(x)p(y)) - log 4,
  is always <= 0, and is *not* an MI estimate. Its maximiser is the log density
  ratio f* = log p(x,y) / (p(x)p(y)), so a JS-trained critic is evaluated as
  the NWJ bound of f + 1 (see `evaluation_estimator`). Identical to
  `tfp.vi.mutual_information.lower_bound_jensen_shannon(scores)`.

  Args:
    scores: float32 `Tensor` [K, K], positive pairs on the diagonal.

  Returns:
    Scalar float32 `Tensor`.
  """
  with tf.name_scope("js_lower_bound"):
    scores = _as_scores(scores)
    num_rows, num_cols = tf.unstack(tf.shape(scores)[-2:])
    on_diagonal = tf.eye(num_rows, num_cols, dtype=tf.bool)
    joint_term = -tf.reduce_mean(tf.nn.softplus(-tf.linalg.diag_part(scores)))
    # Select rather than subtract the diagonal's sum: exact, and an infinite
    # diagonal score cannot turn the marginal term into inf - inf.
    marginal_softplus = tf.where(
        on_diagonal, tf.zeros_like(scores), tf.nn.softplus(scores))
    num_off_diagonal = tf.cast(
        num_rows * num_cols - tf.minimum(num_rows, num_cols), scores.dtype)
    marginal_term = tf.reduce_sum(marginal_softplus) / num_off_diagonal
    return joint_term - marginal_term


def dv_lower_bound(scores) -> tf.Tensor:
  """Donsker-Varadhan bound, as used by MINE (Belghazi et al., 2018).

  ```none
  I_DV = 1/K sum_i S[i, i] - logmeanexp_{i != j} S[i, j]
  ```
  The population bound holds for any f; on a minibatch the log of a sample
  mean is biased upwards, so the estimate is not a lower bound in expectation
  (Poole et al. call it "dv_upper_lower_bound"). Invariant to adding a
  constant to f. Always >= `nwj_lower_bound` on the same scores (log z <= z/e).
  MINE's moving-average gradient correction is a training-loop matter and is
  not part of this function.

  Args:
    scores: float32 `Tensor` [K, K], positive pairs on the diagonal.

  Returns:
    Scalar float32 `Tensor`: the estimate in nats.
  """
  with tf.name_scope("dv_lower_bound"):
    scores = _as_scores(scores)
    return _joint_mean(scores) - _offdiagonal_logmeanexp(scores)


def smile_lower_bound(scores, clip: Optional[float] = DEFAULT_SMILE_CLIP
                      ) -> tf.Tensor:
  """SMILE estimator of Song and Ermon (2020), with their JS training signal.

  Value (the estimate):
  ```none
  I_SMILE = 1/K sum_i S[i, i] - logmeanexp_{i != j} clip(S[i, j], -tau, tau)
  ```
  i.e. the DV bound with the density ratio exp(f) clipped to [e^-tau, e^tau]
  in the partition term, which bounds its variance. Gradient: that of
  `js_lower_bound` (value = JS + stop_gradient(SMILE - JS)), as in the
  authors' reference code, which trains the critic with the JS objective and
  reports the clipped DV value.

  Args:
    scores: float32 `Tensor` [K, K], positive pairs on the diagonal.
    clip: tau > 0, or `None` for no clipping (then the value equals
      `dv_lower_bound`). Song and Ermon use tau = 5.

  Returns:
    Scalar float32 `Tensor`: the estimate in nats (with JS gradients).
  """
  with tf.name_scope("smile_lower_bound"):
    scores = _as_scores(scores)
    marginal_scores = scores
    if clip is not None:
      if clip <= 0:
        raise ValueError(f"clip must be positive or None, got {clip}.")
      marginal_scores = tf.clip_by_value(scores, -clip, clip)
    smile = _joint_mean(scores) - _offdiagonal_logmeanexp(marginal_scores)
    js = js_lower_bound(scores)
    return js + tf.stop_gradient(smile - js)


def js_critic_nwj_lower_bound(scores) -> tf.Tensor:
  """MI estimate for a critic trained with `js_lower_bound`: NWJ of f + 1.

  ```none
  I = nwj_lower_bound(S + 1) = tuba_lower_bound(S)
    = 1 + 1/K sum_i S[i, i] - exp( logmeanexp_{i != j} S[i, j] )
  ```
  A lower bound for any critic. The JS maximiser is f* = log r (r the density
  ratio) while NWJ's is 1 + log r, so the shift makes the JS optimum tight:
  NWJ evaluated on the unshifted JS critic would read I - 1/e at the optimum.

  Args:
    scores: float32 `Tensor` [K, K], positive pairs on the diagonal.

  Returns:
    Scalar float32 `Tensor`: the bound in nats.
  """
  with tf.name_scope("js_critic_nwj_lower_bound"):
    return nwj_lower_bound(_as_scores(scores) + 1.0)


_ESTIMATOR_FNS = {
    "nce": infonce_lower_bound,
    "nwj": nwj_lower_bound,
    "tuba": tuba_lower_bound,
    "js": js_lower_bound,
    "dv": dv_lower_bound,
    "smile": smile_lower_bound,
}


def canonical_name(name: str) -> str:
  """Maps a registry name or alias (any case) to its canonical name.

  Args:
    name: e.g. "nce", "InfoNCE", "nwj".

  Returns:
    One of `ESTIMATORS`.

  Raises:
    ValueError: for an unknown name; the message lists the known names.
  """
  key = str(name).strip().lower()
  key = ALIASES.get(key, key)
  if key not in _ESTIMATOR_FNS:
    known = ", ".join(ESTIMATORS + tuple(sorted(ALIASES)))
    raise ValueError(f"Unknown estimator {name!r}; known: {known}.")
  return key


def get_estimator(name: str, **kwargs) -> Estimator:
  """Returns the bound to *train* with: a function scores [K, K] -> scalar.

  Args:
    name: one of `ESTIMATORS` or an alias ("infonce" = "nce"), any case.
    **kwargs: bound options, e.g. `clip` for "smile" (default 5.0) or
      `log_baseline` for "tuba".

  Returns:
    A callable `scores -> scalar`; the training loss is its negative.

  Raises:
    ValueError: for an unknown name; the message lists the known names.
  """
  key = canonical_name(name)
  fn = _ESTIMATOR_FNS[key]
  if key == "smile":
    kwargs.setdefault("clip", DEFAULT_SMILE_CLIP)
  return functools.partial(fn, **kwargs) if kwargs else fn


def evaluation_estimator(name: str, **kwargs) -> Estimator:
  """Returns the MI estimate to *report* for a critic trained with `name`.

  The training bound itself for every estimator except "js", whose f-GAN
  objective is not an MI bound: a JS-trained critic is reported with
  `js_critic_nwj_lower_bound` (NWJ of f + 1), as Poole et al. (2019) evaluate
  JS critics with NWJ.

  Args:
    name: the training estimator's name (as for `get_estimator`).
    **kwargs: as for `get_estimator`; ignored for "js".

  Returns:
    A callable `scores -> scalar` MI estimate in nats.

  Raises:
    ValueError: for an unknown name; the message lists the known names.
  """
  if canonical_name(name) == "js":
    return js_critic_nwj_lower_bound
  return get_estimator(name, **kwargs)
