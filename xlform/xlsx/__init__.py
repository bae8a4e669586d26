"""The .xlsx file format both ways: the form written with xlsxwriter (writer), the guarded streamed reader
(reader), the hidden metadata sheet, text measured for paper. Imports form and the rooms below it; never issue or above."""
