"""Verdicts, figures and reports from the numbers of finished runs.

The pipeline hands this module one *results* dict per experiment:

```none
{"id": "fig3",
 "runs": {config_name: [records_seed0, records_seed1, ...]},
 "baseline": 0.827 or None,     # pixel-baseline probe accuracy
 "scalars": {name: [value_seed0, value_seed1, ...]},
 "true_mi": float or None}      # fig4c only
```

A record is a dict with "step" (increasing) and any of "test_mi", "train_mi",
"accuracy", "inverse_error", "log_kappa_p{0,10,25,50,75,90,100}" and
"estimate"; values may be None.

From these it derives

1. per-experiment verdicts: named checks with fixed thresholds
   (`evaluate_experiment`), gathered into per-claim verdicts
   (`claim_verdict`);
2. PNG figures redrawn after the paper's (`plot_experiment`);
3. a Markdown report per claim (`write_report`);
4. a cross-claim summary in JSON and Markdown (`write_summary`).

Conventions:

- "step 0" is a seed's first record and "final" its last. Every comparison is
  on the mean over seeds; for a difference the standard error of the per-seed
  differences (sample sd / sqrt(n)) is reported as "stderr" (None for one
  seed). Seeds are paired by their index across configs.
- Missing data never passes: an absent config, a None or non-finite value, or
  a seed without records makes the check's value None and `passed` False. A
  maximum "over all evaluations" needs every evaluation's value.
- Figures show the mean over seeds with a ± 1 sample-sd band (no band for one
  seed).

Figures use matplotlib's object API with the Agg canvas (never pyplot), so
they render headless. Files go through `fileio` (tf.io.gfile), atomically.
"""

import io
import json
import math
import operator
import os

import numpy as np

from infomax_tf import fileio

EXPERIMENTS_BY_CLAIM = {
    "1": ("fig1ab", "fig1c", "fig2"),
    "2": ("fig3",),
    "3": ("fig4ab",),
    "4": ("kpair", "fig4c"),
}

CLAIM_STATEMENTS = {
    "1": ("Maximising an MI estimate can improve representations although the "
          "true MI cannot change (invertible encoders), and an encoder with "
          "maximal MI can have poor representations (Sec. 3.1)."),
    "2": ("Looser MI bounds with simpler critics can give better "
          "representations than tighter bounds with expressive critics "
          "(Sec. 3.2)."),
    "3": ("At the same estimated MI, the encoder architecture decides the "
          "quality of the representation (Sec. 3.3)."),
    "4": ("Maximising I_NCE with a separable critic is metric learning, and "
          "the estimators rely on iid samples (Sec. 4)."),
}

PAPER_STATEMENTS = {
    "fig1ab": (
        "With invertible RealNVP encoders the true MI between the two halves "
        "is fixed, yet maximising I_NCE or I_NWJ raises the estimated MI and "
        "the linear-probe accuracy of the codes (Fig. 1a–b; final accuracy "
        "about 0.89–0.90)."),
    "fig1c": (
        "An invertible encoder (so with maximal MI) can be trained "
        "adversarially until its linear-probe accuracy drops well below the "
        "pixel baseline (Fig. 1c; about 0.40): maximal MI does not imply a "
        "good representation."),
    "fig2": (
        "An MLP with skip connections started near the identity becomes ever "
        "more ill-conditioned while maximising I_NCE or I_NWJ: the log "
        "condition number of its Jacobian grows by several nats while the "
        "linear-probe accuracy rises (Fig. 2; about 0.84 → 0.90)."),
    "fig3": (
        "Bilinear and separable critics give higher linear-probe accuracy "
        "than the more expressive MLP (concat) critic, although the MLP "
        "critic reaches a higher I_NWJ (Fig. 3): a tighter bound does not "
        "give a better representation."),
    "fig4ab": (
        "Trained to the same estimated MI (loss |I_EST − t|, t ∈ {2, 4}), a "
        "ConvNet encoder gives clearly higher linear-probe accuracy than an "
        "MLP encoder (Fig. 4a–b; about 0.90–0.92 vs 0.80–0.84)."),
    "kpair": (
        "With a separable critic, I_NCE = log K − L_K-pair-mc exactly "
        "(Sec. 4), so maximising I_NCE is minimising Sohn's multi-class "
        "K-pair metric-learning loss; a triplet-style loss learns useful "
        "representations as well."),
    "fig4c": (
        "On a 2-D Gaussian with true MI ≈ 0.0204 nats, batches of non-iid "
        "samples make the I_NCE and I_NWJ estimates exceed the true MI, while "
        "iid batches do not (Fig. 4c)."),
}

BOUNDS = ("nce", "nwj")
CRITICS = ("bilinear", "separable", "concat")
ENCODERS = ("mlp", "convnet")
TARGETS = (2.0, 4.0)
SAMPLINGS = ("noniid", "iid")
KPAIR_ACCURACIES = ("accuracy_nce", "accuracy_kpair", "accuracy_triplet")

# Thresholds fixed by the issue that defines the verdicts.
MIN_MI_GAIN = 0.5  # fig1ab, nats.
MIN_ACCURACY_GAIN = 0.01  # fig1ab.
MAX_INVERSE_ERROR = 1e-3  # fig1ab, fig1c.
MIN_ADVERSARIAL_DROP = 0.20  # fig1c.
MIN_LOG_KAPPA_GAIN = 1.0  # fig2, nats.
MAX_TARGET_DISTANCE = 0.5  # fig4ab, nats.
MIN_CONVNET_GAIN = 0.02  # fig4ab.
MAX_IDENTITY_GAP = 1e-5  # kpair, nats.
MAX_KPAIR_ACCURACY_GAP = 1e-3  # kpair.
MIN_NONIID_EXCESS = 0.05  # fig4c, nats.
MAX_IID_EXCESS = 0.05  # fig4c, nats.

