"""Scaling-law forms and the registry of published laws."""

from .base import Law, Provenance
from .chinchilla import ChinchillaLaw
from .kaplan import KaplanLaw
from .powerlaw import PowerLawAllocation
from .registry import DEFAULT_LAW, FORMS, REGISTRY, get_law, law_from_dict, laws_by_form, list_laws, load_law, register

__all__ = [
    "Law",
    "Provenance",
    "ChinchillaLaw",
    "KaplanLaw",
    "PowerLawAllocation",
    "DEFAULT_LAW",
    "FORMS",
    "REGISTRY",
    "get_law",
    "law_from_dict",
    "laws_by_form",
    "list_laws",
    "load_law",
    "register",
]

# the law modules of the other forms (registry.py lists their laws and forms explicitly)
from . import (  # noqa: E402,F401
    datacon,
    sparsity,
    zoo,  # noqa: E402,F401  (the law zoo: llama3, deepseek, porian, pearce, minicpm, krajewski, ...)
)
from .datacon import DataConstrainedLaw  # noqa: E402,F401  (re-exported)
from .sparsity import *  # noqa: E402,F401,F403
