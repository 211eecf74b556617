"""`python -m lmmr1_cli ...` (what `accelerate launch -m lmmr1_cli` runs on every process)."""

from lmmr1_cli.cli import main

if __name__ == "__main__":
    main()
