from pathlib import Path

import pytest
from click.testing import CliRunner

from ascolto.assistant.nlp.cli import nlp
from ascolto.assistant.nlp.evaluation import DatasetFormatError, read_labelled_csv, scores
from tests.assistant.corpora import INTENT_EXAMPLES


def write_csv(path: Path, rows: list[tuple[str, str]], header: str = "text,label") -> Path:
    lines = [header] + ['"' + text.replace('"', '""') + '",' + label for text, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_text_and_label_columns_in_any_order_with_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(
        'id,Label,Text\n1,refund,"I want my money back"\n2,delivery,"where is it,\nreally?"\n',
        encoding="utf-8",
    )

    texts, labels = read_labelled_csv(path)

    assert texts == ["I want my money back", "where is it,\nreally?"]
    assert labels == ["refund", "delivery"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sentence,category\nhello,greeting\n", "must name the columns text and label"),
        ("", "must name the columns text and label"),
        ("text,label\n", "no examples after the header row"),
        ("text,label\nhello,greeting\n,greeting\n", "line 3: the text is empty"),
        ("text,label\nhello,greeting\nbye,\n", "line 3: the label is empty"),
    ],
)
def test_format_errors_name_the_problem_and_the_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(DatasetFormatError, match=message):
        read_labelled_csv(path)


def test_a_file_that_is_not_utf8_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\nperché no,neutral\n".encode("latin-1"))

    with pytest.raises(DatasetFormatError, match=r"not UTF-8.*save the file as UTF-8"):
        read_labelled_csv(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match="no such file"):
        read_labelled_csv(tmp_path / "nope.csv")


def test_scores_match_a_hand_computed_case() -> None:
    truth = ["a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "a"]

    accuracy, macro_f1, per_class = scores(truth, predicted)

    assert accuracy == pytest.approx(3 / 5)
    by_label = {item.label: item for item in per_class}
    assert by_label["a"].precision == pytest.approx(1 / 2)
    assert by_label["a"].recall == pytest.approx(1 / 2)
    assert by_label["b"].precision == pytest.approx(2 / 3)
    assert by_label["b"].f1 == pytest.approx(0.8)
    assert by_label["c"].f1 == 0.0
    assert macro_f1 == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_eval_command_prints_accuracy_macro_f1_and_per_class(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", INTENT_EXAMPLES)
    test = write_csv(
        tmp_path / "test.csv",
        [("my parcel is late", "delivery"), ("refund please", "refund"), ("locked out", "login")],
    )

    result = CliRunner().invoke(
        nlp,
        ["eval", "--task", "intent", "--train", str(train), "--test", str(test), "--no-embeddings"],
    )

    assert result.exit_code == 0, result.output
    assert "accuracy:" in result.output
    assert "macro-F1:" in result.output
    for label in ("delivery", "refund", "login"):
        assert label in result.output.split("support", 1)[1]


def test_eval_command_reports_a_bad_file_without_a_traceback(tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    train.write_text("sentence,intent\nhello,greeting\n", encoding="utf-8")

    result = CliRunner().invoke(
        nlp, ["eval", "--task", "intent", "--train", str(train), "--test", str(train)]
    )

    assert result.exit_code == 1
    assert "must name the columns text and label" in result.output
    assert "Traceback" not in result.output


def test_train_command_saves_a_model_the_store_can_load(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", INTENT_EXAMPLES)

    result = CliRunner().invoke(
        nlp,
        [
            "train", "--task", "sentiment", "--train", str(train),
            "--models", str(tmp_path / "models"), "--workspace", "3", "--language", "en",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert (tmp_path / "models" / "workspace-3" / "sentiment.npz").is_file()
