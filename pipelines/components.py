"""Pipeline stages in the spirit of TFX components, on plain TF and absl.

A `Stage` names its upstream stages (inputs), its parameters and the artifacts
it writes (outputs, relative to the workdir). Executing a stage leaves a
*record* under `<workdir>/.stages/<name>.json`: inputs (with the fingerprints
of their records), parameters, code version, timings and the stage's result.
A rerun skips a stage whose record matches — same parameters, same code, same
upstream results, outputs present — and hands its stored result downstream;
otherwise it clears the stage's outputs (they may belong to other parameters)
and runs it again. Interrupted stages rerun and resume from their own
checkpoints, so their finished parts are not redone.
"""

import dataclasses
import hashlib
import json
import os
import time
from typing import Any, Callable, Optional, Sequence

import tensorflow as tf

from infomax_tf import fileio

RECORDS_DIR = ".stages"

_CODE_ROOTS = ("infomax_tf", "pipelines")
_code_version_cache: Optional[str] = None


def code_version() -> str:
  """A fingerprint of the library and pipeline sources (works without git)."""
  global _code_version_cache
  if _code_version_cache is None:
    digest = hashlib.sha256()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for root in _CODE_ROOTS:
      for folder, _, files in sorted(os.walk(os.path.join(repo, root))):
        for name in sorted(files):
          if name.endswith(".py"):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, repo).encode())
            with open(path, "rb") as f:
              digest.update(f.read())
    _code_version_cache = digest.hexdigest()[:16]
  return _code_version_cache


def fingerprint(obj: Any) -> str:
  """A stable short hash of a JSON-able value."""
  text = json.dumps(obj, sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass
class Context:
  """What every stage sees: the workdir, and upstream results by name."""
  workdir: str
  results: dict[str, Any] = dataclasses.field(default_factory=dict)
  # In-process objects shared between stages (e.g. loaded data); never
  # persisted, rebuilt by the stage that provides them when absent.
  memo: dict[str, Any] = dataclasses.field(default_factory=dict)

  def path(self, *parts: str) -> str:
    return os.path.join(self.workdir, *parts)


@dataclasses.dataclass(frozen=True)
class Stage:
  """One step of a pipeline.

  Attributes:
    name: unique within the pipeline, e.g. "fig3/train/bilinear_nce".
    run: (context, params) -> JSON-able result handed to downstream stages.
    params: JSON-able parameters; part of the cache key.
    inputs: names of the stages whose results this one reads.
    outputs: artifact paths (relative to the workdir) this stage owns.
    cache: False for stages cheap enough to always run (nothing to skip).
  """
  name: str
  run: Callable[[Context, dict[str, Any]], Any]
  params: dict[str, Any] = dataclasses.field(default_factory=dict)
  inputs: tuple[str, ...] = ()
  outputs: tuple[str, ...] = ()
  cache: bool = True

  def record_path(self, workdir: str) -> str:
    return os.path.join(workdir, RECORDS_DIR,
                        self.name.replace("/", "__") + ".json")


@dataclasses.dataclass(frozen=True)
class Pipeline:
  name: str
  stages: tuple[Stage, ...]

  def __post_init__(self):
    seen = set()
    for stage in self.stages:
      if stage.name in seen:
        raise ValueError(f"duplicate stage {stage.name}")
      missing = [i for i in stage.inputs if i not in seen]
      if missing:
        raise ValueError(f"stage {stage.name} reads {missing}, which do not "
                         "run before it")
      seen.add(stage.name)


def read_record(stage: Stage, workdir: str) -> Optional[dict[str, Any]]:
  path = stage.record_path(workdir)
  if not tf.io.gfile.exists(path):
    return None
  try:
    return fileio.read_json(path)
  except (ValueError, tf.errors.OpError):
    return None  # A damaged record only costs a rerun.


def cache_key(stage: Stage, context: Context) -> dict[str, Any]:
  return {
      "params": fingerprint(stage.params),
      "code_version": code_version(),
      "inputs": {name: fingerprint(context.results.get(name))
                 for name in stage.inputs},
  }


def is_cached(stage: Stage, context: Context) -> Optional[dict[str, Any]]:
  """The stage's matching record, if it can be skipped; None otherwise."""
  if not stage.cache:
    return None
  record = read_record(stage, context.workdir)
  if record is None or record.get("key") != cache_key(stage, context):
    return None
  if not all(tf.io.gfile.exists(context.path(o)) for o in stage.outputs):
    return None
  return record


def clear_outputs(stage: Stage, workdir: str) -> None:
  for output in stage.outputs:
    path = os.path.join(workdir, output)
    if tf.io.gfile.isdir(path):
      tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
      tf.io.gfile.remove(path)


def execute(stage: Stage, context: Context, resume: bool) -> dict[str, Any]:
  """Runs a stage and writes its record. With `resume`, outputs left by an
  interrupted run with the same key are kept for the stage to resume from."""
  key = cache_key(stage, context)
  previous = read_record(stage, context.workdir)
  started = previous.get("started_key") if previous else None
  if not (resume and started == key):
    clear_outputs(stage, context.workdir)
  # Mark the outputs as belonging to this key before writing any of them.
  fileio.write_json(stage.record_path(context.workdir),
                    {"stage": stage.name, "started_key": key,
                     "params": stage.params})
  tick = time.time()
  result = stage.run(context, stage.params)
  record = {
      "stage": stage.name,
      "key": key,
      "started_key": key,
      "params": stage.params,
      "inputs": {name: fingerprint(context.results.get(name))
                 for name in stage.inputs},
      "outputs": list(stage.outputs),
      "code_version": code_version(),
      "started": tick,
      "seconds": time.time() - tick,
      "result": result,
  }
  fileio.write_json(stage.record_path(context.workdir), record)
  return record


def stage_names(stages: Sequence[Stage]) -> list[str]:
  return [s.name for s in stages]
