"""``python -m coptim`` runs the command-line interface."""

from coptim.cli import main

if __name__ == "__main__":
    main()
