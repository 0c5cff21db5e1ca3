"""Training, fine-tuning and evaluation (the logic behind ``cognn-train`` and ``cognn-eval``).

``train(TrainConfig(model=..., data=...))`` runs the reference recipe in clip mode; ``prepare_clips`` turns a folder
of action clips into training data; ``evaluate_checkpoint`` scores any checkpoint on a dataset file.
"""
from .clips import ClipSets, prepare_clips
from .config import TrainConfig
from .evaluate import EvalReport, evaluate_checkpoint, write_report
from .trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train", "prepare_clips", "ClipSets", "evaluate_checkpoint",
           "EvalReport", "write_report"]
