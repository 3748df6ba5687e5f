"""The manifest (one row per image) and the patient-level split, with its leakage checks."""