# fig4c's "smoothed final estimate": mean over the last ceil(n / 10) records.
SMOOTHING_DENOMINATOR = 10

# Values are differences of float64 means (e.g. 0.838 − 0.837 of accuracies
# on 1,000 images is 0.0010000000000000009): inclusive comparisons allow this
# much representation error, so that a difference exactly at the threshold in
# exact arithmetic compares as it should. Strict ones get none.
_FLOAT_SLACK = 1e-12
_OPS = {">=": lambda v, t: v >= t - _FLOAT_SLACK, ">": operator.gt,
        "<=": lambda v, t: v <= t + _FLOAT_SLACK, "<": operator.lt}

METRIC_LABELS = {
    "test_mi": "test I_EST (nats)",
    "train_mi": "train I_EST (nats)",
    "accuracy": "linear-probe accuracy",
    "inverse_error": "inverse error",
    "log_kappa_p50": "median log κ (nats)",
    "estimate": "I_EST estimate (nats)",
}

# Metrics tabulated in the report, per experiment.
_TABLE_METRICS = {
    "fig1ab": ("test_mi", "accuracy", "inverse_error"),
    "fig1c": ("accuracy", "inverse_error"),
    "fig2": ("test_mi", "accuracy", "log_kappa_p50"),
    "fig3": ("test_mi", "accuracy"),
    "fig4ab": ("test_mi", "accuracy"),
    "fig4c": ("estimate",),
    "kpair": (),
}

_FIGURE_DPI = 100


# ---------------------------------------------------------------------------
# Config names.


def fig3_config(critic: str, bound: str) -> str:
  """Config name of a fig3 run, e.g. "bilinear_nce"."""
  return f"{critic}_{bound}"


def fig4ab_config(encoder: str, bound: str, t: float) -> str:
  """Config name of a fig4ab run, e.g. "convnet_nce_t2"."""
  return f"{encoder}_{bound}_t{t:g}"


def fig4c_config(sampling: str, bound: str) -> str:
  """Config name of a fig4c run, e.g. "noniid_nce"."""
  return f"{sampling}_{bound}"


def expected_configs(experiment_id: str) -> tuple:
  """The config names an experiment's checks read, in display order.

  Args:
    experiment_id: one of the ids in `EXPERIMENTS_BY_CLAIM`.

  Returns:
    A tuple of config names (empty for kpair, which has scalars only).

  Raises:
    ValueError: unknown experiment id.
  """
  _check_id(experiment_id)
  if experiment_id in ("fig1ab", "fig2"):
    return BOUNDS
  if experiment_id == "fig1c":
    return ("adversarial",)
  if experiment_id == "fig3":
    return tuple(fig3_config(c, b) for b in BOUNDS for c in CRITICS)
  if experiment_id == "fig4ab":
    return tuple(fig4ab_config(e, b, t)
                 for b in BOUNDS for t in TARGETS for e in ENCODERS)
  if experiment_id == "fig4c":
    return tuple(fig4c_config(s, b) for b in BOUNDS for s in SAMPLINGS)
  return ()


def _all_ids():
  return tuple(i for ids in EXPERIMENTS_BY_CLAIM.values() for i in ids)


def _check_id(experiment_id) -> None:
  if experiment_id not in _all_ids():
    raise ValueError(f"Unknown experiment id {experiment_id!r}; known: "
                     f"{', '.join(_all_ids())}.")


# ---------------------------------------------------------------------------
# Reading the numbers.


def _as_float(x) -> float:
  """A finite float, or NaN for None, non-numbers and non-finite values."""
  try:
    x = float(x)
  except (TypeError, ValueError):
    return math.nan
  return x if math.isfinite(x) else math.nan


def _finite_or_none(x):
  x = _as_float(x)
  return None if math.isnan(x) else x


def _seed_records(results: dict, config: str):
  """The per-seed record lists of `config`, or None when it is absent."""
  runs = results.get("runs") or {}
  seeds = runs.get(config)
  if not seeds:
    return None
  return [list(records or []) for records in seeds]


def _series(records, key: str) -> np.ndarray:
  """A seed's values of `key` over its evaluations (NaN where missing)."""
  return np.array([_as_float(r.get(key)) for r in records], dtype=np.float64)


