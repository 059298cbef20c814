"""The Lookalike benchmark: `make bench SIZE=small|medium|large` (see bench/REPORT.md)."""
