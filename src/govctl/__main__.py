"""`python -m govctl` entry point."""

from govctl.cli import main

if __name__ == "__main__":
    main()
