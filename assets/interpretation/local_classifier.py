"""The offline default: an intent classifier trained on the labeled messages the project ships.

Messages are cleaned first (contact details redacted as for the LLM, e-mail signatures and "Sent from my
iPhone" lines cut), then TF-IDF on words (1-2 grams) and accent-folded characters (1-4 grams within words,
robust to typos and to the German/French/Spanish/Portuguese spellings seen on forms) feed a class-balanced
linear SVM whose scores are turned into probabilities by isotonic calibration (5 folds). The abstention
threshold is not a constant: it is chosen at training time on out-of-fold predictions of the TRAIN part,
never on the held-back split.

Every choice below was made by 5-fold cross-validation on the train part only (2,002 messages since the v4
rows), see `assets/interpretation/MODEL_CARD.md`. Trained at first use (about 5-20 s on 2 busy cores)
and cached in a file keyed by the sha256 of the data, this module's source and the scikit-learn version.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pickle
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from pydantic import BaseModel, ConfigDict, Field
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_union
from sklearn.svm import LinearSVC

from integrations.llm.client import InterpretationResult
from integrations.llm.schema import (
    CATALOGUE,
    CONFIG_DIR,
    FOLLOW_UP_MAX_ITEMS,
    PRODUCT_MAX_ITEMS,
    SUMMARY_MAX_CHARS,
    Intent,
    LeadInterpretation,
    LeadText,
    PolicyFlag,
    Urgency,
    redact_contact_details,
)

DATA_PATH = Path(__file__).resolve().parent / "data" / "labeled_messages.csv"
LOCAL_RULES_PATH = CONFIG_DIR / "local_interpretation.v1.json"
# One message in five is held back, chosen by a hash of its folded text: stable across edits of other
# rows, and identical messages (after case/whitespace folding) always land on the same side.
HOLDOUT_MODULUS = 5
# Linear SVM C: 0.2 / 0.5 / 1.0 gave 0.866 / 0.871 / 0.872 out-of-fold accuracy on train; 0.5 fits faster
# than 1.0 for the same result. Isotonic calibration gave ECE 0.08 against 0.16 for sigmoid. Logistic
# regression, complement NB and probability-averaging ensembles of them (v1+v2 train) and, with the v3 rows,
# C 1.0, char 2-5 / plain-char n-grams and digit folding (three fold seeds) all stayed within 0.01: kept.
# The v4 revision changed the data only (its gain, +0.015 out-of-fold on the older rows, came from rows).
SVM_C = 0.5
CALIBRATION_FOLDS = 5
# Folds of the train part whose out-of-fold probabilities choose the abstention threshold.
THRESHOLD_FOLDS = 5
THRESHOLD_CANDIDATES = tuple(round(0.05 * step, 2) for step in range(15))  # 0.00 .. 0.70
# A message with nothing left after cleaning is fed to the model as this token, so "empty" is learned from
# the labeled rows ("Sent from my iPhone", "Thanks!") like any other wording.
EMPTY_MESSAGE_TOKEN = "emptymessage"
_RANDOM_STATE = 0

_SIGNATURE_DELIMITER = re.compile(r"^\s*(--|__+|—)\s*$")
_DEVICE_FOOTER = re.compile(
    r"^\s*(sent from (my|outlook|yahoo|mail)\b|get outlook for|envoy[ée] de mon|von meinem .* gesendet"
    r"|enviado (desde|do) (mi|meu))",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^\s*(thanks?( you| a lot| in advance)?|thx|ty|cheers|regards|best( regards| wishes)?|kind regards"
    r"|warm regards|many thanks|br|mfg|(viele |liebe )?gr(ü|ue)(ß|ss)e|saludos|un saludo|cordialement"
    r"|bien (à vous|cordialement)|merci( beaucoup)?|obrigad[oa]|atenciosamente|abra[çc]os?|gracias)"
    r"\s*[,.!]*\s*$",
    re.IGNORECASE,
)
# A sign-off followed by at most this many short lines (name, title, company) is a signature.
_SIGNATURE_MAX_LINES = 3
_SIGNATURE_MAX_LINE_CHARS = 60


class LabeledMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    message: str
    intent: Intent
    source: str | None = None
    added_in: str | None = Field(
        default=None, description="Which batch of labeling wrote the row, so scores can be split by it."
    )


def fold(text: str) -> str:
    return " ".join(text.lower().split())


def is_held_out(message: str) -> bool:
    digest = hashlib.sha256(fold(message).encode()).hexdigest()
    return int(digest, 16) % HOLDOUT_MODULUS == 0


def load_labeled_messages(path: Path = DATA_PATH) -> list[LabeledMessage]:
    """Every row, validated; a bad row fails with its line number rather than being skipped."""
    rows: list[LabeledMessage] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"message", "intent"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: header must include message,intent (got {reader.fieldnames})")
        for row in reader:
            try:
                rows.append(LabeledMessage.model_validate({k: v or None for k, v in row.items()}))
            except ValueError as error:
                raise ValueError(f"{path}:{reader.line_num}: {error}") from error
    return rows


def split(rows: Sequence[LabeledMessage]) -> tuple[list[LabeledMessage], list[LabeledMessage]]:
    """(train, held_out)."""
    train = [r for r in rows if not is_held_out(r.message)]
    held_out = [r for r in rows if is_held_out(r.message)]
    return train, held_out


def clean_message(text: str) -> str:
    """What the classifier reads: contact details redacted, the signature and device footer cut, whitespace
    folded. Signatures carry names and job titles that say nothing about what the visitor wants but are
    distinctive enough for a small model to learn them as intent."""
    lines = redact_contact_details(text).splitlines()
    kept: list[str] = []
    for line in lines:
        if _SIGNATURE_DELIMITER.match(line) or _DEVICE_FOOTER.match(line):
            break
        kept.append(line)
    for index in range(len(kept) - 1, max(len(kept) - 2 - _SIGNATURE_MAX_LINES, -1), -1):
        tail = kept[index + 1 :]
        if _SIGN_OFF.match(kept[index]) and all(len(line) <= _SIGNATURE_MAX_LINE_CHARS for line in tail):
            kept = kept[:index]
            break
    cleaned = " ".join(" ".join(kept).split())
    return cleaned if re.search(r"\w", cleaned) else EMPTY_MESSAGE_TOKEN


def _build_pipeline() -> Pipeline:
    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode"),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, strip_accents="unicode"),
    )
    classifier = CalibratedClassifierCV(
        LinearSVC(C=SVM_C, class_weight="balanced", random_state=_RANDOM_STATE),
        method="isotonic",
        cv=CALIBRATION_FOLDS,
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def answers_with_abstention(
    probabilities: np.ndarray, classes: Sequence[str], threshold: float
) -> np.ndarray:
    """The top class, or `unclear` where its probability is below `threshold`."""
    top = np.asarray(classes)[probabilities.argmax(axis=1)]
    return np.where(probabilities.max(axis=1) < threshold, Intent.UNCLEAR.value, top)


def choose_abstention_threshold(
    probabilities: np.ndarray, truth: Sequence[str], classes: Sequence[str]
) -> float:
    """The candidate threshold with the best macro-F1 when an abstention counts as answering `unclear`
    (how the evaluation scores it); the lowest such threshold on ties, so nothing is abstained on for free."""
    best_threshold, best_score = 0.0, -1.0
    for threshold in THRESHOLD_CANDIDATES:
        answers = answers_with_abstention(probabilities, classes, threshold)
        score = float(f1_score(truth, answers, average="macro", zero_division=0))
        if score > best_score + 1e-9:
            best_threshold, best_score = threshold, score
    return best_threshold


@dataclass(frozen=True)
class TrainedIntentModel:
    """What the model file holds: the fitted pipeline and the threshold chosen on the train part."""

    pipeline: Pipeline
    abstention_threshold: float
    train_messages: int


def train_intent_model(rows: Sequence[LabeledMessage]) -> TrainedIntentModel:
    if not rows:
        raise ValueError("no labeled messages to train on")
    missing = {i.value for i in Intent} - {r.intent.value for r in rows}
    if missing:
        raise ValueError(f"the training data has no example of {sorted(missing)}")
    texts = [clean_message(r.message) for r in rows]
    labels = np.array([r.intent.value for r in rows])
    folds = StratifiedKFold(THRESHOLD_FOLDS, shuffle=True, random_state=_RANDOM_STATE)
    out_of_fold = cross_val_predict(_build_pipeline(), texts, labels, cv=folds, method="predict_proba")
    threshold = choose_abstention_threshold(out_of_fold, labels, sorted(set(labels)))
    pipeline = _build_pipeline().fit(texts, labels)
    return TrainedIntentModel(pipeline=pipeline, abstention_threshold=threshold, train_messages=len(rows))


class LocalPrediction(BaseModel):
    model_config = ConfigDict(frozen=True)

    intent: Intent = Field(description="`unclear` when abstained.")
    top_intent: Intent = Field(description="The most probable class, before abstention.")
    confidence: float = Field(ge=0, le=1, description="Probability of top_intent.")
    intent_probability: float = Field(ge=0, le=1, description="Probability of `intent` as answered.")
    abstained: bool


def training_key(data_path: Path = DATA_PATH) -> str:
    """What a trained model depends on: the labeled data, this module's code and scikit-learn's version."""
    return hashlib.sha256(
        data_path.read_bytes() + Path(__file__).read_bytes() + sklearn.__version__.encode()
    ).hexdigest()


@dataclass(frozen=True)
class LocalIntentClassifier:
    pipeline: Pipeline
    threshold: float
    training_key: str
    learned_threshold: float

    @classmethod
    def load_or_train(
        cls,
        model_dir: Path,
        *,
        data_path: Path = DATA_PATH,
        threshold: float | None = None,
    ) -> LocalIntentClassifier:
        """`threshold` overrides the abstention threshold learned on the train part (None keeps it)."""
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {threshold}")
        key = training_key(data_path)
        model_path = model_dir / f"local_intent_{key[:24]}.pkl"
        model: TrainedIntentModel | None = None
        if model_path.exists():
            with model_path.open("rb") as handle:
                loaded = pickle.load(handle)
            # A file from an older layout of this module is retrained rather than trusted.
            model = loaded if isinstance(loaded, TrainedIntentModel) else None
        if model is None:
            train, _ = split(load_labeled_messages(data_path))
            model = train_intent_model(train)
            model_dir.mkdir(parents=True, exist_ok=True)
            # Written beside and renamed: a concurrent reader never loads a half-written pickle.
            tmp_path = model_path.with_suffix(f".{os.getpid()}.tmp")
            with tmp_path.open("wb") as handle:
                pickle.dump(model, handle)
            tmp_path.replace(model_path)
        return cls(
            pipeline=model.pipeline,
            threshold=model.abstention_threshold if threshold is None else threshold,
            training_key=key,
            learned_threshold=model.abstention_threshold,
        )

    def predict(self, messages: Sequence[str]) -> list[LocalPrediction]:
        if not messages:
            return []
        probabilities = self.pipeline.predict_proba([clean_message(m) for m in messages])
        classes = list(self.pipeline.classes_)
        unclear_column = classes.index(Intent.UNCLEAR.value)
        predictions = []
        for row in probabilities:
            best = int(np.argmax(row))
            confidence = float(row[best])
            abstained = confidence < self.threshold
            top = Intent(classes[best])
            predictions.append(
                LocalPrediction(
                    intent=Intent.UNCLEAR if abstained else top,
                    top_intent=top,
                    confidence=confidence,
                    intent_probability=float(row[unclear_column]) if abstained else confidence,
                    abstained=abstained,
                )
            )
        return predictions


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path}: {error}") from error


def _compile(groups: dict[str, list[str]]) -> dict[str, list[re.Pattern[str]]]:
    return {name: [re.compile(p, re.IGNORECASE) for p in patterns] for name, patterns in groups.items()}


class LocalInterpreter:
    """A full `LeadInterpretation` without any model server: the classifier's intent and confidence,
    products by catalogue keywords, urgency and policy flags by cue phrases, follow-ups per intent."""

    def __init__(self, classifier: LocalIntentClassifier, rules_path: Path = LOCAL_RULES_PATH) -> None:
        rules = _load_json(rules_path)
        self.classifier = classifier
        self.rules_version: str = rules["version"]
        self._urgency = _compile(rules["urgency"])
        self._flags = _compile(rules["policy_flags"])
        self._follow_ups: dict[str, list[str]] = rules["follow_up_questions"]
        self._products = _compile({p.id: p.keywords for p in CATALOGUE.products})
        unknown = set(self._flags) - {f.value for f in PolicyFlag}
        if unknown:
            raise ValueError(f"{rules_path}: unknown policy flags {sorted(unknown)}")

    @property
    def model_name(self) -> str:
        return f"local:{self.classifier.training_key[:12]}"

    def interpret(self, lead: LeadText) -> InterpretationResult:
        return self.interpret_many([lead])[0]

    def interpret_many(self, leads: Sequence[LeadText]) -> list[InterpretationResult]:
        """One classifier call for the whole batch: 0.4 ms a lead against 23 ms one by one."""
        started = time.monotonic()
        predictions = self.classifier.predict([lead.message or "" for lead in leads])
        interpretations = [self._interpretation(lead, p) for lead, p in zip(leads, predictions, strict=True)]
        latency_ms = (time.monotonic() - started) * 1000 / max(len(leads), 1)
        return [
            InterpretationResult(
                interpretation=interpretation,
                backend="local",
                model=self.model_name,
                prompt_version=self.rules_version,
                from_cache=False,
                attempts=0,
                prompt_tokens=0,
                completion_tokens=0,
                cost_usd=0.0,
                latency_ms=latency_ms,
            )
            for interpretation in interpretations
        ]

    def interpretation(self, lead: LeadText) -> LeadInterpretation:
        return self._interpretation(lead, self.classifier.predict([lead.message or ""])[0])

    def _interpretation(self, lead: LeadText, prediction: LocalPrediction) -> LeadInterpretation:
        text = lead.message or ""

        def hits(patterns: list[re.Pattern[str]]) -> bool:
            return any(p.search(text) for p in patterns)

        flags = [PolicyFlag(name) for name, patterns in self._flags.items() if hits(patterns)]
        if flags or hits(self._urgency["high"]):
            urgency = Urgency.HIGH
        elif hits(self._urgency["medium"]):
            urgency = Urgency.MEDIUM
        else:
            urgency = Urgency.LOW
        products = [pid for pid, patterns in self._products.items() if hits(patterns)]
        folded = " ".join(text.split())
        summary = folded if len(folded) <= SUMMARY_MAX_CHARS else folded[: SUMMARY_MAX_CHARS - 1] + "…"
        return LeadInterpretation(
            intent=prediction.intent,
            product_interest=products[:PRODUCT_MAX_ITEMS],
            urgency=urgency,
            summary=summary or "(empty message)",
            follow_up_questions=self._follow_ups.get(prediction.intent.value, [])[:FOLLOW_UP_MAX_ITEMS],
            policy_sensitive=bool(flags),
            policy_flags=flags,
            confidence=prediction.intent_probability,
        )
