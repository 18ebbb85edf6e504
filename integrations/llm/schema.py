"""The boundary of the intent stage: what goes to a model (`LeadText`) and what may come back
(`LeadInterpretation`), plus the strict JSON Schema sent for structured outputs.

Every bound lives in the pydantic models, so an answer from any backend (LLM, local classifier, cache) is
validated by the same code before anyone downstream sees it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

CONFIG_DIR = Path(__file__).resolve().parent / "config"
PRODUCTS_PATH = CONFIG_DIR / "products.v1.json"

SUMMARY_MAX_CHARS = 280
FOLLOW_UP_MAX_ITEMS = 3
FOLLOW_UP_MAX_CHARS = 200
PRODUCT_MAX_ITEMS = 5
# A form message longer than this is cut before it reaches a model: 4,000 characters is ~1,000 tokens,
# which bounds the cost of one call; the full text stays in the warehouse.
MESSAGE_MAX_CHARS = 4000
SHORT_FIELD_MAX_CHARS = 300


class Intent(StrEnum):
    DEMO_REQUEST = "demo_request"
    PRICING = "pricing"
    SUPPORT = "support"
    EXPANSION = "expansion"
    PARTNERSHIP = "partnership"
    JOB_SEEKER = "job_seeker"
    STUDENT = "student"
    VENDOR_PITCH = "vendor_pitch"
    GENERAL_INFO = "general_info"
    UNCLEAR = "unclear"


class Urgency(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class PolicyFlag(StrEnum):
    """Every flag a policy's intent rules may set (seed intent_rules, accepted values of policy_flag), most
    severe first: a model may say the same, and a lead raising several keeps the first."""

    LEGAL_THREAT = "legal_threat"
    DATA_DELETION_REQUEST = "data_deletion_request"
    DATA_ACCESS_REQUEST = "data_access_request"
    SECURITY_REPORT = "security_report"
    OPT_OUT_REQUEST = "opt_out_request"
    COMPLAINT = "complaint"
    PRESS_INQUIRY = "press_inquiry"


class Product(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
    description: str
    keywords: list[str]


class ProductCatalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    description: str
    products: list[Product] = Field(min_length=1)

    @field_validator("products")
    @classmethod
    def _ids_unique(cls, products: list[Product]) -> list[Product]:
        ids = [p.id for p in products]
        if len(ids) != len(set(ids)):
            raise ValueError(f"product ids must be unique, got {ids}")
        return products


def load_catalogue(path: Path = PRODUCTS_PATH) -> ProductCatalogue:
    try:
        return ProductCatalogue.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"invalid product catalogue {path}: {error}") from error


CATALOGUE = load_catalogue()
# Built from the versioned catalogue so the JSON Schema's enum and the validator can never disagree.
ProductId = StrEnum("ProductId", {p.id.upper(): p.id for p in CATALOGUE.products})  # type: ignore[misc]

ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=FOLLOW_UP_MAX_CHARS)
]


class LeadInterpretation(BaseModel):
    """What a rep sees about a lead's message. Closed enums only; unknown keys are rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: Intent
    product_interest: list[ProductId] = Field(  # type: ignore[valid-type]
        max_length=PRODUCT_MAX_ITEMS,
        description="Products from the catalogue the lead is interested in; empty when none is named.",
    )
    urgency: Urgency
    summary: str = Field(
        min_length=1,
        max_length=SUMMARY_MAX_CHARS,
        description=f"One or two sentences for the sales rep, at most {SUMMARY_MAX_CHARS} characters.",
    )
    follow_up_questions: list[ShortText] = Field(
        max_length=FOLLOW_UP_MAX_ITEMS,
        description="Questions that would fill missing facts (company size, timeline, use case).",
    )
    policy_sensitive: bool = Field(description="True exactly when policy_flags is not empty.")
    policy_flags: list[PolicyFlag] = Field(max_length=len(PolicyFlag))
    confidence: float = Field(ge=0.0, le=1.0)

    @field_validator("product_interest", "policy_flags")
    @classmethod
    def _no_duplicates(cls, values: list[Any]) -> list[Any]:
        if len(values) != len(set(values)):
            raise ValueError("items must be unique")
        return values

    @model_validator(mode="after")
    def _sensitivity_matches_flags(self) -> LeadInterpretation:
        if self.policy_sensitive != bool(self.policy_flags):
            raise ValueError("policy_sensitive must be true exactly when policy_flags is not empty")
        return self

    @classmethod
    def unclear(cls) -> LeadInterpretation:
        """The answer when no trustworthy interpretation exists: nothing is inferred, confidence 0.
        The reason goes beside it (`InterpretationResult.failure_reason`), not into the rep-facing
        summary, because it can quote what a model server sent."""
        return cls(
            intent=Intent.UNCLEAR,
            product_interest=[],
            urgency=Urgency.LOW,
            summary="No automatic interpretation; please read the message.",
            follow_up_questions=[],
            policy_sensitive=False,
            policy_flags=[],
            confidence=0.0,
        )


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def redact_contact_details(text: str) -> str:
    """Replace e-mail addresses and phone numbers typed into free text: a model never needs them."""
    text = _EMAIL.sub("[email]", text)
    # Region "US" lets national-format numbers match too; "+.." numbers match under any region.
    matches = list(phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.POSSIBLE))
    for match in reversed(matches):
        text = text[: match.start] + "[phone]" + text[match.end :]
    return text


