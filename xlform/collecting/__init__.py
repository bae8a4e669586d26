"""`xlform collect`: folders of returns -> the database (collector), the summary workbook (汇总表) and
per-department reports. Imports returns, storage and the rooms below; never the desk."""
