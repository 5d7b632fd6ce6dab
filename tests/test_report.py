"""Tests for infomax_tf.report: verdicts, figures and Markdown/JSON reports.

Every check of every experiment gets a supported case (the "good" synthetic
results) and an unsupported case (a mutation that breaks exactly that check).
"""

import copy
import json
import math
import os

import pytest

from infomax_tf import report

STEPS = (0, 1, 2)
N_SEEDS = 2


def _records(spec, seed):
  """Records over STEPS from {metric: (first, final)} or {metric: value}.

  The middle step is the average of the ends; each seed is shifted by
  0.01 * seed, which cancels in per-seed differences.
  """
  records = []
  for i, step in enumerate(STEPS):
    record = {"step": step}
    for key, value in spec.items():
      first, final = value if isinstance(value, tuple) else (value, value)
      record[key] = first + (final - first) * i / (len(STEPS) - 1)
      if key not in ("inverse_error",):
        record[key] += 0.01 * seed
    records.append(record)
  return records


def _runs(specs):
  return {config: [_records(spec, s) for s in range(N_SEEDS)]
          for config, spec in specs.items()}


def _set(results, config, key, first, final):
  for records in results["runs"][config]:
    records[0][key], records[-1][key] = first, final
    records[1][key] = (first + final) / 2


def _good(experiment_id):
  """Synthetic results for which every check of the experiment passes."""
  results = {"id": experiment_id, "baseline": 0.80, "scalars": {},
             "true_mi": None}
  if experiment_id == "fig1ab":
    spec = {"test_mi": (-1.0, 2.0), "accuracy": (0.80, 0.85),
            "inverse_error": 1e-6}
    results["runs"] = _runs({"nce": spec, "nwj": spec})
  elif experiment_id == "fig1c":
    results["runs"] = _runs({"adversarial": {"accuracy": (0.80, 0.40),
                                             "inverse_error": 1e-5}})
  elif experiment_id == "fig2":
    spec = {"test_mi": (0.0, 3.0), "accuracy": (0.80, 0.85)}
    spec.update({f"log_kappa_p{p}": (0.01 * p, 0.01 * p + 2.0)
                 for p in (0, 10, 25, 50, 75, 90, 100)})
    results["runs"] = _runs({"nce": spec, "nwj": spec})
  elif experiment_id == "fig3":
    specs = {}
    for bound in report.BOUNDS:
      specs[f"bilinear_{bound}"] = {"accuracy": (0.7, 0.89),
                                    "test_mi": (0.0, 1.0)}
      specs[f"separable_{bound}"] = {"accuracy": (0.7, 0.87),
                                     "test_mi": (0.0, 1.5)}
      specs[f"concat_{bound}"] = {"accuracy": (0.7, 0.84),
                                  "test_mi": (0.0, 2.0)}
    results["runs"] = _runs(specs)
  elif experiment_id == "fig4ab":
    specs = {}
    for bound in report.BOUNDS:
      for t in report.TARGETS:
        specs[f"mlp_{bound}_t{t:g}"] = {"accuracy": (0.7, 0.82),
                                        "test_mi": (0.0, t)}
        specs[f"convnet_{bound}_t{t:g}"] = {"accuracy": (0.7, 0.91),
                                            "test_mi": (0.0, t + 0.1)}
    results["runs"] = _runs(specs)
  elif experiment_id == "kpair":
    results["scalars"] = {"identity_gap": [1e-7, 2e-7],
                          "accuracy_nce": [0.85, 0.86],
                          "accuracy_kpair": [0.8502, 0.861],
                          "accuracy_triplet": [0.83, 0.84]}
    results["runs"] = {}
  elif experiment_id == "fig4c":
    results["true_mi"] = 0.0204
    results["runs"] = _runs({
        "noniid_nce": {"estimate": (0.0, 0.20)},
        "noniid_nwj": {"estimate": (0.0, 0.10)},
        "iid_nce": {"estimate": (0.0, 0.02)},
        "iid_nwj": {"estimate": (0.0, 0.02)},
    })
  else:
    raise ValueError(experiment_id)
  return results


def _spike_inverse_error(config):
  def mutate(results):
    results["runs"][config][1][1]["inverse_error"] = 2e-3  # Seed 1, mid-run.
  return mutate


