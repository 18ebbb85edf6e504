"""Intent stage: what a lead's message asks for, from an LLM in a bounded role or the local classifier."""

from assets.intent.evaluation import IntentEvalReport, evaluate_intent
from assets.intent.llm import (
    InterpretationCache,
    InterpretationResult,
    InterpretationRun,
    LeadInterpreter,
    LLMSettings,
    PromptTemplate,
    RunUsage,
)
from assets.intent.local_classifier import LocalIntentClassifier, LocalInterpreter
from assets.intent.schema import Intent, LeadInterpretation, LeadText, PolicyFlag, Urgency

__all__ = [
    "Intent",
    "IntentEvalReport",
    "InterpretationCache",
    "InterpretationResult",
    "InterpretationRun",
    "LLMSettings",
    "LeadInterpretation",
    "LeadInterpreter",
    "LeadText",
    "LocalIntentClassifier",
    "LocalInterpreter",
    "PolicyFlag",
    "PromptTemplate",
    "RunUsage",
    "Urgency",
    "evaluate_intent",
]
