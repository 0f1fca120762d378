"""Identity across one clip or live check: a splice of two people shows as two embeddings far apart
(`face_changed`). Kept apart from scoring.evidence, which looks at pixels and landmarks, not at who the face is."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class IdentityTrack:
    """The lowest cosine similarity between any two sampled embeddings of one clip or session."""

    embeddings: list[np.ndarray] = field(default_factory=list)
    min_similarity: float | None = None

    def add(self, vector: np.ndarray) -> float | None:
        """Adds an L2-normalised embedding; returns its lowest similarity to the earlier ones (None if first)."""
        lowest = min((float(np.dot(vector, e)) for e in self.embeddings), default=None)
        if lowest is not None:
            self.min_similarity = lowest if self.min_similarity is None else min(self.min_similarity, lowest)
        self.embeddings.append(vector)
        return lowest