def _mutations():
  """(experiment id, check name, mutation that breaks only that check)."""
  cases = []
  for bound in report.BOUNDS:
    cases += [
        ("fig1ab", f"{bound}: Δ test I_EST (final − step 0)",
         lambda r, b=bound: _set(r, b, "test_mi", -1.0, -0.6)),
        ("fig1ab", f"{bound}: Δ linear-probe accuracy (final − step 0)",
         lambda r, b=bound: _set(r, b, "accuracy", 0.80, 0.805)),
        ("fig1ab", f"{bound}: max inverse error (all evaluations and seeds)",
         _spike_inverse_error(bound)),
        ("fig2", f"{bound}: Δ median log κ (final − step 0)",
         lambda r, b=bound: _set(r, b, "log_kappa_p50", 0.5, 1.4)),
        ("fig2", f"{bound}: Δ linear-probe accuracy (final − step 0)",
         lambda r, b=bound: _set(r, b, "accuracy", 0.85, 0.84)),
        ("fig4c", f"{bound}: smoothed non-iid estimate − true MI",
         lambda r, b=bound: _set(r, f"noniid_{b}", "estimate", 0.0, 0.06)),
        ("fig4c", f"{bound}: smoothed iid estimate − true MI",
         lambda r, b=bound: _set(r, f"iid_{b}", "estimate", 0.0, 0.08)),
    ]
    for critic in ("bilinear", "separable"):
      cases.append((
          "fig3", f"{bound}: final accuracy {critic} − concat",
          lambda r, b=bound, c=critic: _set(r, f"{c}_{b}", "accuracy", 0.7,
                                            0.83)))
    for t in report.TARGETS:
      for encoder in report.ENCODERS:
        cases.append((
            "fig4ab", f"{bound}, t={t:g}: {encoder} abs(final test I_EST − t)",
            lambda r, b=bound, t=t, e=encoder: _set(
                r, f"{e}_{b}_t{t:g}", "test_mi", 0.0, t - 0.6)))
      cases.append((
          "fig4ab", f"{bound}, t={t:g}: final accuracy convnet − mlp",
          lambda r, b=bound, t=t: _set(r, f"convnet_{b}_t{t:g}", "accuracy",
                                       0.7, 0.83)))
  cases += [
      ("fig1c", "linear-probe accuracy drop (step 0 − final)",
       lambda r: _set(r, "adversarial", "accuracy", 0.80, 0.65)),
      ("fig1c", "max inverse error (all evaluations and seeds)",
       _spike_inverse_error("adversarial")),
      ("fig3", "nwj: highest test I_NWJ concat − bilinear",
       lambda r: _set(r, "concat_nwj", "test_mi", 0.0, 0.9)),
      ("kpair", "max over seeds of abs(I_NCE − (log K − L_Kpair))",
       lambda r: r["scalars"]["identity_gap"].__setitem__(1, 1e-4)),
      ("kpair", "seed 0: abs(accuracy I_NCE − accuracy K-pair)",
       lambda r: r["scalars"]["accuracy_kpair"].__setitem__(0, 0.853)),
      ("kpair", "mean triplet accuracy − pixel baseline",
       lambda r: r.__setitem__("baseline", 0.84)),
  ]
  return cases


MUTATIONS = _mutations()
IDS = [i for ids in report.EXPERIMENTS_BY_CLAIM.values() for i in ids]


def _by_name(verdict):
  return {c["name"]: c for c in verdict["checks"]}


@pytest.mark.parametrize("experiment_id", IDS)
def test_every_check_has_a_failing_case(experiment_id):
  names = set(_by_name(report.evaluate_experiment(_good(experiment_id))))
  assert names == {n for i, n, _ in MUTATIONS if i == experiment_id}


@pytest.mark.parametrize("experiment_id,name,mutate", MUTATIONS,
                         ids=[f"{i}:{n}" for i, n, _ in MUTATIONS])
def test_check_supported_case(experiment_id, name, mutate):
  del mutate
  verdict = report.evaluate_experiment(_good(experiment_id))
  check = _by_name(verdict)[name]
  assert check["passed"] and check["value"] is not None
  assert verdict["supported"]


@pytest.mark.parametrize("experiment_id,name,mutate", MUTATIONS,
                         ids=[f"{i}:{n}" for i, n, _ in MUTATIONS])
