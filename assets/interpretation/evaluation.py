"""`evaluate_intent`: either backend on the held-back split of the shipped labeled messages.

Two views, because an abstention is neither right nor wrong in the same way as an answer:
- answered: only the messages the backend did not abstain on;
- all messages: every message, an abstention scored as the answer `unclear` (so it is an error unless the
  true label is `unclear`).
The all-messages view is also split by the labeling batch a row came from (`added_in`), because rows
written in the same batch as most of the training data are easier than rows written independently of it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from assets.interpretation.intent_rules import IntentRules
from assets.interpretation.local_classifier import (
    DATA_PATH,
    LocalIntentClassifier,
    LocalInterpreter,
    load_labeled_messages,
    split,
)
from integrations.llm.client import LeadInterpreter, LLMSettings, RunUsage
from integrations.llm.schema import Intent, LeadText

# Written before any policy phrase was added and never used to choose one (MODEL_CARD.md counts the looks).
POLICY_HELDBACK_PATH = DATA_PATH.parent / "heldback_policy_sensitive.csv"
TARGET_POLICY_RECALL = 0.95
TARGET_POLICY_PRECISION = 0.90
TARGET_ACCURACY = 0.90
TARGET_MACRO_F1 = 0.85
ECE_BINS = 10
# The LLM's self-reported confidence below which its answer counts as an abstention (unchanged from the
# first evaluation, so LLM reports stay comparable).
LLM_ABSTENTION_THRESHOLD = 0.30


class ViewScores(BaseModel):
    model_config = ConfigDict(frozen=True)

    messages: int
    accuracy: float
    macro_f1: float

    @property
    def meets_target(self) -> bool:
        return self.accuracy >= TARGET_ACCURACY and self.macro_f1 >= TARGET_MACRO_F1


class PolicySensitiveScores(BaseModel):
    """Whether the policy's rules, then the backend for a message no rule decides, flag a message as
    policy-sensitive (any policy flag escalates it), on the separate held-back set."""

    model_config = ConfigDict(frozen=True)

    data_path: str
    policy_dir: str
    messages: int
    positives: int
    recall: float
    precision: float
    recall_by_category: dict[str, float]

    @property
    def meets_target(self) -> bool:
        return self.recall >= TARGET_POLICY_RECALL and self.precision >= TARGET_POLICY_PRECISION

    def format(self) -> str:
        verdict = "meets target" if self.meets_target else "below target"
        by_category = ", ".join(
            f"{name} {value:.2f}" for name, value in sorted(self.recall_by_category.items())
        )
        return (
            f"policy-sensitive ({self.policy_dir} rules, then the backend), {self.data_path}:"
            f" {self.positives} sensitive / {self.messages} msgs\n"
            f"  target: recall >= {TARGET_POLICY_RECALL:.2f} and precision >= {TARGET_POLICY_PRECISION:.2f}\n"
            f"  recall {self.recall:.3f}  precision {self.precision:.3f}  {verdict}\n"
            f"  recall by category: {by_category}"
        )


def evaluate_policy_sensitive(
    rules: IntentRules,
    backend_flags: Callable[[list[str]], list[bool]],
    *,
    policy_dir: Path,
    data_path: Path = POLICY_HELDBACK_PATH,
) -> PolicySensitiveScores:
    """As a lead from a web form is decided: the first rule by priority; a policy phrase flags it, another
    rule decides it unflagged, and only a message no rule reads goes to the backend (`backend_flags`)."""
    with data_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    readings = [rules.read(row["message"], "web_form") for row in rows]
    undecided = [
        i for i, reading in enumerate(readings) if reading.rule is None and not reading.instruction_rule_id
    ]
    flagged = [reading.policy_flag is not None for reading in readings]
    for index, flag in zip(undecided, backend_flags([rows[i]["message"] for i in undecided]), strict=True):
        flagged[index] = flag
    truth = [row["policy_sensitive"] == "1" for row in rows]
    hits = sum(f and t for f, t in zip(flagged, truth, strict=True))
    categories = sorted({row["category"] for row, t in zip(rows, truth, strict=True) if t})
    return PolicySensitiveScores(
        data_path=str(data_path),
        policy_dir=str(policy_dir),
        messages=len(rows),
        positives=sum(truth),
        recall=hits / max(sum(truth), 1),
        precision=hits / max(sum(flagged), 1),
        recall_by_category={
            category: sum(f for f, row in zip(flagged, rows, strict=True) if row["category"] == category)
            / sum(row["category"] == category for row in rows)
            for category in categories
        },
    )


class IntentEvalReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    backend: Literal["local", "openai"]
    model: str
    data_path: str
    threshold: float = Field(description="Abstention threshold in force for this evaluation.")
    train_messages: int
    held_out_messages: int
    abstention_rate: float
    answered: ViewScores = Field(description="Non-abstained messages only.")
    all_messages: ViewScores = Field(description="Every message; an abstention counts as answering unclear.")
    all_messages_by_batch: dict[str, ViewScores] = Field(
        description="The all-messages view per labeling batch (`added_in`; `unknown` when the row has none)."
    )
    expected_calibration_error: float = Field(description="10 equal-width bins of top-class confidence.")
    labels: list[str]
    confusion_matrix: list[list[int]] = Field(description="Rows true label, columns final answer.")
    usage: RunUsage | None = None
    policy_sensitive: PolicySensitiveScores | None = None

    def format(self) -> str:
        def verdict(view: ViewScores) -> str:
            return "meets target" if view.meets_target else "below target"

        lines = [
            f"intent evaluation — backend {self.backend} ({self.model})",
            f"data {self.data_path}: {self.train_messages} train / {self.held_out_messages} held back",
            f"abstain below confidence {self.threshold:.2f}: abstention rate {self.abstention_rate:.1%}",
            f"target: accuracy >= {TARGET_ACCURACY:.2f} and macro-F1 >= {TARGET_MACRO_F1:.2f}",
            f"  answered only ({self.answered.messages} msgs):  accuracy {self.answered.accuracy:.3f}"
            f"  macro-F1 {self.answered.macro_f1:.3f}  {verdict(self.answered)}",
            f"  all, abstention = unclear ({self.all_messages.messages} msgs):  accuracy"
            f" {self.all_messages.accuracy:.3f}  macro-F1 {self.all_messages.macro_f1:.3f}"
            f"  {verdict(self.all_messages)}",
            *(
                f"    rows added in {batch} ({view.messages} msgs):  accuracy {view.accuracy:.3f}"
                f"  macro-F1 {view.macro_f1:.3f}"
                for batch, view in sorted(self.all_messages_by_batch.items())
            ),
            f"expected calibration error (10 bins): {self.expected_calibration_error:.3f}",
            "confusion matrix (rows true, columns answered):",
        ]
        short = [label[:7] for label in self.labels]
        width = max(len(label) for label in self.labels)
        lines.append(" " * (width + 2) + " ".join(f"{s:>7}" for s in short))
        for label, row in zip(self.labels, self.confusion_matrix, strict=True):
            lines.append(f"  {label:<{width}}" + " ".join(f"{n:>7}" for n in row))
        if self.usage is not None:
            u = self.usage
            lines.append(
                f"usage: {u.requests} requests, {u.cache_hits} cache hits, {u.failures} failures,"
                f" {u.prompt_tokens + u.completion_tokens} tokens, ${u.cost_usd:.4f}"
            )
        if self.policy_sensitive is not None:
            lines.append(self.policy_sensitive.format())
        return "\n".join(lines)


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Weighted mean |accuracy - confidence| over equal-width confidence bins (first bin closed)."""
    if len(confidences) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    # np.digitize with right=True puts 0.0 in bin 0 and 1.0 in the last bin.
    index = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidences[mask].mean())
    return float(error)


