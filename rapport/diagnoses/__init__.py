"""Diagnoses: ICD-10-CM codes recorded for a client, with onset and resolution."""