def test_check_unsupported_case(experiment_id, name, mutate):
  results = _good(experiment_id)
  mutate(results)
  verdict = report.evaluate_experiment(results)
  failed = {c["name"] for c in verdict["checks"] if not c["passed"]}
  assert failed == {name}  # Exactly this check breaks.
  assert _by_name(verdict)[name]["value"] is not None
  assert not verdict["supported"]


@pytest.mark.parametrize("experiment_id", IDS)
def test_check_schema_is_json_plain(experiment_id):
  verdict = report.evaluate_experiment(_good(experiment_id))
  assert set(verdict) == {"id", "supported", "checks"}
  for check in verdict["checks"]:
    assert set(check) == {"name", "value", "stderr", "threshold", "op",
                          "passed"}
    assert check["op"] in (">=", ">", "<=", "<")
    # Plain floats, not numpy scalars.
    assert type(check["value"]) is float
    assert type(check["threshold"]) is float
    assert isinstance(check["passed"], bool)
  json.dumps(verdict, allow_nan=False)


@pytest.mark.parametrize("experiment_id", IDS)
def test_no_data_fails_every_check_with_null_value(experiment_id):
  for results in ({"id": experiment_id},
                  {"id": experiment_id, "runs": {}, "baseline": None,
                   "scalars": {}, "true_mi": None}):
    verdict = report.evaluate_experiment(results)
    assert verdict["checks"] and not verdict["supported"]
    for check in verdict["checks"]:
      assert check["value"] is None and check["passed"] is False


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), "x"])
def test_missing_or_non_finite_metric_fails_only_its_checks(bad):
  results = _good("fig1ab")
  results["runs"]["nce"][1][-1]["test_mi"] = bad  # Seed 1, final record.
  verdict = report.evaluate_experiment(results)
  failed = [c for c in verdict["checks"] if not c["passed"]]
  assert [c["name"] for c in failed] == ["nce: Δ test I_EST (final − step 0)"]
  assert failed[0]["value"] is None and failed[0]["stderr"] is None


def test_max_over_evaluations_needs_every_evaluation():
  results = _good("fig1c")
  del results["runs"]["adversarial"][0][1]["inverse_error"]
  check = _by_name(report.evaluate_experiment(results))[
      "max inverse error (all evaluations and seeds)"]
  assert check["value"] is None and not check["passed"]


def test_missing_config_fails_the_checks_that_read_it():
  results = _good("fig3")
  del results["runs"]["concat_nwj"]
  verdict = report.evaluate_experiment(results)
  failed = {c["name"] for c in verdict["checks"] if not c["passed"]}
  assert failed == {"nwj: final accuracy bilinear − concat",
                    "nwj: final accuracy separable − concat",
                    "nwj: highest test I_NWJ concat − bilinear"}
  assert all(_by_name(verdict)[n]["value"] is None for n in failed)


def test_seed_without_records_fails():
  results = _good("fig2")
  results["runs"]["nwj"][1] = []
  failed = {c["name"] for c in report.evaluate_experiment(results)["checks"]
            if not c["passed"]}
  assert failed == {"nwj: Δ median log κ (final − step 0)",
                    "nwj: Δ linear-probe accuracy (final − step 0)"}


def test_missing_baseline_and_true_mi_fail():
  results = _good("kpair")
  results["baseline"] = None
  check = _by_name(report.evaluate_experiment(results))[
      "mean triplet accuracy − pixel baseline"]
  assert check["value"] is None and not check["passed"]
  results = _good("fig4c")
  results["true_mi"] = None
  assert all(c["value"] is None and not c["passed"]
             for c in report.evaluate_experiment(results)["checks"])


def test_inclusive_threshold_passes_at_equality_strict_one_does_not():
  results = _good("fig1ab")
  _set(results, "nce", "test_mi", -0.25, 0.25)  # Gain exactly 0.5: ">=".
  assert _by_name(report.evaluate_experiment(results))[
      "nce: Δ test I_EST (final − step 0)"]["passed"]
  results = _good("fig3")
  _set(results, "bilinear_nce", "accuracy", 0.7, 0.875)
  _set(results, "concat_nce", "accuracy", 0.7, 0.875)  # A tie fails ">".
  check = _by_name(report.evaluate_experiment(results))[
      "nce: final accuracy bilinear − concat"]
  assert check["value"] == 0.0 and not check["passed"]


