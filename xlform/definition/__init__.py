"""Project definitions: YAML read with lines (../yamlsource.py), checked into a frozen Project (definition), and
written back as by hand (emit). Imports kinds, scoring and the base modules."""
