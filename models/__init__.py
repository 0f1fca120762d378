"""Model manifest and loader: which weight files the engine uses, and where to find them verified."""

from models.loader import ModelError, ModelStore, resolve_models_dir
from models.manifest import MANIFEST, ModelSpec, spec

__all__ = ["MANIFEST", "ModelSpec", "spec", "ModelError", "ModelStore", "resolve_models_dir"]
