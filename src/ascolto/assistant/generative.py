"""Optional generative answers: an OpenAI-compatible chat endpoint configured by the admin
(e.g. a self-hosted model) rewrites the answer from the retrieved passages, with citations.

Contract: called only after the search found an article above the threshold, so it never
answers without an article. The reply must cite at least one passage as [n] and cite no
passage that was not given; otherwise (or on any network or format error) the caller falls back
to quoting the article. Off by default; nothing else depends on it.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from ascolto.helpcenter.selectors import SearchResult

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
NO_ANSWER = "NO_ANSWER"
_CITATION = re.compile(r"\[(\d{1,2})\]")

SYSTEM_PROMPT = (
    "You are a customer support assistant. Answer the customer's question using only the "
    "numbered passages below, in the language of the question. Cite every passage you use as "
    "[n]. If the passages do not answer the question, reply exactly NO_ANSWER."
)


@dataclass(frozen=True)
class GeneratedAnswer:
    text: str
    cited: list[SearchResult]


def _prompt(question: str, passages: list[SearchResult]) -> str:
    numbered = "\n".join(f"[{i}] {p.title}: {p.snippet}" for i, p in enumerate(passages, start=1))
    return f"Passages:\n{numbered}\n\nQuestion: {question}"


def generate(
    *,
    base_url: str,
    model: str,
    api_key: str,
    question: str,
    passages: list[SearchResult],
    timeout: float = TIMEOUT_SECONDS,
) -> GeneratedAnswer | None:
    """The grounded answer, or None when the endpoint fails or does not cite a passage."""
    if not passages or not base_url.startswith(("http://", "https://")):
        return None
    body = json.dumps(
        {
            "model": model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": _prompt(question, passages)},
            ],
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        base_url.rstrip("/") + "/chat/completions",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            payload = json.loads(response.read(1_000_000))
        text = str(payload["choices"][0]["message"]["content"]).strip()
    except (urllib.error.URLError, TimeoutError, ValueError, KeyError, IndexError, TypeError):
        logger.warning("The generative endpoint %s failed; quoting the article", base_url)
        return None
    numbers = {int(n) for n in _CITATION.findall(text)}
    if not text or NO_ANSWER in text or not numbers:
        return None
    if any(n < 1 or n > len(passages) for n in numbers):
        logger.warning("The generative endpoint cited a passage it was not given")
        return None
    return GeneratedAnswer(text=text, cited=[passages[n - 1] for n in sorted(numbers)])
