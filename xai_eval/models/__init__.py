"""Model registry: built-in classifiers and the ``module:callable`` contract for your own."""

from xai_eval.models.bundle import ModelBundle
from xai_eval.models.registry import MODEL_NAMES, WeightsMissing, load_model, validate_model_name

__all__ = ["MODEL_NAMES", "ModelBundle", "WeightsMissing", "load_model", "validate_model_name"]
