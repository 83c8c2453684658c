"""Autofix: corrected scripts (`check --fix`) and corrected copies of saved models (`bnlint fix`)."""
