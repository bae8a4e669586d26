"""Form kinds (a folder holding form.yaml, found by name): forms.py finds and resolves them (extends),
schema.py checks form.yaml with the line of every key. Imports scoring and the base modules."""
