"""tiny.text_init=wordllama: the tiny backbone's text side starts from the Llama-2 tokenizer and
256-d token embeddings the wordllama wheel ships (no download), and survives a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from robovla.model import build_vla, load_vla
from robovla.model.backbones.tiny import wordllama_embeddings, wordllama_tokenizer
from robovla.model.checkpoint import save_checkpoint
from robovla.model.config import TinyBackboneConfig

from vla_helpers import make_batch, stats, tiny_cfg

TINY = {"hidden_size": 64, "layers": 1, "heads": 2, "vision_hidden_size": 32, "vision_layers": 1, "patch_size": 16}


def _first_id(tok, word: str) -> int:
    return tok(word, add_special_tokens=False)["input_ids"][0]


def test_tokenizer_is_llama2_with_our_special_tokens() -> None:
    tok = wordllama_tokenizer()
    assert tok.convert_ids_to_tokens(tok("open the drawer", add_special_tokens=False)["input_ids"])[:2] == ["▁open", "▁the"]
    assert (tok.bos_token, tok.eos_token, tok.unk_token) == ("<s>", "</s>", "<unk>")
    for special in ("<pad>", "<image>", "<|vision_start|>", "<|image_pad|>"):
        assert tok.convert_tokens_to_ids(special) >= 32000, f"{special} must come after Llama-2's 32000 ids"


def test_embeddings_are_initialised_from_wordllama_and_keep_meanings() -> None:
    cfg = tiny_cfg(tiny={**TINY, "text_init": "wordllama"})
    model = build_vla(cfg, stats())
    weight = model.backbone.get_input_embeddings().weight.detach()
    table = wordllama_embeddings(64)
    rows = weight[:32000]
    # the rows are wordllama's table (projected to 64-d), rescaled to the random init's spread
    scale = float((rows * table).sum() / (table * table).sum())
    torch.testing.assert_close(rows, table * scale, rtol=1e-4, atol=1e-6)
    random = build_vla(tiny_cfg(tiny=TINY), stats()).backbone.get_input_embeddings().weight.detach()
    assert 0.5 < float(rows.std() / random.std()) < 2.0
    tok = model.backbone.tokenizer
    cos = torch.nn.functional.cosine_similarity
    light, lamp, drawer = (weight[_first_id(tok, w)] for w in ("light", "lamp", "drawer"))
    assert float(cos(light, lamp, dim=0)) > float(cos(light, drawer, dim=0)) + 0.2, "words keep their neighbours"


def test_wordllama_model_trains_and_round_trips(tmp_path: Path) -> None:
    cfg = tiny_cfg(tiny={**TINY, "text_init": "wordllama"})
    model = build_vla(cfg, stats())
    out = model.compute_loss(make_batch(cfg))
    out["loss"].backward()
    grad = model.backbone.get_input_embeddings().weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0, "the token embeddings are trained"
    save_checkpoint(model, tmp_path / "ckpt")
    again = load_vla(tmp_path / "ckpt")
    assert again.cfg.tiny.text_init == "wordllama"
    assert again.backbone.tokenize("place the red block in the bowl", 16) == model.backbone.tokenize(
        "place the red block in the bowl", 16)
    torch.testing.assert_close(again.backbone.get_input_embeddings().weight, model.backbone.get_input_embeddings().weight)


def test_unknown_text_init_is_refused() -> None:
    with pytest.raises(ValueError, match="tiny.text_init must be one of random, wordllama"):
        TinyBackboneConfig(text_init="glove")