def smoothed_final_estimate(values) -> float:
  """fig4c's smoothed final estimate of one seed.

  The mean of the last ceil(10%) of the evaluations (at least one), which
  evens out the batch-to-batch noise of a single final estimate.

  Args:
    values: the seed's estimates in step order (None allowed).

  Returns:
    The mean of the last max(1, ceil(0.1 * n)) values; NaN when there are no
    values or any of those is missing.
  """
  values = np.array([_as_float(v) for v in values], dtype=np.float64)
  if not values.size:
    return math.nan
  k = max(1, -(-values.size // SMOOTHING_DENOMINATOR))  # Integer ceil.
  tail = values[-k:]
  return math.nan if np.isnan(tail).any() else float(tail.mean())


def _reduce(values: np.ndarray, how: str) -> float:
  if not values.size:
    return math.nan
  if how == "first":
    return float(values[0])
  if how == "final":
    return float(values[-1])
  if how == "max":
    # A maximum over all evaluations is only known when every one is.
    return math.nan if np.isnan(values).any() else float(values.max())
  if how == "smoothed":
    return smoothed_final_estimate(values)
  raise ValueError(f"Unknown reduction {how!r}.")


def per_seed(results: dict, config: str, key: str, how: str):
  """One statistic of a metric per seed.

  Args:
    results: an experiment's results dict.
    config: the config name.
    key: the record key, e.g. "accuracy".
    how: "first" (step 0), "final", "max" (over all evaluations) or
      "smoothed" (`smoothed_final_estimate`).

  Returns:
    A float array with one value per seed (NaN where missing), or None when
    the config is absent.
  """
  seeds = _seed_records(results, config)
  if seeds is None:
    return None
  return np.array([_reduce(_series(records, key), how) for records in seeds],
                  dtype=np.float64)


def _scalar(results: dict, name: str):
  values = (results.get("scalars") or {}).get(name)
  if not values:
    return None
  return np.array([_as_float(v) for v in values], dtype=np.float64)


def _complete(x) -> bool:
  return x is not None and x.size > 0 and not np.isnan(x).any()


def _stderr(x: np.ndarray):
  return float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else None


def _mean_stat(x):
  """(mean, stderr) over seeds, or (None, None) when anything is missing."""
  if not _complete(x):
    return None, None
  return float(x.mean()), _stderr(x)


def _difference_stat(a, b):
  """(mean(a) − mean(b), stderr of the difference) over seeds.

  Seeds are paired by index, so the stderr is that of the per-seed
  differences; with unequal seed counts the two stderrs are combined as if
  independent.
  """
  if not (_complete(a) and _complete(b)):
    return None, None
  if a.size == b.size:
    return _mean_stat(a - b)
  se_a, se_b = _stderr(a), _stderr(b)
  stderr = (math.hypot(se_a, se_b)
            if se_a is not None and se_b is not None else None)
  return float(a.mean() - b.mean()), stderr


def _max_stat(x):
  """(max over seeds, None): the largest value, for worst-case checks."""
  if not _complete(x):
    return None, None
  return float(x.max()), None


def _check(name: str, stat, op: str, threshold: float) -> dict:
  """A named check; fails (value None) when the value is missing."""
  value, stderr = stat
  value, stderr = _finite_or_none(value), _finite_or_none(stderr)
  threshold = float(threshold)
  return {
      "name": name,
      "value": value,
      "stderr": stderr,
      "threshold": threshold,
      "op": op,
      "passed": bool(value is not None and _OPS[op](value, threshold)),
  }


# ---------------------------------------------------------------------------
# Verdicts.


def _gain(results, config, key):
  return _difference_stat(per_seed(results, config, key, "final"),
                          per_seed(results, config, key, "first"))


def _inverse_error_check(results, config, name_prefix):
  return _check(
      f"{name_prefix}max inverse error (all evaluations and seeds)",
      _max_stat(per_seed(results, config, "inverse_error", "max")),
      "<=", MAX_INVERSE_ERROR)


def _fig1ab_checks(results):
  checks = []
  for bound in BOUNDS:
    checks += [
        _check(f"{bound}: Δ test I_EST (final − step 0)",
               _gain(results, bound, "test_mi"), ">=", MIN_MI_GAIN),
        _check(f"{bound}: Δ linear-probe accuracy (final − step 0)",
               _gain(results, bound, "accuracy"), ">=", MIN_ACCURACY_GAIN),
        _inverse_error_check(results, bound, f"{bound}: "),
    ]
  return checks


def _fig1c_checks(results):
  config = "adversarial"
  drop = _difference_stat(per_seed(results, config, "accuracy", "first"),
                          per_seed(results, config, "accuracy", "final"))
  return [
      _check("linear-probe accuracy drop (step 0 − final)", drop, ">=",
             MIN_ADVERSARIAL_DROP),
      _inverse_error_check(results, config, ""),
  ]


def _fig2_checks(results):
  checks = []
  for bound in BOUNDS:
    checks += [
        _check(f"{bound}: Δ median log κ (final − step 0)",
               _gain(results, bound, "log_kappa_p50"), ">=",
               MIN_LOG_KAPPA_GAIN),
        _check(f"{bound}: Δ linear-probe accuracy (final − step 0)",
               _gain(results, bound, "accuracy"), ">", 0.0),
    ]
  return checks


def _fig3_checks(results):
  checks = []
  for bound in BOUNDS:
    final = {c: per_seed(results, fig3_config(c, bound), "accuracy", "final")
             for c in CRITICS}
    for critic in ("bilinear", "separable"):
      checks.append(_check(
          f"{bound}: final accuracy {critic} − concat",
          _difference_stat(final[critic], final["concat"]), ">", 0.0))
  best = {c: per_seed(results, fig3_config(c, "nwj"), "test_mi", "max")
          for c in ("concat", "bilinear")}
  checks.append(_check(
      "nwj: highest test I_NWJ concat − bilinear",
      _difference_stat(best["concat"], best["bilinear"]), ">", 0.0))
  return checks


def _fig4ab_checks(results):
  checks = []
  for bound in BOUNDS:
    for t in TARGETS:
      final_acc = {}
      for encoder in ENCODERS:
        config = fig4ab_config(encoder, bound, t)
        mean, stderr = _mean_stat(per_seed(results, config, "test_mi", "final"))
        distance = (abs(mean - t), stderr) if mean is not None else (None, None)
        checks.append(_check(
            f"{bound}, t={t:g}: {encoder} abs(final test I_EST − t)",
            distance, "<=", MAX_TARGET_DISTANCE))
        final_acc[encoder] = per_seed(results, config, "accuracy", "final")
      checks.append(_check(
          f"{bound}, t={t:g}: final accuracy convnet − mlp",
          _difference_stat(final_acc["convnet"], final_acc["mlp"]), ">=",
          MIN_CONVNET_GAIN))
  return checks


def _kpair_checks(results):
  nce = _scalar(results, "accuracy_nce")
  kpair = _scalar(results, "accuracy_kpair")
  # The issue asks for the equality "from one seed": seed 0's pair only.
  seed0 = ((abs(nce[0] - kpair[0]), None)
           if nce is not None and kpair is not None else (None, None))
  triplet_mean, triplet_stderr = _mean_stat(_scalar(results,
                                                    "accuracy_triplet"))
  baseline = _finite_or_none(results.get("baseline"))
  over_baseline = ((triplet_mean - baseline, triplet_stderr)
                   if triplet_mean is not None and baseline is not None
                   else (None, None))
  return [
      _check("max over seeds of abs(I_NCE − (log K − L_Kpair))",
             _max_stat(_scalar(results, "identity_gap")), "<=",
             MAX_IDENTITY_GAP),
      _check("seed 0: abs(accuracy I_NCE − accuracy K-pair)", seed0, "<=",
             MAX_KPAIR_ACCURACY_GAP),
      _check("mean triplet accuracy − pixel baseline", over_baseline, ">=",
             0.0),
  ]


def _fig4c_checks(results):
  true_mi = _finite_or_none(results.get("true_mi"))
  checks = []
  for bound in BOUNDS:
    excess = {}
    for sampling in SAMPLINGS:
      mean, stderr = _mean_stat(per_seed(
          results, fig4c_config(sampling, bound), "estimate", "smoothed"))
      excess[sampling] = ((mean - true_mi, stderr)
                          if mean is not None and true_mi is not None
                          else (None, None))
    checks += [
        _check(f"{bound}: smoothed non-iid estimate − true MI",
               excess["noniid"], ">", MIN_NONIID_EXCESS),
        _check(f"{bound}: smoothed iid estimate − true MI",
               excess["iid"], "<=", MAX_IID_EXCESS),
    ]
  return checks


_CHECKS = {
    "fig1ab": _fig1ab_checks,
    "fig1c": _fig1c_checks,
    "fig2": _fig2_checks,
    "fig3": _fig3_checks,
    "fig4ab": _fig4ab_checks,
    "kpair": _kpair_checks,
    "fig4c": _fig4c_checks,
}


def evaluate_experiment(results: dict) -> dict:
  """Runs an experiment's checks.

  Args:
    results: the experiment's results dict (see the module docstring).

  Returns:
    {"id", "supported", "checks"}: each check is {"name", "value", "stderr",
    "threshold", "op", "passed"}, with plain floats or None; the experiment
    is supported when every check passes.

  Raises:
    ValueError: unknown experiment id.
  """
  experiment_id = results.get("id")
  _check_id(experiment_id)
  checks = _CHECKS[experiment_id](results)
  return {"id": experiment_id,
          "supported": bool(checks) and all(c["passed"] for c in checks),
          "checks": checks}


def _results_by_id(claim: str, experiment_results) -> dict:
  by_id = {}
  for results in experiment_results:
    experiment_id = results.get("id")
    _check_id(experiment_id)
    if experiment_id not in EXPERIMENTS_BY_CLAIM[claim]:
      raise ValueError(f"Experiment {experiment_id!r} is not part of claim "
                       f"{claim!r} ({', '.join(EXPERIMENTS_BY_CLAIM[claim])}).")
    if experiment_id in by_id:
      raise ValueError(f"Experiment {experiment_id!r} is given twice.")
    by_id[experiment_id] = results
  return by_id


def claim_verdict(claim: str, experiment_results: list, *, profile: str,
                  dataset: str, seeds: int, figures: dict) -> dict:
  """The verdict on one claim from its experiments' results.

  Args:
    claim: "1" to "4".
    experiment_results: results dicts of the claim's experiments; an
      experiment without results is evaluated as empty, so it fails.
    profile: the run profile ("smoke", "quick", "paper").
    dataset: the dataset the runs used.
    seeds: the number of seeds per config.
    figures: experiment id -> figure paths (relative to the report's folder).

  Returns:
    {"claim", "supported", "profile", "dataset", "seeds", "experiments"},
    each experiment {"id", "supported", "checks", "figures"}; the claim is
    supported when all its experiments are.

  Raises:
    ValueError: unknown claim, or results of an experiment outside the claim
      or given twice.
  """
  claim = str(claim)
  if claim not in EXPERIMENTS_BY_CLAIM:
    raise ValueError(f"Unknown claim {claim!r}; known: "
                     f"{', '.join(EXPERIMENTS_BY_CLAIM)}.")
  by_id = _results_by_id(claim, experiment_results)
  experiments = []
  for experiment_id in EXPERIMENTS_BY_CLAIM[claim]:
    verdict = evaluate_experiment(by_id.get(experiment_id,
                                            {"id": experiment_id}))
    verdict["figures"] = [str(f) for f in (figures or {}).get(experiment_id,
                                                              [])]
    experiments.append(verdict)
  return {
      "claim": claim,
      "supported": all(e["supported"] for e in experiments),
      "profile": profile,
      "dataset": dataset,
      "seeds": int(seeds),
      "experiments": experiments,
  }


# ---------------------------------------------------------------------------
# Writing files.


def _atomic_write(path: str, data) -> None:
  fileio.atomic_write(path, data)


def _write_json(path: str, obj) -> None:
  fileio.write_json(path, obj)


# ---------------------------------------------------------------------------
# Figures.


def _step_matrix(seeds, key):
  """(steps, [n_seeds, n_steps] values) over the union of the seeds' steps."""
  steps = sorted({s for records in seeds for s in
                  (_as_float(r.get("step")) for r in records)
                  if not math.isnan(s)})
  if not steps:
    return None, None
  column = {s: j for j, s in enumerate(steps)}
  matrix = np.full((len(seeds), len(steps)), np.nan)
  for i, records in enumerate(seeds):
    for r in records:
      step = _as_float(r.get("step"))
      if not math.isnan(step):
        matrix[i, column[step]] = _as_float(r.get(key))
  if np.isnan(matrix).all():
    return None, None
  return np.array(steps), matrix


def _mean_sd(matrix: np.ndarray):
  """Per-column mean and sample sd over the finite entries (sd 0 if < 2)."""
  finite = ~np.isnan(matrix)
  count = finite.sum(axis=0)
  filled = np.where(finite, matrix, 0.0)
  with np.errstate(invalid="ignore", divide="ignore"):
    mean = np.where(count > 0, filled.sum(axis=0) / count, np.nan)
    squares = np.where(finite, (matrix - mean) ** 2, 0.0).sum(axis=0)
    sd = np.where(count > 1, np.sqrt(squares / (count - 1)), 0.0)
  return mean, sd


def _curve(ax, results, config, key, *, label, color) -> bool:
  """Plots mean ± sd over seeds of `key` vs step; False when no data."""
  seeds = _seed_records(results, config)
  if seeds is None:
    return False
  steps, matrix = _step_matrix(seeds, key)
  if steps is None:
    return False
  mean, sd = _mean_sd(matrix)
  ax.plot(steps, mean, color=color, label=label, marker="o", markersize=2.5,
          linewidth=1.2)
  ax.fill_between(steps, mean - sd, mean + sd, color=color, alpha=0.2,
                  linewidth=0)
  return True


def _baseline_line(ax, results) -> None:
  baseline = _finite_or_none(results.get("baseline"))
  if baseline is not None:
    ax.axhline(baseline, color="0.4", linestyle="--", linewidth=1.0,
               label="pixel baseline")


def _finish_axes(ax, *, title, xlabel, ylabel, drew) -> None:
  ax.set_title(title, fontsize=10)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  if not drew:
    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center",
            va="center", color="0.5")
  if ax.get_legend_handles_labels()[0]:
    ax.legend(fontsize=8)
  ax.grid(True, alpha=0.3)


def _new_figure(nrows: int, ncols: int, suptitle: str):
  # pylint: disable=g-import-not-at-top
  from matplotlib.backends import backend_agg
  from matplotlib import figure as mpl_figure
  # Figure + Agg canvas directly: no pyplot state, works headless.
  fig = mpl_figure.Figure(figsize=(4.2 * ncols, 3.4 * nrows), dpi=_FIGURE_DPI,
                          layout="constrained")
  backend_agg.FigureCanvasAgg(fig)
  axes = fig.subplots(nrows, ncols, squeeze=False)
  fig.suptitle(suptitle)
  return fig, axes


def _save_figure(fig, out_dir: str, name: str) -> str:
  buffer = io.BytesIO()
  # No "Software" metadata: the bytes depend on the data only.
  fig.savefig(buffer, format="png", dpi=_FIGURE_DPI,
              metadata={"Software": None})
  fig.clear()
  _atomic_write(os.path.join(out_dir, name), buffer.getvalue())
  return name


_BOUND_COLORS = {"nce": "tab:blue", "nwj": "tab:orange"}
_CRITIC_COLORS = {"bilinear": "tab:blue", "separable": "tab:green",
                  "concat": "tab:red"}
_ENCODER_COLORS = {"mlp": "tab:purple", "convnet": "tab:green"}
_SAMPLING_COLORS = {"noniid": "tab:red", "iid": "tab:blue"}
_BOUND_NAMES = {"nce": "I_NCE", "nwj": "I_NWJ"}


def _plot_bound_curves(axes, results):
  """Test I_EST and probe accuracy against step, one curve per bound."""
  for ax, key in zip(axes, ("test_mi", "accuracy")):
    drew = False
    for bound in BOUNDS:
      drew |= _curve(ax, results, bound, key, label=_BOUND_NAMES[bound],
                     color=_BOUND_COLORS[bound])
    if key == "accuracy":
      _baseline_line(ax, results)
    _finish_axes(ax, title=METRIC_LABELS[key], xlabel="step",
                 ylabel=METRIC_LABELS[key], drew=drew)


def _plot_fig1ab(results, out_dir):
  fig, axes = _new_figure(1, 2, "Fig. 1a–b: invertible RealNVP encoders")
  _plot_bound_curves(axes[0], results)
  return [_save_figure(fig, out_dir, "fig1ab.png")]


def _plot_fig1c(results, out_dir):
  fig, axes = _new_figure(1, 2, "Fig. 1c: adversarially trained RealNVP")
  ax = axes[0, 0]
  drew = _curve(ax, results, "adversarial", "accuracy", label="encoder",
                color="tab:red")
  _baseline_line(ax, results)
  _finish_axes(ax, title="linear-probe accuracy",
               xlabel="adversarial iteration", ylabel="linear-probe accuracy",
               drew=drew)
  # Invertibility in float32 along the way, against the verdict's threshold.
  ax = axes[0, 1]
  drew = _curve(ax, results, "adversarial", "inverse_error", label="encoder",
                color="tab:red")
  if drew:
    ax.set_yscale("log")
    ax.axhline(MAX_INVERSE_ERROR, color="0.4", linestyle="--", linewidth=1.0,
               label="verdict threshold")
  _finish_axes(ax, title="max |g⁻¹(g(x)) − x|", xlabel="adversarial iteration",
               ylabel="inverse error", drew=drew)
  return [_save_figure(fig, out_dir, "fig1c.png")]


def _percentile_bands(ax, results, config, color) -> bool:
  """Fig. 2c: p10–p90 shaded, p25–p75 darker, p50 line (means over seeds)."""
  seeds = _seed_records(results, config)
  if seeds is None:
    return False
  curves = {}
  for p in (10, 25, 50, 75, 90):
    steps, matrix = _step_matrix(seeds, f"log_kappa_p{p}")
    if steps is not None:
      curves[p] = (steps, _mean_sd(matrix)[0])
  for low, high, alpha in ((10, 90, 0.15), (25, 75, 0.35)):
    if low in curves and high in curves and len(curves[low][0]) == len(
        curves[high][0]):
      ax.fill_between(curves[low][0], curves[low][1], curves[high][1],
                      color=color, alpha=alpha, linewidth=0,
                      label=f"p{low}–p{high}")
  if 50 in curves:
    ax.plot(*curves[50], color=color, marker="o", markersize=2.5, label="p50")
  return bool(curves)


def _plot_fig2(results, out_dir):
  fig, axes = _new_figure(1, 4, "Fig. 2: MLP with skip connections")
  _plot_bound_curves(axes[0][:2], results)
  for ax, bound in zip(axes[0][2:], BOUNDS):
    drew = _percentile_bands(ax, results, bound, _BOUND_COLORS[bound])
    _finish_axes(ax, title=f"log condition number, {_BOUND_NAMES[bound]}",
                 xlabel="step", ylabel="log κ (nats)", drew=drew)
  return [_save_figure(fig, out_dir, "fig2.png")]


def _plot_fig3(results, out_dir):
  fig, axes = _new_figure(2, 2, "Fig. 3: critics")
  for row, key in enumerate(("accuracy", "test_mi")):
    for col, bound in enumerate(BOUNDS):
      ax = axes[row, col]
      drew = False
      for critic in CRITICS:
        drew |= _curve(ax, results, fig3_config(critic, bound), key,
                       label=critic, color=_CRITIC_COLORS[critic])
      if key == "accuracy":
        _baseline_line(ax, results)
      _finish_axes(ax, title=f"{_BOUND_NAMES[bound]}: {METRIC_LABELS[key]}",
                   xlabel="step", ylabel=METRIC_LABELS[key], drew=drew)
  return [_save_figure(fig, out_dir, "fig3.png")]


def _plot_fig4ab(results, out_dir):
  panels = [(b, t) for b in BOUNDS for t in TARGETS]
  fig, axes = _new_figure(2, len(panels),
                          "Fig. 4a–b: encoders at matched I_EST")
  for col, (bound, t) in enumerate(panels):
    for row, key in enumerate(("accuracy", "test_mi")):
      ax = axes[row, col]
      drew = False
      for encoder in ENCODERS:
        drew |= _curve(ax, results, fig4ab_config(encoder, bound, t), key,
                       label=encoder, color=_ENCODER_COLORS[encoder])
      if key == "test_mi":
        ax.axhline(t, color="0.4", linestyle="--", linewidth=1.0,
                   label=f"target t={t:g}")
      else:
        _baseline_line(ax, results)
      _finish_axes(ax, title=f"{_BOUND_NAMES[bound]}, t={t:g}",
                   xlabel="step", ylabel=METRIC_LABELS[key], drew=drew)
  return [_save_figure(fig, out_dir, "fig4ab.png")]


def _plot_fig4c(results, out_dir):
  fig, axes = _new_figure(1, 2, "Fig. 4c: iid vs non-iid samples")
  true_mi = _finite_or_none(results.get("true_mi"))
  for ax, bound in zip(axes[0], BOUNDS):
    drew = False
    for sampling in SAMPLINGS:
      drew |= _curve(ax, results, fig4c_config(sampling, bound), "estimate",
                     label=sampling.replace("noniid", "non-iid"),
                     color=_SAMPLING_COLORS[sampling])
    if true_mi is not None:
      ax.axhline(true_mi, color="black", linestyle="--", linewidth=1.0,
                 label="true MI")
    _finish_axes(ax, title=_BOUND_NAMES[bound], xlabel="step",
                 ylabel=METRIC_LABELS["estimate"], drew=drew)
  return [_save_figure(fig, out_dir, "fig4c.png")]


def _plot_kpair(results, out_dir):
  fig, axes = _new_figure(1, 1, "Sec. 4: I_NCE, K-pair and triplet")
  ax = axes[0, 0]
  labels = ("I_NCE", "K-pair", "triplet")
  means, sds = [], []
  for name in KPAIR_ACCURACIES:
    values = _scalar(results, name)
    values = values[~np.isnan(values)] if values is not None else np.array([])
    means.append(float(values.mean()) if values.size else 0.0)
    sds.append(float(values.std(ddof=1)) if values.size > 1 else 0.0)
  x = np.arange(len(labels))
  ax.bar(x, means, yerr=sds, capsize=4, color="tab:blue", alpha=0.8)
  ax.set_xticks(x, labels)
  ax.set_ylim(0.0, 1.0)
  _baseline_line(ax, results)
  _finish_axes(ax, title="linear-probe accuracy", xlabel="objective",
               ylabel="linear-probe accuracy", drew=any(means))
  return [_save_figure(fig, out_dir, "kpair.png")]


_PLOTS = {
    "fig1ab": _plot_fig1ab,
    "fig1c": _plot_fig1c,
    "fig2": _plot_fig2,
    "fig3": _plot_fig3,
    "fig4ab": _plot_fig4ab,
    "kpair": _plot_kpair,
    "fig4c": _plot_fig4c,
}


def plot_experiment(results: dict, out_dir: str) -> list:
  """Draws an experiment's figures after the paper's.

  Curves are the mean over seeds with a ± 1 sample-sd band, one line per
  config; missing configs are left out and an empty panel says "no data".

  Args:
    results: the experiment's results dict.
    out_dir: folder for the PNG files (created if needed).

  Returns:
    The figure file names, relative to `out_dir` (e.g. ["fig3.png"]).

  Raises:
    ValueError: unknown experiment id.
  """
  experiment_id = results.get("id")
  _check_id(experiment_id)
  fileio.makedirs(out_dir)
  return _PLOTS[experiment_id](results, out_dir)


# ---------------------------------------------------------------------------
# Markdown.


def _verdict_word(supported: bool) -> str:
  return "supported" if supported else "not supported"


def _fmt(x, spec=".4g") -> str:
  x = _finite_or_none(x)
  return "missing" if x is None else format(x, spec)


def _cell(text) -> str:
  return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header, rows) -> list:
  lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
  return lines


