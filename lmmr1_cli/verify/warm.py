"""Forkserver preload: import sympy and math-verify and exercise them once, so every verifier worker forked
afterwards starts warm (a cold first parse costs ~0.5-1 s: lazy imports, regex compiles, ANTLR DFA states)."""

from lmmr1_cli.verify import symbolic

symbolic.warm_up()