def _clean(value: object, max_chars: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    folded = value.strip()
    return redact_contact_details(folded)[:max_chars] or None


class LeadText(BaseModel):
    """The only lead fields a model may see. Names, e-mail, phone and IP are not fields here, so they
    cannot be sent; contact details typed into the text are redacted on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: str | None = None
    job_title: str | None = None
    company: str | None = None
    source: str | None = None
    landing_page: str | None = None

    @field_validator("message", mode="before")
    @classmethod
    def _clean_message(cls, value: object) -> str | None:
        return _clean(value, MESSAGE_MAX_CHARS)

    @field_validator("job_title", "company", "source", "landing_page", mode="before")
    @classmethod
    def _clean_short(cls, value: object) -> str | None:
        return _clean(value, SHORT_FIELD_MAX_CHARS)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> LeadText:
        """Pick the allowed fields out of a whole inbound event (e.g. a `raw.inbound_events` row)."""
        return cls(**{name: event.get(name) for name in cls.model_fields})

    def prompt_fields(self) -> dict[str, str]:
        """The non-empty fields, in a fixed order: the prompt payload and the cache key use this."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


# JSON Schema keywords OpenAI's strict mode rejects; the bounds they carry are still enforced by pydantic,
# and restated in each field's description so the model sees them.
_UNSUPPORTED_IN_STRICT = ("maxLength", "minLength", "default", "title")


def _make_strict(node: Any, *, names: bool = False) -> Any:
    """`names` marks a map of property or definition names, whose keys are data, not keywords."""
    if isinstance(node, dict):
        out = {
            key: _make_strict(value, names=key in ("properties", "$defs") and not names)
            for key, value in node.items()
            if names or key not in _UNSUPPORTED_IN_STRICT
        }
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
            out["required"] = list(out["properties"])
        return out
    if isinstance(node, list):
        return [_make_strict(item) for item in node]
    return node


@cache
def _strict_schema() -> str:
    return json.dumps(_make_strict(LeadInterpretation.model_json_schema()), sort_keys=True)


def strict_json_schema() -> dict[str, Any]:
    """`LeadInterpretation` as a strict-mode JSON Schema: every property required, no extra keys."""
    return copy.deepcopy(json.loads(_strict_schema()))


def schema_sha256() -> str:
    return hashlib.sha256(_strict_schema().encode()).hexdigest()
