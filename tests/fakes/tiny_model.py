"""Build a tiny local causal LM (Llama, hidden 64, 2 layers) plus tokenizer for tests and benchmarks.

Nothing comes from the Hugging Face hub: the byte-level BPE tokenizer is trained here with ``tokenizers`` on a
small built-in corpus, the model has random (seeded, deterministic) weights, and both are saved with
``save_pretrained`` into a directory that ``AutoTokenizer`` / ``AutoModelForCausalLM`` load with
``local_files_only=True``.

API:

- ``build_tiny_model(directory, *, chat_template=True, max_position_embeddings=256, seed=0) -> Path``:
  writes model + tokenizer into ``directory`` and returns it. With ``chat_template=False`` the tokenizer is
  saved without a chat template (to exercise fallbacks).
- pytest fixtures (session-scoped, import them into a ``conftest.py``):
  ``tiny_model_dir`` (with a ChatML template) and ``tiny_model_dir_no_template``.
- Constants: ``TINY_CONTEXT_LENGTH`` (256 tokens), ``CHATML_TEMPLATE``, ``SPECIAL_TOKENS``.

The weights are random, so the text is gibberish, but greedy decoding is deterministic. The output layer is
scaled up so the next-token distribution is peaked: greedy choices are far from ties, which keeps batched and
one-at-a-time greedy outputs identical despite float rounding differences between batch shapes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_CONTEXT_LENGTH = 256
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "The capital of France is Paris. The capital of Italy is Rome.",
    "Hello! How can I help you today? I am a helpful assistant.",
    "def add(a, b):\n    return a + b\n",
    "Large language models predict the next token from the previous ones.",
    "Votes are stored in a database and turned into Elo ratings on the leaderboard.",
    "Once upon a time there was a small model that could only say a few words.",
    "1 2 3 4 5 6 7 8 9 10, red green blue, cat dog bird fish.",
]


def _train_tokenizer():  # -> transformers.PreTrainedTokenizerFast
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=TINY_CONTEXT_LENGTH,
    )


def build_tiny_model(
    directory: str | Path,
    *,
    chat_template: bool = True,
    max_position_embeddings: int = TINY_CONTEXT_LENGTH,
    seed: int = 0,
) -> Path:
    """Write a tiny Llama model and its tokenizer into ``directory`` (created if missing)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer()
    if chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_position_embeddings,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        # Peaked next-token distributions: greedy picks are far from ties (see module docstring).
        model.lm_head.weight.mul_(40.0)
        # A random model would almost never emit EOS; make EOS unlikely but not impossible is not needed:
        # tests bound outputs with max_tokens.
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama + ChatML tokenizer saved in a session temp dir."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_model_dir_no_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny model, but the tokenizer has no chat template."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model-no-template"), chat_template=False)
