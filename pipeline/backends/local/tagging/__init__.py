"""Tagging: what each OCR line is, and the fields a line of schedule text names."""
