r"""(response, gold, official format verdict, official accuracy verdict) for the `paper` reward mode.

The expected verdicts are what the official LMM-R1 reward server returns for each pair: `math_verifier.py` of
TideDra/lmm-r1 at f917f18, imported unmodified and run with the math-verify version it pins (0.5.2), by
`bench/official_reference.py` (which re-checks this table against the official code). math-verify 0.9.0, which
lmmr1 installs, gives the same verdicts on every case.
"""

from __future__ import annotations

T, F = True, False
OK = "<think>2+2=4</think><answer>$4$</answer>"

PAPER_CASES = [
    # --- the format rule: exact layout, one of each tag, end-of-sequence tokens removed, then stripped
    (OK, "4", T, T),
    ("<think>2+2=4</think>\n<answer>$4$</answer>", "4", F, T),  # newline between the tags
    ("<think>2+2=4</think> <answer>$4$</answer>", "4", F, T),  # a space between the tags
    ("\n  <think>2+2=4</think><answer>$4$</answer>\n\n", "4", T, T),  # outer whitespace is stripped
    ("<think>\nline one\nline two\n</think><answer>\n$4$\n</answer>", "4", T, T),  # DOTALL
    ("<think>a</think><think>b</think><answer>$4$</answer>", "4", F, T),  # two <think>
    ("<think>a<think>b</think><answer>$4$</answer>", "4", F, T),  # a nested <think>
    ("<think>a</think><answer>$4$</answer><answer>$5$</answer>", "4", F, F),  # two <answer>: the last is read
    ("<think>a</think><answer>$4$</answer> trailing words", "4", F, T),
    ("<answer>$4$</answer>", "4", F, T),  # no <think>
    ("<think>a</think>$4$", "4", F, F),  # no <answer>: a $…$ counts only after an "answer" anchor
    ("<THINK>a</THINK><ANSWER>$4$</ANSWER>", "4", F, T),  # tags are case-sensitive
    ("<think></think><answer></answer>", "4", T, F),  # empty tags pass the format, not the accuracy
    ("<think>a</think><answer>$4$ </think></answer>", "4", T, T),  # a stray </think> inside the answer
    ("<think>a</think><answer>$4$</answer></think>", "4", F, T),
    ("Let me think. <think>a</think><answer>$4$</answer>", "4", F, T),  # text before <think>
    # --- end-of-sequence tokens: the server's four are removed anywhere; others are not
    (OK + "<|im_end|>", "4", T, T),
    (OK + "<|endoftext|><|endoftext|><|endoftext|>", "4", T, T),
    (OK + "<end_of_turn>", "4", T, T),
    (OK + "<｜end▁of▁sentence｜>", "4", T, T),
    ("<think>a</think><|im_end|><answer>$4$</answer>", "4", T, T),  # removed between the tags too
    (OK + "\n<|im_end|>\n", "4", T, T),
    (OK + "<|im_start|>", "4", F, T),
    (OK + "</s>", "4", F, T),
    # --- accuracy reads the whole response: \boxed{} anywhere first, then a $…$ after an "answer" anchor
    # (the word in <answer> is one); nothing bare
    ("<think>The sum is \\boxed{3}.</think><answer>$4$</answer>", "4", T, F),  # boxed in the reasoning wins
    ("<think>The sum is \\boxed{3}.</think><answer>$4$</answer>", "3", T, T),
    (
        "<think>so $x = 3$ and then</think><answer>$4$</answer>",
        "4",
        T,
        T,
    ),  # the $…$ after the <answer> anchor, not the reasoning's
    ("<think>so $x = 3$ and then</think><answer>$4$</answer>", "3", T, F),
    ("<think>a</think><answer>$\\boxed{4}$</answer>", "4", T, T),
    ("\\boxed{60}", "$\\boxed{60}$", F, T),  # no tags at all, still correct
    ("The final answer is $60$.", "60", F, T),
    ("<think>a</think><answer>2</answer>", "2", T, F),  # a bare number is not extracted (no anchor)
    ("<think>a</think><answer>The answer is 2</answer>", "2", T, F),
    ("<think>a</think><answer>\\(2\\)</answer>", "2", T, T),
    ("<think>a</think><answer>\\[2\\]</answer>", "2", T, T),
    ("<think>a</think><answer>$4</answer>", "4", T, F),  # an unclosed $
    # --- gold handling: wrapped in $…$ unless it starts with $
    ("<think>a</think><answer>$60$</answer>", "$\\boxed{60}$", T, T),
    ("<think>a</think><answer>$\\boxed{60}$</answer>", "60", T, T),
    ("<think>a</think><answer>$\\frac{1}{2}$</answer>", "0.5", T, T),
    ("<think>a</think><answer>$0.5$</answer>", "\\frac{1}{2}", T, T),
    ("<think>a</think><answer>$\\frac12$</answer>", "1/2", T, F),  # gold $1/2$ vs \frac12
    ("<think>a</think><answer>$2.0$</answer>", "2", T, T),
    ("<think>a</think><answer>$\\sqrt{2}$</answer>", "\\sqrt{2}", T, T),
    ("<think>a</think><answer>$2\\sqrt{3}$</answer>", "\\sqrt{12}", T, T),
    ("<think>a</think><answer>$x = 3$</answer>", "3", T, T),
    ("<think>a</think><answer>$5$</answer>", "4", T, F),
    ("<think>a</think><answer>$-4$</answer>", "4", T, F),
    ("<think>a</think><answer>$60^\\circ$</answer>", "60", T, T),
    ("<think>a</think><answer>$(1, 2)$</answer>", "(1,2)", T, T),
    ("<think>a</think><answer>$(2, 1)$</answer>", "(1,2)", T, F),
    # --- choice letters: only inside $…$ or \boxed{}
    ("<think>a</think><answer>$\\boxed{A}$</answer>", "A", T, T),
    ("<think>a</think><answer>$A$</answer>", "$\\boxed{A}$", T, T),
    ("<think>a</think><answer>A</answer>", "A", T, F),
    ("<think>a</think><answer>(A)</answer>", "A", T, F),
    ("<think>a</think><answer>$B$</answer>", "A", T, F),
    ("<think>I pick \\boxed{B}</think><answer>$A$</answer>", "A", T, F),
]