def test_values_are_means_over_seeds_with_stderr_of_differences():
  results = _good("fig1ab")
  results["runs"]["nwj"][0][-1]["test_mi"] = 2.0 - 0.4  # Gains 2.6 and 3.0.
  check = _by_name(report.evaluate_experiment(results))[
      "nwj: Δ test I_EST (final − step 0)"]
  assert check["value"] == pytest.approx(2.8)
  assert check["stderr"] == pytest.approx(0.2)  # sd 0.2828 / sqrt(2).
  # One seed: no stderr.
  for config in results["runs"]:
    results["runs"][config] = results["runs"][config][:1]
  check = _by_name(report.evaluate_experiment(results))[
      "nwj: Δ test I_EST (final − step 0)"]
  assert check["value"] == pytest.approx(2.6) and check["stderr"] is None


def test_fig4ab_distance_is_of_the_mean_final_estimate():
  results = _good("fig4ab")
  # Seeds end at t − 0.3 and t + 0.3 (+ 0.01 shift): the mean is near t.
  results["runs"]["mlp_nce_t2"][0][-1]["test_mi"] = 1.7
  results["runs"]["mlp_nce_t2"][1][-1]["test_mi"] = 2.3
  check = _by_name(report.evaluate_experiment(results))[
      "nce, t=2: mlp abs(final test I_EST − t)"]
  assert check["value"] == pytest.approx(0.0, abs=1e-12)
  assert check["stderr"] == pytest.approx(0.3)


def test_kpair_accuracy_equality_uses_seed_zero_only():
  results = _good("kpair")
  results["scalars"]["accuracy_nce"] = [0.85, 0.50]
  results["scalars"]["accuracy_kpair"] = [0.85, 0.90]  # Seed 1 differs.
  check = _by_name(report.evaluate_experiment(results))[
      "seed 0: abs(accuracy I_NCE − accuracy K-pair)"]
  assert check["passed"] and check["value"] == 0.0 and check["stderr"] is None
  results["scalars"]["accuracy_nce"] = [0.50, 0.90]  # Seed 0 differs.
  results["scalars"]["accuracy_kpair"] = [0.85, 0.90]
  check = _by_name(report.evaluate_experiment(results))[
      "seed 0: abs(accuracy I_NCE − accuracy K-pair)"]
  assert not check["passed"] and check["value"] == pytest.approx(0.35)


@pytest.mark.parametrize("n,k", [(1, 1), (3, 1), (10, 1), (11, 2), (20, 2),
                                 (21, 3), (201, 21)])
def test_smoothed_final_estimate_averages_the_last_tenth(n, k):
  values = [1000.0] * (n - k) + [float(i) for i in range(k)]
  assert report.smoothed_final_estimate(values) == pytest.approx((k - 1) / 2)


def test_smoothed_final_estimate_missing():
  assert math.isnan(report.smoothed_final_estimate([]))
  assert math.isnan(report.smoothed_final_estimate([0.1] * 19 + [None]))
  assert report.smoothed_final_estimate([None] * 18 + [0.2, 0.4]) == (
      pytest.approx(0.3))


def test_fig4c_uses_the_smoothed_estimate():
  results = _good("fig4c")
  n = 20  # The last 2 records are averaged.
  for records in results["runs"]["noniid_nce"]:
    records[:] = [{"step": i, "estimate": 0.0} for i in range(n)]
    records[-2]["estimate"], records[-1]["estimate"] = 0.04, 0.20
  check = _by_name(report.evaluate_experiment(results))[
      "nce: smoothed non-iid estimate − true MI"]
  assert check["value"] == pytest.approx(0.12 - 0.0204)
  assert check["passed"]


def test_unknown_experiment_id():
  with pytest.raises(ValueError, match="Unknown experiment"):
    report.evaluate_experiment({"id": "fig9"})
  with pytest.raises(ValueError, match="Unknown experiment"):
    report.plot_experiment({"id": "fig9"}, "/nonexistent")


# ---------------------------------------------------------------------------
# Claims.


def _claim(claim, results, **overrides):
  kwargs = dict(profile="quick", dataset="mnist5k", seeds=N_SEEDS,
                figures={i: [f"{i}.png"] for i in IDS})
  kwargs.update(overrides)
  return report.claim_verdict(claim, results, **kwargs)


