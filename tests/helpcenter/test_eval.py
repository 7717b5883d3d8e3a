"""`ascolto helpcenter eval-search` on the real QA4FAQ knowledge base (skipped without it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ascolto.helpcenter.cli import helpcenter
from ascolto.helpcenter.search.evaluation import DatasetFormatError, read_faqs
from tests.helpcenter.conftest import needs_encoder

DATASET = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "qa4faq_it"
needs_dataset = pytest.mark.skipif(not DATASET.is_dir(), reason="shared datasets not available")


def _figures(output: str, split: str) -> tuple[float, float, float]:
    line = next(line for line in output.splitlines() if line.startswith(split + " "))
    _, _, mrr, r1, r5 = line.split()
    return float(mrr), float(r1), float(r5)


@needs_dataset
def test_lexical_ranking_beats_the_char_tfidf_baseline() -> None:
    result = CliRunner().invoke(
        helpcenter, ["eval-search", "--dataset", str(DATASET), "--no-embeddings"]
    )
    assert result.exit_code == 0, result.output
    assert "406 FAQs" in result.output
    mrr, r1, r5 = _figures(result.output, "all")
    assert mrr > 0.48  # plain character TF-IDF
    assert r1 <= r5


@needs_dataset
@needs_encoder
@pytest.mark.slow
def test_hybrid_ranking_reaches_the_goal_on_the_held_out_questions() -> None:
    result = CliRunner().invoke(helpcenter, ["eval-search", "--dataset", str(DATASET)])
    assert result.exit_code == 0, result.output
    mrr, _, _ = _figures(result.output, "test")
    assert mrr >= 0.60
    lexical = CliRunner().invoke(
        helpcenter, ["eval-search", "--dataset", str(DATASET), "--no-embeddings"]
    )
    assert mrr > _figures(lexical.output, "test")[0]


def test_a_file_of_another_shape_is_refused_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "faq.csv"
    bad.write_text("question,answer\nq,a\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="columns"):
        read_faqs(bad)
    result = CliRunner().invoke(helpcenter, ["eval-search", "--dataset", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "not found" in result.output
