from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest

from assets.interpretation.evaluation import (
    TARGET_ACCURACY,
    TARGET_MACRO_F1,
    evaluate_intent,
    expected_calibration_error,
)
from assets.interpretation.local_classifier import (
    DATA_PATH,
    EMPTY_MESSAGE_TOKEN,
    LocalIntentClassifier,
    LocalInterpreter,
    choose_abstention_threshold,
    clean_message,
    is_held_out,
    load_labeled_messages,
    split,
    training_key,
)
from integrations.llm.schema import Intent, LeadText, PolicyFlag, Urgency


@pytest.fixture(scope="module")
def model_dir(trained_model_dir) -> Path:
    return trained_model_dir


@pytest.fixture(scope="module")
def classifier(model_dir) -> LocalIntentClassifier:
    return LocalIntentClassifier.load_or_train(model_dir)


def test_shipped_labeled_set_is_large_and_covers_every_intent():
    rows = load_labeled_messages()
    assert len(rows) >= 2550
    counts = {intent: sum(r.intent is intent for r in rows) for intent in Intent}
    assert min(counts.values()) >= 210, counts
    assert {r.added_in for r in rows} == {"v1", "v2", "v3", "v4"}


def test_labeled_messages_never_repeat_a_folded_text():
    folded = [" ".join(r.message.lower().split()) for r in load_labeled_messages()]
    assert len(folded) == len(set(folded))


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Can we get a demo?\n\nThanks,\nMike", "Can we get a demo?"),
        ("Need 5 seats\n\n-- \nJ. Ortega | Ops Manager | +1 415 555 0134", "Need 5 seats"),
        ("pricing pls\n\nSent from my iPhone", "pricing pls"),
        ("Preise?\nViele Grüße\nAnna Berg\nVertrieb", "Preise?"),
        ("call me on +44 20 7946 0958 or jane@northwind.example", "call me on [phone] or [email]"),
        ("Sent from my iPhone", EMPTY_MESSAGE_TOKEN),
        ("Thanks!", EMPTY_MESSAGE_TOKEN),
        ("  ", EMPTY_MESSAGE_TOKEN),
        # A sign-off followed by a long line is not a signature: the text after it is kept.
        (
            "thanks\n" + "we need routing for 40 reps across EMEA and a pilot before the end of the quarter",
            None,
        ),
    ],
)
def test_clean_message_cuts_signatures_and_redacts_contact_details(raw, cleaned):
    expected = cleaned if cleaned is not None else " ".join(raw.split())
    assert clean_message(raw) == expected


def test_threshold_choice_prefers_no_abstention_unless_it_pays():
    classes = ["demo_request", "pricing", "unclear"]
    confident = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    assert choose_abstention_threshold(confident, ["demo_request", "pricing", "unclear"], classes) == 0.0
    # Two unsure answers are wrong and their truth is `unclear`: abstaining below 0.45 fixes both.
    unsure = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.35, 0.4, 0.25], [0.1, 0.1, 0.8]])
    truth = ["demo_request", "unclear", "unclear", "unclear"]
    assert 0.40 < choose_abstention_threshold(unsure, truth, classes) <= 0.90


def test_train_and_held_back_split_never_share_a_message():
    train, held_out = split(load_labeled_messages())
    folded = lambda rows: {" ".join(r.message.lower().split()) for r in rows}  # noqa: E731
    assert not folded(train) & folded(held_out)
    assert 0.15 < len(held_out) / (len(train) + len(held_out)) < 0.25
    assert is_held_out("Pricing?") == is_held_out("  pricing?  ")


def test_local_backend_quality_on_held_back_messages_does_not_regress(model_dir, classifier):
    report = evaluate_intent("local", model_dir=model_dir)
    # Measured once, after all changes, 0.907 accuracy / 0.908 macro-F1 with abstentions counted (v1 rows
    # 0.896, v2 0.945, v3 0.898, v4 0.838; target 0.90 / 0.85). The floors sit just below the measurement:
    # they catch a regression, and the accuracy floor is below the target on purpose, since 0.907 is only
    # 0.007 above it (4 messages of 570).
    assert report.all_messages.accuracy >= 0.89
    assert report.all_messages.macro_f1 >= 0.89
    assert report.all_messages.macro_f1 >= TARGET_MACRO_F1
    assert report.all_messages_by_batch["v1"].accuracy >= 0.87
    assert report.all_messages_by_batch["v3"].accuracy >= 0.87
    assert report.all_messages_by_batch["v4"].accuracy >= 0.80
    assert report.expected_calibration_error <= 0.10
    assert report.threshold == classifier.learned_threshold
    assert sum(map(sum, report.confusion_matrix)) == report.held_out_messages
    text = report.format()
    assert "answered only" in text and "abstention = unclear" in text and "calibration" in text
    assert "rows added in v1" in text
    assert f"{TARGET_ACCURACY:.2f}" in text


def _write_rows(path: Path, rows) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["message", "intent", "source", "added_in"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_held_back_labels_never_reach_the_model_or_its_threshold(tmp_path):
    """Flipping every held-back label changes neither the learned threshold nor any answer. A sample of
    the train part (25 per intent) keeps the two trainings fast."""
    train, held_out = split(load_labeled_messages())
    sample = [r for intent in Intent for r in [t for t in train if t.intent is intent][:25]]
    rows = [r.model_dump(mode="json") for r in sample]
    original_path = _write_rows(
        tmp_path / "original.csv", rows + [r.model_dump(mode="json") for r in held_out]
    )
    flipped_path = _write_rows(
        tmp_path / "flipped.csv",
        rows + [{**r.model_dump(mode="json"), "intent": "unclear"} for r in held_out],
    )
    original = LocalIntentClassifier.load_or_train(tmp_path / "a", data_path=original_path)
    flipped = LocalIntentClassifier.load_or_train(tmp_path / "b", data_path=flipped_path)
    assert flipped.training_key != original.training_key
    assert flipped.learned_threshold == original.learned_threshold
    probe = [r.message for r in held_out[:60]]
    assert [p.confidence for p in flipped.predict(probe)] == [p.confidence for p in original.predict(probe)]


def test_trained_model_is_cached_by_data_hash(model_dir, classifier, tmp_path):
    started = time.monotonic()
    again = LocalIntentClassifier.load_or_train(model_dir)
    assert time.monotonic() - started < 2
    assert again.training_key == classifier.training_key == training_key()
    changed = tmp_path / "labeled.csv"
    changed.write_text(DATA_PATH.read_text(encoding="utf-8") + "need a quote for 40 seats,pricing,web_form\n")
    assert training_key(changed) != again.training_key


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
