"""`xlform print`: a copy of a return fitted to its text, printed by LibreOffice.
Imports xlsx and the base modules; never collecting or the desk."""
