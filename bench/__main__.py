"""`python -m bench` (and `make bench`): run every benchmark, print the table, write results."""

from bench.runner import main

if __name__ == "__main__":
    main()
