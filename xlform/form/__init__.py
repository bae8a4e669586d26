"""One project on its kind's form: where every cell goes (layout) and the scores its inputs give (evaluate).
Imports definition, kinds, scoring and the base modules."""
