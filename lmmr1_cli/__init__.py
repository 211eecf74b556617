"""lmmr1: rule-based RL for small vision-language models (the two-stage LMM-R1 recipe) on TRL."""

__version__ = "0.1.0"
