"""`python -m aksar ...` (also what `torchrun -m aksar train ...` runs)."""
from aksar.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
