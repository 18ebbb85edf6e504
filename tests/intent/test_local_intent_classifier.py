from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from assets.intent.evaluation import (
    TARGET_ACCURACY,
    TARGET_MACRO_F1,
    evaluate_intent,
    expected_calibration_error,
)
from assets.intent.local_classifier import (
    DATA_PATH,
    LocalIntentClassifier,
    LocalInterpreter,
    is_held_out,
    load_labeled_messages,
    split,
)
from assets.intent.schema import Intent, LeadText, PolicyFlag, Urgency


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("intent_models")


@pytest.fixture(scope="module")
def classifier(model_dir) -> LocalIntentClassifier:
    return LocalIntentClassifier.load_or_train(model_dir)


def test_shipped_labeled_set_is_large_and_covers_every_intent():
    rows = load_labeled_messages()
    assert len(rows) >= 500
    counts = {intent: sum(r.intent is intent for r in rows) for intent in Intent}
    assert min(counts.values()) >= 40, counts


def test_train_and_held_back_split_never_share_a_message():
    train, held_out = split(load_labeled_messages())
    folded = lambda rows: {" ".join(r.message.lower().split()) for r in rows}  # noqa: E731
    assert not folded(train) & folded(held_out)
    assert 0.15 < len(held_out) / (len(train) + len(held_out)) < 0.25
    assert is_held_out("Pricing?") == is_held_out("  pricing?  ")


def test_local_backend_meets_the_target_on_held_back_messages(model_dir, classifier):
    report = evaluate_intent("local", model_dir=model_dir)
    # The answered view meets the target; with abstentions scored as `unclear` it is reported, not hidden.
    assert report.answered.accuracy >= TARGET_ACCURACY
    assert report.answered.macro_f1 >= TARGET_MACRO_F1
    assert report.all_messages.macro_f1 >= TARGET_MACRO_F1
    assert report.abstention_rate <= 0.15
    assert report.expected_calibration_error <= 0.10
    assert sum(map(sum, report.confusion_matrix)) == report.held_out_messages
    text = report.format()
    assert "answered only" in text and "abstention = unclear" in text and "calibration" in text


def test_trained_model_is_cached_by_data_hash(model_dir, classifier, tmp_path):
    started = time.monotonic()
    again = LocalIntentClassifier.load_or_train(model_dir)
    assert time.monotonic() - started < 2
    assert again.training_key == classifier.training_key
    changed = tmp_path / "labeled.csv"
    changed.write_text(DATA_PATH.read_text(encoding="utf-8") + "need a quote for 40 seats,pricing,web_form\n")
    assert (
        LocalIntentClassifier.load_or_train(model_dir, data_path=changed).training_key != again.training_key
    )


def test_low_confidence_abstains_as_unclear(classifier, model_dir):
    strict = LocalIntentClassifier.load_or_train(model_dir, threshold=0.99)
    prediction = strict.predict(["maybe something about stuff"])[0]
    assert prediction.abstained and prediction.intent is Intent.UNCLEAR
    assert prediction.top_intent is not None


def test_obvious_messages_are_classified(classifier):
    messages = ["are you hiring sales reps?", "how much is it for 20 users", "I can't log in, error 500"]
    intents = [p.intent for p in classifier.predict(messages)]
    assert intents == [Intent.JOB_SEEKER, Intent.PRICING, Intent.SUPPORT]


def test_local_interpreter_fills_a_valid_interpretation(classifier):
    result = LocalInterpreter(classifier).interpret(
        LeadText(
            message="Your sync deleted our leads, our lawyers will be in touch. Fix the Salesforce sync ASAP"
        )
    )
    interpretation = result.interpretation
    assert result.backend == "local" and result.attempts == 0
    assert interpretation.policy_sensitive and PolicyFlag.LEGAL_THREAT in interpretation.policy_flags
    assert interpretation.urgency is Urgency.HIGH
    assert "crm_integrations" in [p.value for p in interpretation.product_interest]


def test_bad_labeled_row_fails_with_its_line_number(tmp_path):
    bad = tmp_path / "labeled.csv"
    bad.write_text("message,intent,source\nhello,unclear,web_form\nbuy now,spam,web_form\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labeled.csv:3"):
        load_labeled_messages(bad)


def test_ece_is_zero_for_perfect_calibration_and_large_for_overconfidence():
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == 0.0
    assert expected_calibration_error(np.array([0.95] * 4), np.array([False] * 4)) == pytest.approx(0.95)
