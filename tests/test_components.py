"""Tests for the pipeline machinery: stage records, caching, resume, force."""

import os

import pytest

from infomax_tf import fileio
from pipelines import components
from pipelines import runner as runner_lib


class Counter:
  """Stages that count their executions and write a marker output."""

  def __init__(self):
    self.calls = []

  def stage(self, name, params=None, inputs=(), cache=True):
    def run(context, params):
      self.calls.append(name)
      upstream = {i: context.results[i] for i in inputs}
      fileio.atomic_write_text(context.path(name, "out.txt"), str(params))
      return {"name": name, "params": params, "upstream": upstream}
    return components.Stage(name, run, dict(params or {}), inputs=inputs,
                            outputs=(name,), cache=cache)


def pipeline(counter, a_value=1):
  return components.Pipeline("p", (
      counter.stage("a", {"value": a_value}),
      counter.stage("b", {"k": 2}, inputs=("a",)),
      counter.stage("c", {}, inputs=("b",), cache=False),
  ))


def run(tmp_path, counter, force=False, **kwargs):
  context = components.Context(workdir=str(tmp_path))
  return runner_lib.LocalRunner(force=force).run(pipeline(counter, **kwargs),
                                                 context)


def test_stages_run_in_order_and_leave_records(tmp_path):
  counter = Counter()
  results = run(tmp_path, counter)
  assert counter.calls == ["a", "b", "c"]
  assert results["b"]["upstream"]["a"]["params"] == {"value": 1}
  record = fileio.read_json(str(tmp_path / ".stages" / "b.json"))
  assert record["params"] == {"k": 2}
  assert record["code_version"] == components.code_version()
  assert set(record["inputs"]) == {"a"}
  assert record["outputs"] == ["b"]
  assert record["seconds"] >= 0 and record["started"] > 0


def test_rerun_skips_matching_stages(tmp_path):
  run(tmp_path, Counter())
  counter = Counter()
  results = run(tmp_path, counter)
  assert counter.calls == ["c"]  # c opted out of caching.
  assert results["b"]["params"] == {"k": 2}  # The stored result is reused.


def test_changed_parameters_rerun_the_stage_and_its_dependents(tmp_path):
  run(tmp_path, Counter())
  (tmp_path / "a" / "stale.txt").write_text("from the old parameters")
  counter = Counter()
  run(tmp_path, counter, a_value=5)
  assert counter.calls == ["a", "b", "c"]
  # Outputs of the old parameters are cleared before the stage reruns.
  assert not (tmp_path / "a" / "stale.txt").exists()


def test_missing_output_reruns_the_stage(tmp_path):
  run(tmp_path, Counter())
  os.remove(tmp_path / "b" / "out.txt")
  os.rmdir(tmp_path / "b")
  counter = Counter()
  run(tmp_path, counter)
  assert counter.calls == ["b", "c"]


def test_force_reruns_everything(tmp_path):
  run(tmp_path, Counter())
  counter = Counter()
  run(tmp_path, counter, force=True)
  assert counter.calls == ["a", "b", "c"]


def test_interrupted_stage_keeps_its_outputs_to_resume(tmp_path):
  counter = Counter()
  stage = counter.stage("a", {"value": 1})
  context = components.Context(workdir=str(tmp_path))
  # A run that died midway: the record says it started, outputs are partial.
  fileio.write_json(stage.record_path(str(tmp_path)), {
      "stage": "a", "started_key": components.cache_key(stage, context)})
  (tmp_path / "a").mkdir()
  (tmp_path / "a" / "checkpoint").write_text("partial work")
  components.execute(stage, context, resume=True)
  assert (tmp_path / "a" / "checkpoint").read_text() == "partial work"
  # Without resume (--force) the partial outputs are cleared first.
  components.execute(stage, context, resume=False)
  assert not (tmp_path / "a" / "checkpoint").exists()


def test_damaged_record_means_rerun(tmp_path):
  run(tmp_path, Counter())
  (tmp_path / ".stages" / "a.json").write_text("{not json")
  counter = Counter()
  run(tmp_path, counter)
  assert counter.calls[0] == "a"


def test_pipeline_rejects_inputs_that_do_not_run_first():
  counter = Counter()
  with pytest.raises(ValueError, match="do not run before it"):
    components.Pipeline("p", (counter.stage("b", inputs=("a",)),
                              counter.stage("a")))
  with pytest.raises(ValueError, match="duplicate"):
    components.Pipeline("p", (counter.stage("a"), counter.stage("a")))


def test_fingerprint_is_stable_and_order_free():
  assert components.fingerprint({"a": 1, "b": [1, 2]}) == \
      components.fingerprint({"b": [1, 2], "a": 1})
  assert components.fingerprint({"a": 1}) != components.fingerprint({"a": 2})
