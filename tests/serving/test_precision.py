"""How ``auto`` picks the copy of a model's ONNX graphs, and how a wrong choice is reported."""

import pytest
from click.testing import CliRunner

from stance.cli.commands import main
from stance.errors import StanceError
from stance.serving.precision import CHOICES, PRECISIONS, SMALL_INPUT, resolve


def test_auto_takes_8_bit_weights_for_a_few_statements_and_fp32_for_batches():
    assert resolve("auto", 1) == "w8"
    assert resolve("auto", SMALL_INPUT) == "w8"
    assert resolve("auto", SMALL_INPUT + 1) == "fp32"
    assert resolve("auto") == "fp32"  # a server: how many statements will come is unknown


@pytest.mark.parametrize("precision", PRECISIONS)
def test_an_explicit_precision_is_kept_whatever_the_input(precision):
    assert resolve(precision, 1) == resolve(precision, 10_000) == resolve(precision) == precision


def test_an_unknown_precision_is_one_line_naming_the_choices():
    with pytest.raises(StanceError, match=r"unknown precision 'fp16' \(one of auto, fp32, w8, int8\)"):
        resolve("fp16", 3)


def test_auto_never_picks_int8_whose_labels_may_differ():
    assert "int8" not in {resolve("auto", n) for n in (None, 0, 1, SMALL_INPUT, SMALL_INPUT + 1, 10**6)}
    assert CHOICES[0] == "auto"


def test_the_old_int8_flag_agrees_with_precision_or_says_so(registered):
    runner = CliRunner()
    result = runner.invoke(main, ["predict", "--int8", "--precision", "w8", "--tracking-uri", registered["uri"],
                                  "-m", registered["model"], "a statement"])
    assert result.exit_code == 2 and "--int8 and --precision w8 disagree" in result.output
    result = runner.invoke(main, ["predict", "--precision", "fp16", "a statement"])
    assert result.exit_code == 2 and "'fp16' is not one of 'auto', 'fp32', 'w8', 'int8'" in result.output
