"""The policy's intent rules (`<policy>/intent_rules.csv`) read in Python exactly as dbt reads them
(`int_classify_lead_intents`), so the evaluation and the tests can score the rules an analyst edits without
building a warehouse.

Two kinds of rows decide nothing on their own but mark a message as instruction-like, i.e. text written to
steer a model or an automated rule ("ignore all previous instructions", "SYSTEM:", `{"intent": ...}`).
A marked message is not evidence for any decision: its intent comes from the form it was sent with, as if it
were empty; only its policy phrases still count (a person reading it is never a harmful outcome).
- `instruction_like`: a phrase matched on the de-obfuscated words of the message: lower-cased, accents
  folded, zero-width characters dropped, look-alike Cyrillic letters and leetspeak digits read as the Latin
  letters they imitate, everything but letters turned into one space. A phrase of at least
  `SPACED_LETTERS_MIN` letters also matches the message's letters run together, which defeats
  "i g n o r e  p r e v i o u s" and "IGNORE_ALL_PREVIOUS"; shorter phrases would match inside ordinary
  words that way ("act as a" inside "contact as a").
- `instruction_marker`: a literal, lower-cased substring (role lines, prompt markup, answer fields).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Shortest letters-only phrase matched against the message's letters run together: 12 letters
# ("previousinstructions" 20, "systemprompt" 12) found nothing in the 2,572 labeled messages.
SPACED_LETTERS_MIN = 12
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")
# Digits and symbols read as letters, and the Cyrillic letters that look Latin. Kept identical to the
# translate() in int_classify_lead_intents.sql.
LOOKALIKES_FROM = "01345@$7аеорсухі"
LOOKALIKES_TO = "oieasastaeopcyxi"
_LOOKALIKES = str.maketrans(LOOKALIKES_FROM, LOOKALIKES_TO)
_LETTERS = re.compile(r"[a-z]+")


def fold_for_instructions(text: str) -> tuple[str, str]:
    """(words, letters): the message as ' word word ' and as all its letters run together."""
    lowered = _INVISIBLE.sub("", text).lower()
    folded = "".join(c for c in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(c))
    runs = _LETTERS.findall(folded.translate(_LOOKALIKES))
    return " " + " ".join(runs) + " ", "".join(runs)


@dataclass(frozen=True)
class IntentRule:
    rule_id: str
    priority: int
    source: str | None
    applies_to: str
    keyword: str
    intent: str | None
    policy_flag: str | None


@dataclass(frozen=True)
class RuleReading:
    """What the rules say about one message: the rule that decides it and the instruction rule, if any."""

    rule: IntentRule | None
    instruction_rule_id: str | None

    @property
    def policy_flag(self) -> str | None:
        return self.rule.policy_flag if self.rule is not None else None


def load_intent_rules(path: Path) -> list[IntentRule]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [
            IntentRule(
                rule_id=row["rule_id"],
                priority=int(row["priority"]),
                source=row["source"] or None,
                applies_to=row["applies_to"],
                keyword=(row["keyword"] or "").lower(),
                intent=row["intent"] or None,
                policy_flag=row["policy_flag"] or None,
            )
            for row in csv.DictReader(handle)
        ]
    return sorted(rows, key=lambda rule: (rule.priority, rule.rule_id))


class IntentRules:
    def __init__(self, rules: list[IntentRule]) -> None:
        self.rules = sorted(rules, key=lambda rule: (rule.priority, rule.rule_id))
        self._instruction_words = {
            rule.rule_id: fold_for_instructions(rule.keyword)
            for rule in self.rules
            if rule.applies_to == "instruction_like"
        }

    @classmethod
    def from_policy(cls, policy_dir: Path) -> IntentRules:
        return cls(load_intent_rules(policy_dir / "intent_rules.csv"))

    def instruction_rule(self, message: str | None) -> str | None:
        """The first instruction rule (by priority) the message matches, or None."""
        text = (message or "").strip().lower()
        if not text:
            return None
        words, letters = fold_for_instructions(text)
        for rule in self.rules:
            if rule.applies_to == "instruction_marker" and rule.keyword and rule.keyword in text:
                return rule.rule_id
            if rule.applies_to == "instruction_like":
                phrase_words, phrase_letters = self._instruction_words[rule.rule_id]
                if phrase_letters and (
                    phrase_words in words
                    or (len(phrase_letters) >= SPACED_LETTERS_MIN and phrase_letters in letters)
                ):
                    return rule.rule_id
        return None

    def read(self, message: str | None, source: str | None = None) -> RuleReading:
        """The deciding rule as `int_classify_lead_intents` picks it: the first by priority among message
        phrases (policy phrases only when the message is instruction-like) and the form rule of an empty
        (or instruction-like) message."""
        text = (message or "").strip().lower()
        instruction = self.instruction_rule(text)
        evidence = "" if instruction else text
        for rule in self.rules:
            if rule.source is not None and rule.source != source:
                continue
            if rule.applies_to == "no_message" and evidence == "":
                return RuleReading(rule, instruction)
            if (
                rule.applies_to == "message_contains"
                and text
                and rule.keyword in text
                and (evidence or rule.policy_flag is not None)
            ):
                return RuleReading(rule, instruction)
        return RuleReading(None, instruction)
