"""Forkserver preload: import sympy and math-verify and exercise them once, so every verifier worker forked
afterwards starts warm (a cold first parse costs ~0.5-1 s: lazy imports, regex compiles, ANTLR DFA states; paper
mode's extraction regexes are other ones, compiled on their first use)."""

from lmmr1_cli.verify import paper, symbolic

symbolic.warm_up()
paper.warm_up()
