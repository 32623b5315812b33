"""Turn OpenAI chat messages into prompt token ids.

With a chat template the tokenizer's own ``apply_chat_template(..., add_generation_prompt=True)`` is used.
Without one (typically a base model) the worker falls back to a plain transcript, documented in
docs/worker.md and announced by a warning at start-up::

    System: <system message>

    User: <user message>

    Assistant: <assistant message>

    User: <user message>

    Assistant:

Each message is ``"<Role>: <content>"``, messages are separated by a blank line, and the prompt ends with
``"Assistant:"``. The fallback also adds ``"\\nUser:"`` as a stop string, so a base model that goes on to
write the next user turn is cut there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workers.errors import RequestError

FALLBACK_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}
FALLBACK_STOP = "\nUser:"

NO_TEMPLATE_WARNING = (
    "the tokenizer of {name!r} has no chat template; prompts use the plain-transcript fallback "
    "('User: ...' / 'Assistant:'), see docs/worker.md. Answers are usually better with the model's own "
    "template: set tokenizer.chat_template (chat_template.jinja in the model folder)."
)


def fallback_prompt(messages: Sequence[dict[str, str]]) -> str:
    """The plain-transcript prompt used when the tokenizer has no chat template."""
    parts = [f"{FALLBACK_ROLES.get(m['role'], m['role'].capitalize())}: {m['content']}" for m in messages]
    parts.append("Assistant:")
    return "\n\n".join(parts)


def build_prompt_ids(
    tokenizer: Any, messages: Sequence[dict[str, str]], *, has_chat_template: bool
) -> list[int]:
    """Token ids of the prompt for ``messages`` (dicts with ``role`` and plain-text ``content``)."""
    if has_chat_template:
        try:
            encoded = tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, tokenize=True, return_dict=True
            )
        except Exception as exc:  # templates reject what their model cannot take (e.g. a system message)
            raise RequestError(
                f"the model's chat template rejected the messages: {exc}", param="messages"
            ) from exc
        return list(encoded["input_ids"])
    return list(tokenizer(fallback_prompt(messages), add_special_tokens=True)["input_ids"])