def _mean_sd_text(values) -> str:
  """ "mean ± sd" over the finite per-seed values, noting missing seeds."""
  if values is None or not values.size:
    return "missing"
  finite = values[~np.isnan(values)]
  if not finite.size:
    return "missing"
  text = _fmt(finite.mean())
  if finite.size > 1:
    text += f" ± {finite.std(ddof=1):.2g}"
  if finite.size < values.size:
    text += f" ({finite.size}/{values.size} seeds)"
  return text


def _numbers_lines(experiment_id, results) -> list:
  if results is None:
    return ["No results were recorded for this experiment."]
  lines = []
  if experiment_id == "kpair":
    rows = []
    for name in ("identity_gap",) + KPAIR_ACCURACIES:
      values = _scalar(results, name)
      rows.append([name, "0" if values is None else str(values.size),
                   _mean_sd_text(values),
                   ", ".join(_fmt(v) for v in (values if values is not None
                                              else []))])
    lines += _table(["scalar", "seeds", "mean ± sd", "per seed"], rows)
  else:
    smoothed = experiment_id == "fig4c"
    header = ["config", "metric", "seeds", "step 0", "final",
              "max over evaluations"]
    if smoothed:
      header.append("smoothed final (last 10%)")
    configs = list(expected_configs(experiment_id))
    configs += sorted(set(results.get("runs") or {}) - set(configs))
    rows = []
    for config in configs:
      seeds = _seed_records(results, config)
      for key in _TABLE_METRICS[experiment_id]:
        if seeds is None:
          rows.append([config, METRIC_LABELS[key], "0"] +
                      ["missing"] * (len(header) - 3))
          continue
        row = [config, METRIC_LABELS[key], str(len(seeds))]
        hows = ("first", "final", "max") + (("smoothed",) if smoothed else ())
        row += [_mean_sd_text(per_seed(results, config, key, how))
                for how in hows]
        rows.append(row)
    lines += _table(header, rows)
  baseline = results.get("baseline")
  if baseline is not None:
    lines += ["", f"Pixel baseline (linear probe on raw pixels): "
              f"{_fmt(baseline)}."]
  if experiment_id == "fig4c":
    lines += ["", f"True MI: {_fmt(results.get('true_mi'))} nats. The smoothed "
              "final estimate of a seed is the mean of its last "
              "max(1, ceil(10%)) estimates."]
  return lines