def test_claim_verdict_schema():
  verdict = _claim("1", [_good(i) for i in ("fig1ab", "fig1c", "fig2")])
  assert set(verdict) == {"claim", "supported", "profile", "dataset", "seeds",
                          "experiments"}
  assert verdict["claim"] == "1" and verdict["supported"] is True
  assert (verdict["profile"], verdict["dataset"], verdict["seeds"]) == (
      "quick", "mnist5k", N_SEEDS)
  assert [e["id"] for e in verdict["experiments"]] == ["fig1ab", "fig1c",
                                                       "fig2"]
  for experiment in verdict["experiments"]:
    assert set(experiment) == {"id", "supported", "checks", "figures"}
    assert experiment["figures"] == [f"{experiment['id']}.png"]
  json.dumps(verdict, allow_nan=False)


@pytest.mark.parametrize("claim", sorted(report.EXPERIMENTS_BY_CLAIM))
def test_claim_supported_only_if_every_experiment_is(claim):
  ids = report.EXPERIMENTS_BY_CLAIM[claim]
  assert _claim(claim, [_good(i) for i in ids])["supported"]
  for broken in ids:
    results = [_good(i) for i in ids]
    case = next(m for m in MUTATIONS if m[0] == broken)
    case[2](results[ids.index(broken)])
    verdict = _claim(claim, results)
    assert not verdict["supported"]
    assert {e["id"]: e["supported"] for e in verdict["experiments"]} == {
        i: i != broken for i in ids}


def test_claim_with_a_missing_experiment_is_not_supported():
  verdict = _claim("4", [_good("kpair")], figures={})
  assert not verdict["supported"]
  fig4c = verdict["experiments"][1]
  assert fig4c["id"] == "fig4c" and not fig4c["supported"]
  assert fig4c["figures"] == []
  assert all(c["value"] is None for c in fig4c["checks"])


def test_claim_verdict_rejects_bad_input():
  with pytest.raises(ValueError, match="Unknown claim"):
    _claim("5", [])
  with pytest.raises(ValueError, match="not part of claim"):
    _claim("2", [_good("fig3"), _good("fig2")])
  with pytest.raises(ValueError, match="twice"):
    _claim("2", [_good("fig3"), _good("fig3")])


# ---------------------------------------------------------------------------
# Figures and files.


@pytest.mark.parametrize("experiment_id", IDS)
def test_plot_experiment_writes_png(tmp_path, experiment_id):
  out_dir = str(tmp_path / "figures")  # Created on demand.
  paths = report.plot_experiment(_good(experiment_id), out_dir)
  assert paths and all(not os.path.isabs(p) for p in paths)
  for path in paths:
    with open(os.path.join(out_dir, path), "rb") as f:
      data = f.read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
  assert sorted(os.listdir(out_dir)) == sorted(paths)  # No temporaries left.


@pytest.mark.parametrize("experiment_id", IDS)
def test_plot_experiment_survives_missing_data(tmp_path, experiment_id):
  results = {"id": experiment_id,
             "runs": {c: [[{"step": 0, "accuracy": None}]]
                      for c in report.expected_configs(experiment_id)[:1]}}
  paths = report.plot_experiment(results, str(tmp_path))
  assert all(os.path.getsize(tmp_path / p) > 0 for p in paths)


def test_plots_are_deterministic(tmp_path):
  results = _good("fig2")
  first = report.plot_experiment(results, str(tmp_path / "a"))
  second = report.plot_experiment(copy.deepcopy(results), str(tmp_path / "b"))
  assert first == second == ["fig2.png"]
  assert ((tmp_path / "a" / "fig2.png").read_bytes()
          == (tmp_path / "b" / "fig2.png").read_bytes())


