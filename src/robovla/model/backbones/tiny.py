"""Offline building blocks for tiny backbones: a BPE tokenizer trained on the spot, or
wordllama's pretrained Llama-2 token embeddings.

Tests and `robovla doctor` must run without the hub, so the tokenizer is trained from a few
sentences (byte-level, so any instruction tokenises) and carries every backbone's special tokens.
A tiny VLM trained from scratch on a few phrasings per task learns words only from those; the
wordllama wheel ships a tokenizer and token embeddings inside the package (no download), which
give the text side of a tiny backbone word meanings to start from (tiny.text_init).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = (
    "<pad>",
    "<bos>",
    "<eos>",
    "<unk>",
    "<image>",
    "</image>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<fake_token_around_image>",
    "<global-img>",
    "<video>",
)

_CORPUS = [
    "pick up the red block and put it in the bowl",
    "push the blue cube to the left",
    "open the drawer",
    "close the drawer slowly",
    "lift the green cylinder",
    "place the object on the plate",
    "stack the yellow block on the red block",
    "move the arm up and rotate the gripper",
    "turn on the light switch",
    "slide the door to the right",
]


@lru_cache(maxsize=4)
def _tokenizer_json(vocab_size: int) -> str:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return tok.to_str()


def tiny_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """A fresh byte-level BPE tokenizer with the special tokens of every supported backbone."""
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json(vocab_size)),
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
    )
    tok.padding_side = "right"
    return tok


def token_id(tokenizer: PreTrainedTokenizerFast, token: str) -> int:
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or tid == tokenizer.unk_token_id and token != tokenizer.unk_token:
        raise ValueError(f"tokenizer has no {token!r} token")
    return int(tid)


# ------------------------------------------------------------------ wordllama text side
#: files inside the wordllama wheel (0.4.0.post1): Llama-2's 32000-token BPE tokenizer and the
#: 256-d "l2_supercat" token embeddings trained for sentence similarity on top of it
WORDLLAMA_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
WORDLLAMA_WEIGHTS = "weights/l2_supercat_256.safetensors"


def wordllama_file(relative: str) -> Path:
    """A data file of the installed wordllama package, found without importing it (its import
    pulls pydantic models and a network client we do not use: we read the files only)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("tiny.text_init=wordllama needs the wordllama package (requirements/python.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"wordllama package has no {relative} (expected wordllama==0.4.0.post1)")
    return path


def wordllama_tokenizer() -> PreTrainedTokenizerFast:
    """Llama-2's tokenizer as wordllama ships it, plus the special tokens every backbone needs.

    Its first 32000 ids are the rows of wordllama's embedding table; ours are appended after."""
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(str(wordllama_file(WORDLLAMA_TOKENIZER))),
                                  bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    extra = [t for t in SPECIAL_TOKENS if t not in ("<bos>", "<eos>", "<unk>") and t not in tok.get_vocab()]
    tok.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": [t for t in extra if t != "<pad>"]})
    tok.padding_side = "right"
    return tok


def wordllama_embeddings(dim: int) -> torch.Tensor:
    """wordllama's (32000, 256) token embeddings in `dim` dimensions, unit variance per entry.

    dim < 256 keeps the principal directions (SVD of the centred table), so the distances between
    words that matter most survive; dim > 256 pads with zeros. The caller scales to its init."""
    from safetensors.torch import load_file

    table = load_file(str(wordllama_file(WORDLLAMA_WEIGHTS)))["embedding.weight"].float()
    table = table - table.mean(dim=0, keepdim=True)
    if dim < table.shape[1]:
        _, _, vh = torch.linalg.svd(table, full_matrices=False)
        table = table @ vh[:dim].T
    elif dim > table.shape[1]:
        table = torch.cat([table, torch.zeros(table.shape[0], dim - table.shape[1])], dim=1)
    return table / table.std()
