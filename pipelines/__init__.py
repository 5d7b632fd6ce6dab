"""Pipelines: one declaration per claim of the paper, as stages with typed
inputs, outputs and recorded artifacts under the workdir."""
