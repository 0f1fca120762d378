"""Model manifest and loader: which weight files the engine uses, and where to find them verified."""

from models.manifest import MANIFEST, ModelSpec, spec
from models.loader import ModelError, ModelStore, resolve_models_dir

__all__ = ["MANIFEST", "ModelSpec", "spec", "ModelError", "ModelStore", "resolve_models_dir"]
