"""Offline building blocks for tiny random backbones: a BPE tokenizer trained on the spot.

Tests and `robovla doctor` must run without the hub, so the tokenizer is trained from a few
sentences (byte-level, so any instruction tokenises) and carries every backbone's special tokens.
"""

from __future__ import annotations

from functools import lru_cache

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
