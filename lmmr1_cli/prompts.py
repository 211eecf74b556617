"""The chat messages a canonical row becomes: the same in prepare-data (length checks), training and eval.

Which system message a row gets (`resolve_system_prompt`), as the official LMM-R1 runs do it:
- `auto` (the default): the row's own system message when its source carried one (LMM-R1 message JSONL keeps
  the system message in `message`, and the official trainer feeds the message as it is), else the paper's R1
  prompt;
- `r1`: the paper's R1 prompt; `tiny`: the prompt the embedded tiny model was built with; `none`: no system
  message (the paper's baseline evaluation); any other text is used as it is.
"""

from __future__ import annotations

# The paper's system prompt (arXiv 2503.07536 Appendix E, the same in training and evaluation). Byte for byte,
# typos and the missing space after "$...$." included, from TideDra/lmm-r1 examples/data/convert_text_to_img.py
# `SYSTEM_PROMPT` (which builds the FRE training messages); the paper's evaluation code has the same text as
# `SYSTEM_PROMPT_R1` (lmm-r1-eval lmms_eval/models/vllm.py). It asks for the answer in LaTeX inside $...$, which
# is what the paper reward mode's math-verify extraction reads.
R1_SYSTEM_PROMPT = (
    "You are a helpful assistant good at solving math problems with step-by-step reasoning. You should "
    "first thinks about the reasoning process in the mind and then provides the user with the answer. Your answer "
    "must be in latex format and wrapped in $...$.The reasoning process and answer are enclosed within <think> "
    "</think> and <answer> </answer> tags, respectively, i.e., <think> Since $1+1=2$, so the answer is $2$. "
    "</think><answer> $2$ </answer>, which means your output should start with <think> and end with </answer>."
)

# lmmr1's shorter prompt: the embedded tiny model's tokenizer corpus and format warm-up were built on it, so the
# tiny recipes keep it (a different prompt would be text the tiny model has never seen).
TINY_SYSTEM_PROMPT = (
    "You are a helpful assistant good at solving math problems with step-by-step reasoning. "
    "You first think about the reasoning process in the mind and then provide the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think><answer> answer here </answer>."
)

# lmmr1's own default where no recipe or protocol names one (the tiny model, `eval`'s `training` rule); training
# recipes default to `auto` (model.system_prompt), which gives the paper's prompt.
SYSTEM_PROMPT = TINY_SYSTEM_PROMPT
AUTO = "auto"
NAMED_PROMPTS: dict[str, str | None] = {"r1": R1_SYSTEM_PROMPT, "tiny": TINY_SYSTEM_PROMPT, "none": None}


def resolve_system_prompt(setting: str | None, row_system: str | None = None) -> str | None:
    """The system message for one row under `setting` (see the module docstring).

    >>> resolve_system_prompt("auto", "Solve the question.")
    'Solve the question.'
    >>> resolve_system_prompt("auto") == R1_SYSTEM_PROMPT, resolve_system_prompt("none", "Solve it.")
    (True, None)
    """
    if setting is None or setting == AUTO:
        return row_system if row_system else R1_SYSTEM_PROMPT
    if setting.strip().lower() in NAMED_PROMPTS:
        return NAMED_PROMPTS[setting.strip().lower()]
    return setting


def build_conversation(
    problem: str, num_images: int, system_prompt: str | None = SYSTEM_PROMPT
) -> list[dict]:
    """Conversational messages with one `{"type": "image"}` placeholder per image, images before the text.

    Never a pre-templated string: TRL and the processor apply the chat template themselves, which is what keeps
    image tokens and pixel values aligned (pre-templated prompts break multimodal GRPO in TRL).

    >>> build_conversation("What is 2+3?", 0, system_prompt=None)
    [{'role': 'user', 'content': [{'type': 'text', 'text': 'What is 2+3?'}]}]
    """
    messages: list[dict] = []
    if system_prompt:
        messages.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    content = [{"type": "image"} for _ in range(num_images)]
    content.append({"type": "text", "text": problem})
    messages.append({"role": "user", "content": content})
    return messages
