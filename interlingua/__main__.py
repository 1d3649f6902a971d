"""`python -m interlingua` (torchrun needs -m) does what the `interlingua` command does."""
import sys

from .cli import main

sys.exit(main())
