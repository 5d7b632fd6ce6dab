"""Runs a claim's independent training stages as elements of a Beam pipeline.

The runner walks the claim's stages in waves: every stage whose inputs are
done is ready; ready stages marked `parallel` (training runs: configuration ×
seed group) become the elements of one Beam pipeline, the rest (data, pixel
baseline, exports, report) run here. Workers rebuild the claim's pipeline from
its settings and execute their stage by name, so nothing but JSON crosses
process or machine boundaries; every artifact goes through tf.io.gfile, so the
workdir may be on GCS or HDFS.

Failures. A stage is idempotent: it resumes from its own checkpoints and its
record says when it is done. Runners that retry failed bundles (Dataflow,
Flink, Spark, the bundle-based DirectRunner) therefore continue a failed run
from its last checkpoint. The DirectRunner's multi-processing mode (the
FnApiRunner) does not retry bundles (apache/beam#18640), so the DoFn itself
retries a failed stage up to `--beam_stage_attempts` times, the same way.

  --beam_options="--runner=DirectRunner --direct_num_workers=2
                  --direct_running_mode=multi_processing"      (the default)
  --beam_options="--runner=FlinkRunner --flink_master=host:8081
                  --environment_type=LOOPBACK"
  --beam_options="--runner=SparkRunner --spark_master_url=spark://host:7077"
  --beam_options="--runner=DataflowRunner --project=P --region=R
                  --temp_location=gs://B/tmp --setup_file=./setup.py"
"""

import json
import os
import shlex
import time
from typing import Any

from absl import logging

from infomax_tf import config as config_lib
from infomax_tf import errors
from pipelines import components
from pipelines import runner as runner_lib

DEFAULT_OPTIONS = ("--runner=DirectRunner --direct_num_workers=0 "
                   "--direct_running_mode=multi_processing")


def _import_beam():
  try:
    import apache_beam as beam  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise errors.ConfigError(
        "--runner=beam needs apache-beam: pip install -r "
        "requirements-beam.txt") from None
  return beam


class RunStage:
  """The DoFn body: executes one stage of a claim in a worker.

  Kept free of Beam so it can be tested directly; `_StageDoFn` wraps it.
  """

  def __call__(self, element: str) -> str:
    task = json.loads(element)
    settings = config_lib.Settings.from_dict(task["settings"])
    import pipelines  # pylint: disable=g-import-not-at-top
    pipeline = pipelines.build(task["claim"], settings)
    stage = next(s for s in pipeline.stages if s.name == task["stage"])
    context = components.Context(workdir=task["workdir"],
                                 results=task["inputs"])
    if not task["force"] and components.is_cached(stage, context):
      return task["stage"]
    for attempt in range(1, task["attempts"] + 1):
      try:
        # After a failure the stage resumes from its checkpoints: never force.
        components.execute(stage, context,
                           resume=attempt > 1 or not task["force"])
        return task["stage"]
      except Exception:  # pylint: disable=broad-except
        if attempt == task["attempts"]:
          raise
        logging.exception("stage %s failed (attempt %d of %d); retrying from "
                          "its last checkpoint", task["stage"], attempt,
                          task["attempts"])
    return task["stage"]


class BeamRunner(runner_lib.LocalRunner):
  """Local for light stages, Beam for a claim's training runs."""

  def __init__(self, settings: config_lib.Settings, claim: str):
    super().__init__(force=settings.force)
    self.settings = settings
    self.claim = claim
    self.options = shlex.split(settings.beam_options or DEFAULT_OPTIONS)
    _import_beam()

  def run(self, pipeline: components.Pipeline,
          context: components.Context) -> dict[str, Any]:
    tick = time.time()
    remaining = list(pipeline.stages)
    while remaining:
      ready = [s for s in remaining
               if all(i in context.results for i in s.inputs)]
      cached = [] if self.force else [
          (s, r) for s, r in ((s, components.is_cached(s, context))
                              for s in ready) if r is not None]
      for stage, record in cached:
        logging.info("[%s] %s: up to date", pipeline.name, stage.name)
        context.results[stage.name] = record["result"]
      ready = [s for s in ready if s.name not in context.results]
      distributed = [s for s in ready if s.params.get("parallel")]
      if len(distributed) < 2:  # Beam's start-up only pays off in parallel.
        distributed = []
      for stage in ready:
        if stage not in distributed:
          record = self._execute(pipeline.name, stage, context)
          context.results[stage.name] = record["result"]
      if distributed:
        for stage, record in zip(distributed, self._on_beam(
            pipeline.name, distributed, context)):
          context.results[stage.name] = record["result"]
      remaining = [s for s in remaining if s.name not in context.results]
    logging.info("[%s] done in %.1f s", pipeline.name, time.time() - tick)
    return dict(context.results)

  def _on_beam(self, pipeline_name, stages, context):
    beam = _import_beam()
    from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
    elements = [json.dumps({
        "claim": self.claim, "stage": s.name,
        "settings": self.settings.to_dict(),
        "workdir": os.path.abspath(context.workdir)
                   if "://" not in context.workdir else context.workdir,
        "inputs": {i: context.results[i] for i in s.inputs},
        "force": self.force, "attempts": self.settings.beam_stage_attempts,
    }, sort_keys=True) for s in stages]
    logging.info("[%s] %d training stages on Beam (%s)", pipeline_name,
                 len(stages), " ".join(self.options))
    options = pipeline_options.PipelineOptions(self.options)
    with beam.Pipeline(options=options) as p:
      _ = (p | "Stages" >> beam.Create(elements)
           | "Reshuffle" >> beam.Reshuffle()  # One element per worker bundle.
           | "Run" >> beam.Map(RunStage()))
    records = []
    for stage in stages:
      record = components.read_record(stage, context.workdir)
      if record is None or "result" not in record:
        raise errors.TrainingError(f"Beam finished but stage {stage.name} left "
                                   "no record")
      records.append(record)
    return records
