"""A text with learnable structure for the tiny-transformer tests: sentences drawn from a small
grammar (seeded), so a model that reads context predicts far better than token frequencies."""

from __future__ import annotations

import random

SUBJECTS = ["the cat", "a dog", "my friend", "the teacher", "a small bird", "the old man"]
VERBS = ["sees", "likes", "finds", "follows", "calls"]
OBJECTS = ["the ball", "a red apple", "the river", "her book", "the green door", "a quiet song"]


def grammar_text(sentences: int = 400, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} "
                    f"{rng.choice(OBJECTS)}." for _ in range(sentences))
