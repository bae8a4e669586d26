"""Form kinds (templates/<kind>/form.yaml): what a kind owns, its profile, its fingerprint.
Imports scoring and the base modules."""