def _scores(truth: np.ndarray, answers: np.ndarray) -> ViewScores:
    if len(truth) == 0:
        return ViewScores(messages=0, accuracy=0.0, macro_f1=0.0)
    return ViewScores(
        messages=len(truth),
        accuracy=float(accuracy_score(truth, answers)),
        macro_f1=float(f1_score(truth, answers, average="macro", zero_division=0)),
    )


def evaluate_intent(
    backend: Literal["local", "openai"],
    *,
    model_dir: Path,
    data_path: Path = DATA_PATH,
    threshold: float | None = None,
    llm_settings: LLMSettings | None = None,
    policy_dir: Path | None = None,
) -> IntentEvalReport:
    """Score a backend on the held-back split. `model_dir` holds the local model file; the openai backend
    needs `llm_settings` (its cache, if set, makes a second evaluation free). `threshold` None uses the
    local model's threshold learned on the train part, or `LLM_ABSTENTION_THRESHOLD` for the LLM.
    `policy_dir` (a policy folder with intent_rules.csv) adds the policy-sensitive recall and precision."""
    train, held_out = split(load_labeled_messages(data_path))
    truth = np.array([r.intent.value for r in held_out])
    usage: RunUsage | None = None
    if backend not in ("local", "openai"):
        raise ValueError(f"unknown backend {backend!r}: use 'local' or 'openai'")
    if backend == "openai" and llm_settings is None:
        raise ValueError("the openai backend needs LLM settings (LEADOPS_LLM_BASE_URL, LEADOPS_LLM_MODEL)")
    if backend == "local":
        classifier = LocalIntentClassifier.load_or_train(model_dir, data_path=data_path, threshold=threshold)
        threshold = classifier.threshold
        predictions = classifier.predict([r.message for r in held_out])
        top = np.array([p.top_intent.value for p in predictions])
        confidence = np.array([p.confidence for p in predictions])
        abstained = np.array([p.abstained for p in predictions])
        model = f"local:{classifier.training_key[:12]}"
        interpreter = LocalInterpreter(classifier)

        def backend_flags(messages: list[str]) -> list[bool]:
            results = interpreter.interpret_many([LeadText(message=m, source="web_form") for m in messages])
            return [r.interpretation.policy_sensitive for r in results]
    else:
        assert llm_settings is not None
        threshold = LLM_ABSTENTION_THRESHOLD if threshold is None else threshold
        interpreter = LeadInterpreter(llm_settings)
        run = interpreter.interpret_many([LeadText(message=r.message, source=r.source) for r in held_out])
        usage = run.usage
        top = np.array([r.interpretation.intent.value for r in run.results])
        confidence = np.array([r.interpretation.confidence for r in run.results])
        abstained = np.array(
            [r.failure_reason is not None or r.interpretation.confidence < threshold for r in run.results]
        )
        model = llm_settings.model

        def backend_flags(messages: list[str]) -> list[bool]:
            batch = interpreter.interpret_many([LeadText(message=m, source="web_form") for m in messages])
            return [r.interpretation.policy_sensitive for r in batch.results]

    answers = np.where(abstained, Intent.UNCLEAR.value, top)
    batches = np.array([r.added_in or "unknown" for r in held_out])
    labels = [i.value for i in Intent]
    return IntentEvalReport(
        backend=backend,
        model=model,
        data_path=str(data_path),
        threshold=threshold,
        train_messages=len(train),
        held_out_messages=len(held_out),
        abstention_rate=float(abstained.mean()) if len(held_out) else 0.0,
        answered=_scores(truth[~abstained], top[~abstained]),
        all_messages=_scores(truth, answers),
        all_messages_by_batch={
            str(batch): _scores(truth[batches == batch], answers[batches == batch])
            for batch in np.unique(batches)
        },
        expected_calibration_error=expected_calibration_error(confidence, top == truth),
        labels=labels,
        confusion_matrix=confusion_matrix(truth, answers, labels=labels).tolist(),
        usage=usage,
        policy_sensitive=None
        if policy_dir is None
        else evaluate_policy_sensitive(
            IntentRules.from_policy(policy_dir), backend_flags, policy_dir=policy_dir
        ),
    )