def _checks_lines(checks) -> list:
  rows = []
  for c in checks:
    rows.append([c["name"], _fmt(c["value"]),
                 "—" if c.get("stderr") is None else _fmt(c["stderr"], ".2g"),
                 f"{c['op']} {c['threshold']:g}",
                 "pass" if c["passed"] else "FAIL"])
  return _table(["check", "value", "stderr", "required", "result"], rows)


def _figure_link(figure: str, report_dir: str) -> str:
  if os.path.isabs(figure) and "://" not in (report_dir or "."):
    figure = os.path.relpath(figure, os.path.abspath(report_dir or "."))
  return figure.replace(os.sep, "/")


TIMING_KEYS = ("train_seconds", "eval_seconds", "compile_seconds")


def compute_time(experiment_results: list) -> dict:
  """Seconds spent training, evaluating and compiling.

  Records carry the time since the previous evaluation. Runs trained in one
  program (the seeds of a group; fig4c's every configuration) share their
  program's times, so identical (step, times) entries of an experiment are
  counted once.
  """
  totals = dict.fromkeys(TIMING_KEYS, 0.0)
  for results in experiment_results:
    seen = set()
    for seeds in (results.get("runs") or {}).values():
      for records in seeds:
        for record in records or []:
          times = tuple(_finite_or_none((record or {}).get(k)) or 0.0
                        for k in TIMING_KEYS)
          key = ((record or {}).get("step"),) + times
          if key in seen:
            continue
          seen.add(key)
          for name, value in zip(TIMING_KEYS, times):
            totals[name] += value
  spent = sum(totals.values())
  totals["eval_fraction"] = totals["eval_seconds"] / spent if spent else None
  return totals


