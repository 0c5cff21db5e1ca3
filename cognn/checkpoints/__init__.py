"""Checkpoints: cognn's safe format (safetensors + metadata) and readers for the official checkpoint families.

``load_model(path)`` returns a ready model from any supported file; ``read_checkpoint(path)`` returns the tensors and
metadata without building one; ``save_checkpoint(path, model, meta)`` writes ours; ``detect_family(path)`` names the
family of a file. No file is ever unpickled with code execution (see :mod:`cognn.checkpoints.safe_pickle`);
quantized weights are read as inert records (:class:`QuantizedTensor`) and dequantized.
"""
from .architecture import infer_architecture
from .families import FAMILIES
from .format import detect_family, load_model, model_from_checkpoint, read_checkpoint, save_checkpoint
from .quantized import QuantizedTensor
from .safe_pickle import PickleBombError, UnsafePickleError
from .schema import FIELDS, FORMAT, FORMAT_VERSION, Checkpoint

__all__ = ["load_model", "save_checkpoint", "read_checkpoint", "detect_family", "model_from_checkpoint",
           "infer_architecture", "Checkpoint", "FAMILIES", "FIELDS", "FORMAT", "FORMAT_VERSION", "UnsafePickleError",
           "PickleBombError", "QuantizedTensor"]
