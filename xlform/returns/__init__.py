"""Filled returns read back: a workbook -> checked records (reader, sheet, declaration, values), and returns
carried to a newer version (migration). Imports issue and the rooms below it; never collecting or the desk."""