def _compute_lines(timing: dict) -> list:
  if not timing or timing.get("eval_fraction") is None:
    return []
  return ["", "## Compute", "",
          f"Training {timing['train_seconds']:.0f} s, evaluation "
          f"{timing['eval_seconds']:.0f} s ({100 * timing['eval_fraction']:.0f}%"
          f" of the total), compilation {timing['compile_seconds']:.0f} s "
          "(wall time of the training programs, each counted once)."]


def write_report(claim_verdict: dict,  # pylint: disable=redefined-outer-name
                 experiment_results: list, path: str) -> None:
  """Writes a claim's Markdown report.

  Per experiment: the paper's statement, our numbers (mean ± sample sd over
  seeds at step 0 and at the end), every check with its value, threshold and
  result, the verdict, and the figures (linked relative to the report's
  folder; absolute figure paths are made relative to it).

  Args:
    claim_verdict: the output of `claim_verdict`.
    experiment_results: the results dicts the verdict was computed from.
    path: where to write report.md.
  """
  by_id = {r.get("id"): r for r in experiment_results}
  report_dir = os.path.dirname(path)
  claim = claim_verdict["claim"]
  lines = [
      f"# Claim {claim}: {_verdict_word(claim_verdict['supported'])}",
      "",
      CLAIM_STATEMENTS.get(claim, ""),
      "",
      f"Profile `{claim_verdict['profile']}`, dataset "
      f"`{claim_verdict['dataset']}`, {claim_verdict['seeds']} seed(s). "
      "Numbers are mean ± sample sd over seeds; a check compares the mean "
      "over seeds (stderr: sd / sqrt(n) of the per-seed values or "
      "differences).",
      "",
  ]
  lines += _table(["experiment", "verdict"],
                  [[e["id"], _verdict_word(e["supported"])]
                   for e in claim_verdict["experiments"]])
  for experiment in claim_verdict["experiments"]:
    experiment_id = experiment["id"]
    verdict_word = _verdict_word(experiment["supported"])
    lines += ["", f"## {experiment_id}: {verdict_word}",
              "", f"**The paper:** {PAPER_STATEMENTS.get(experiment_id, '')}",
              "", "### Our numbers", ""]
    lines += _numbers_lines(experiment_id, by_id.get(experiment_id))
    lines += ["", "### Checks", ""]
    lines += _checks_lines(experiment["checks"])
    failed = [c["name"] for c in experiment["checks"] if not c["passed"]]
    verdict = f"**Verdict: {verdict_word}.**"
    if failed:
      verdict += " Failed: " + "; ".join(failed) + "."
    lines += ["", verdict]
    figures = experiment.get("figures") or []
    if figures:
      lines += [""] + [f"![{experiment_id}]({_figure_link(f, report_dir)})"
                       for f in figures]
  lines += _compute_lines(compute_time(experiment_results))
  _atomic_write(path, "\n".join(lines) + "\n")


