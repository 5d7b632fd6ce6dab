"""Command-line tests: python -m infomax_tf.main in a subprocess."""

import json

from tests import cli


run_main = cli.run_main


def test_helpfull_lists_the_flags():
  result = run_main("--helpfull")  # absl exits 1 after printing help.
  assert "Traceback" not in result.stderr
  for flag in ("--claim", "--profile", "--workdir", "--seeds", "--dataset",
               "--data_dir", "--view", "--[no]baseline"):
    assert flag in result.stdout


def test_baseline_prints_and_writes_the_record(tmp_path):
  workdir = tmp_path / "runs"
  result = run_main("--baseline", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr
  record = json.loads((workdir / "baseline.json").read_text())
  assert {"dataset", "view", "n_train", "n_test", "accuracy"} <= set(record)
  # The quick profile (the default) runs on the embedded MNIST-5k.
  assert record["dataset"] == "mnist5k"
  assert (record["n_train"], record["n_test"]) == (4000, 1000)
  assert 0.75 <= record["accuracy"] <= 0.85
  assert f"accuracy {record['accuracy']:.4f}" in result.stdout


def test_explicit_flags_override_the_profile(tmp_path):
  # --profile=paper sets --dataset=mnist; the explicit flag wins, and the
  # idx dataset without --data_dir fails with a one-line error naming it.
  result = run_main("--baseline", "--profile=paper", "--dataset=idx",
                    f"--workdir={tmp_path}")
  assert result.returncode != 0
  assert "infomax_tf: error: dataset 'idx' needs" in result.stderr
  assert "Traceback" not in result.stderr


def test_no_action_is_a_usage_error():
  result = run_main()
  assert result.returncode != 0
  assert "--claim" in result.stderr


def test_the_paper_flagfile_is_the_protocol_the_defaults_encode():
  """flags/paper/profile.flags spells out config.Settings' defaults."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  from infomax_tf import config  # pylint: disable=g-import-not-at-top
  from tests import conftest  # pylint: disable=g-import-not-at-top
  path = os.path.join(conftest.REPO_ROOT, "flags", "paper", "profile.flags")
  values = dict(line.strip()[2:].split("=", 1) for line in open(path)
                if line.startswith("--"))
  defaults = config.Settings()
  assert values.pop("dataset") == defaults.data.dataset
  for name, text in values.items():
    default = getattr(defaults, name)
    if isinstance(default, tuple):
      parsed = tuple(type(default[0])(v) for v in text.split(","))
    else:
      parsed = type(default)(float(text) if isinstance(default, int) and
                             "e" in text else text)
    assert parsed == default, name
  fields = {f.name for f in dataclasses.fields(config.Settings)}
  assert set(values) <= fields
