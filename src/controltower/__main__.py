"""``python -m controltower``: the same command line as the ``controltower`` script."""

from controltower.cli import main

if __name__ == "__main__":
    main()
