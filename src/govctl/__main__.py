"""`python -m govctl` entry point."""

from govctl.cli.main import main

if __name__ == "__main__":
    main()
