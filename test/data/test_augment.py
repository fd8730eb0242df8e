"""Instruction word dropout: words leave in order, one always stays, seeded, training-only config."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.data.augment import drop_instruction_words
from robovla.data.dataset import DataConfig


def test_words_are_dropped_in_order_and_one_always_stays() -> None:
    texts = ["push the drawer shut", "close the drawer", "turn on the light"] * 400
    out = drop_instruction_words(texts, 0.3, np.random.default_rng(0))
    dropped = kept = 0
    for src, new in zip(texts, out):
        words, left = src.split(), new.split()
        assert left, f"{src!r} lost every word"
        it = iter(words)
        assert all(w in it for w in left), f"{new!r} is not an in-order subset of {src!r}"
        kept += len(left)
        dropped += len(words) - len(left)
    assert dropped / (dropped + kept) == pytest.approx(0.3, abs=0.03)
    # nearly every word gone: still one left
    assert all(len(t.split()) == 1 for t in drop_instruction_words(texts[:50], 0.99, np.random.default_rng(1)))


def test_dropout_is_seeded_and_off_by_default() -> None:
    texts = ["pick up the red block", "open the drawer"] * 10
    a = drop_instruction_words(texts, 0.5, np.random.default_rng(7))
    assert a == drop_instruction_words(texts, 0.5, np.random.default_rng(7))
    assert a != texts
    assert drop_instruction_words(texts, 0.0, np.random.default_rng(7)) == texts
    assert drop_instruction_words(["wave"], 0.9, np.random.default_rng(7)) == ["wave"]
    assert DataConfig().instruction_word_dropout == 0.0


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_bad_dropout_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="dropout"):
        drop_instruction_words(["open the drawer"], p, np.random.default_rng(0))
    with pytest.raises(ValueError, match="instruction_word_dropout"):
        DataConfig(instruction_word_dropout=p)