def test_write_report(tmp_path):
  results = [_good("kpair"), _good("fig4c")]
  mutation = {n: m for _, n, m in MUTATIONS}
  mutation["nwj: smoothed iid estimate − true MI"](results[1])
  figure_abs = str(tmp_path / "figs" / "fig4c.png")
  verdict = _claim("4", results,
                   figures={"kpair": ["kpair.png"], "fig4c": [figure_abs]})
  path = str(tmp_path / "report.md")
  report.write_report(verdict, results, path)
  text = open(path, encoding="utf-8").read()
  assert text.startswith("# Claim 4: not supported")
  assert "## kpair: supported" in text and "## fig4c: not supported" in text
  assert "**Verdict: supported.**" in text
  assert "**Verdict: not supported.** Failed: nwj: smoothed iid" in text
  for experiment in verdict["experiments"]:
    for check in experiment["checks"]:
      assert check["name"] in text
  assert report.PAPER_STATEMENTS["fig4c"] in text
  assert "![kpair](kpair.png)" in text
  assert "![fig4c](figs/fig4c.png)" in text  # Made relative to the report.
  assert "0.0204" in text  # The true MI.
  assert "accuracy_triplet" in text and "FAIL" in text
  assert os.listdir(tmp_path) == ["report.md"]  # No temporaries left.


def test_report_tables_show_mean_and_sd(tmp_path):
  results = [_good(i) for i in ("fig1ab", "fig1c", "fig2")]
  verdict = _claim("1", results)
  path = str(tmp_path / "sub" / "report.md")
  report.write_report(verdict, results, path)
  text = open(path, encoding="utf-8").read()
  # nce test_mi at step 0: seeds -1.0 and -0.99.
  assert "| nce | test I_EST (nats) | 2 | -0.995 ± 0.0071 |" in text
  assert "# Claim 1: supported" in text and "not supported" not in text


def test_paper_statements_cover_every_experiment():
  assert set(report.PAPER_STATEMENTS) == set(IDS)
  assert all(len(s) > 40 for s in report.PAPER_STATEMENTS.values())


def test_write_summary(tmp_path):
  verdicts = [
      _claim("2", [_good("fig3")]),
      _claim("3", []),  # No results: not supported.
  ]
  json_path, md_path = str(tmp_path / "summary.json"), str(tmp_path / "s.md")
  report.write_summary(verdicts, json_path, md_path)
  with open(json_path, encoding="utf-8") as f:
    summary = json.load(f)
  assert summary == {
      "claims": [
          {"claim": "2", "supported": True, "experiments": {"fig3": True}},
          {"claim": "3", "supported": False,
           "experiments": {"fig4ab": False}},
      ],
      "supported": False,
      "profile": "quick",
      "dataset": "mnist5k",
      "seeds": N_SEEDS,
  }
  text = open(md_path, encoding="utf-8").read()
  assert text.startswith("# Summary: not supported")
  assert "| claim | statement | experiments | verdict |" in text
  assert "| 2 |" in text and "fig4ab: not supported" in text
  report.write_summary(verdicts[:1], json_path, md_path)
  with open(json_path, encoding="utf-8") as f:
    assert json.load(f)["supported"] is True
  report.write_summary([], json_path, md_path)
  with open(json_path, encoding="utf-8") as f:
    assert json.load(f)["supported"] is False
  assert sorted(os.listdir(tmp_path)) == ["s.md", "summary.json"]


def test_compute_time_counts_a_seed_group_once():
  shared = {"step": 10, "train_seconds": 4.0, "eval_seconds": 1.0,
            "compile_seconds": 2.0}
  results = [{"id": "fig3", "runs": {
      "bilinear_nce": [[{"step": 0, "eval_seconds": 1.0}, shared],
                       [{"step": 0, "eval_seconds": 1.0}, dict(shared)]],
      "concat_nce": [[{"step": 0, "eval_seconds": 3.0, "train_seconds": None}]],
  }}]
  timing = report.compute_time(results)
  assert timing["train_seconds"] == 4.0
  assert timing["eval_seconds"] == 5.0
  assert timing["compile_seconds"] == 2.0
  assert timing["eval_fraction"] == pytest.approx(5.0 / 11.0)
  assert report.compute_time([])["eval_fraction"] is None


def test_inclusive_checks_absorb_float_representation_error():
  # 0.838 − 0.837 is one test image in 1,000, i.e. exactly the 1e-3 allowed.
  assert 0.838 - 0.837 > 1e-3
  assert report._check("k", (0.838 - 0.837, None), "<=", 1e-3)["passed"]  # pylint: disable=protected-access
  assert not report._check("k", (0.0011, None), "<=", 1e-3)["passed"]  # pylint: disable=protected-access
  assert report._check("k", (0.3 - 0.1, None), ">=", 0.2)["passed"]  # pylint: disable=protected-access
  assert not report._check("k", (0.0, None), ">", 0.0)["passed"]  # pylint: disable=protected-access
