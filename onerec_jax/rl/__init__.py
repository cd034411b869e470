"""Preference alignment after supervised training: ECPO with beam rollouts (PAPER.md section 7)."""