def _common(claim_verdicts, key):
  values = {json.dumps(v.get(key)) for v in claim_verdicts}
  return claim_verdicts[0].get(key) if len(values) == 1 else None


def write_summary(claim_verdicts: list, json_path: str, md_path: str) -> None:
  """Writes the cross-claim summary as JSON and as a Markdown table.

  Args:
    claim_verdicts: outputs of `claim_verdict`, one per claim.
    json_path: where to write summary.json: {"claims": [{"claim",
      "supported", "experiments": {id: supported}}], "supported", "profile",
      "dataset", "seeds"}. "supported" is True only if there is at least one
      claim and all are supported; profile/dataset/seeds are None when the
      claims disagree.
    md_path: where to write summary.md.
  """
  claims = [{"claim": v["claim"], "supported": bool(v["supported"]),
             "experiments": {e["id"]: bool(e["supported"])
                             for e in v["experiments"]}}
            for v in claim_verdicts]
  summary = {
      "claims": claims,
      "supported": bool(claims) and all(c["supported"] for c in claims),
      "profile": _common(claim_verdicts, "profile") if claims else None,
      "dataset": _common(claim_verdicts, "dataset") if claims else None,
      "seeds": _common(claim_verdicts, "seeds") if claims else None,
  }
  _write_json(json_path, summary)
  rows = [[c["claim"], CLAIM_STATEMENTS.get(c["claim"], ""),
           ", ".join(f"{i}: {_verdict_word(s)}"
                     for i, s in c["experiments"].items()),
           _verdict_word(c["supported"])] for c in claims]
  lines = [f"# Summary: {_verdict_word(summary['supported'])}", "",
           f"Profile `{summary['profile']}`, dataset `{summary['dataset']}`, "
           f"{summary['seeds']} seed(s).", ""]
  lines += _table(["claim", "statement", "experiments", "verdict"], rows)
  _atomic_write(md_path, "\n".join(lines) + "\n")
