"""Answer verification for rule-based RL rewards and evaluation (see shared/DESIGN.md, "Verifier contract").

>>> from lmmr1_cli.verify import verify
>>> verify("<think>...</think><answer>\\\\boxed{\\\\frac{1}{2}}</answer>", "0.5").correct
True
"""

from lmmr1_cli.verify.batch import parse_gold, parse_golds, verify, verify_batch, verify_batch_with_stats
from lmmr1_cli.verify.extract import Extraction, extract_answer
from lmmr1_cli.verify.format import check_format
from lmmr1_cli.verify.paper import PaperVerdict
from lmmr1_cli.verify.paper_batch import verify_paper_batch, verify_paper_batch_with_stats
from lmmr1_cli.verify.verdicts import (
    BatchStats,
    GoldParseError,
    PaperBatchStats,
    ParsedGold,
    Verdict,
    VerifyItem,
)

__all__ = [
    "BatchStats",
    "Extraction",
    "GoldParseError",
    "PaperBatchStats",
    "PaperVerdict",
    "ParsedGold",
    "Verdict",
    "VerifyItem",
    "check_format",
    "extract_answer",
    "parse_gold",
    "parse_golds",
    "verify",
    "verify_batch",
    "verify_batch_with_stats",
    "verify_paper_batch",
    "verify_paper_batch_with_stats",
]
