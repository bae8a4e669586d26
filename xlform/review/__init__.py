"""The finance bureau's 抽查复核 of the collected 自评表 returns (issue 20): a reproducible sample (sample.py),
one locked review worksheet per sampled project (worksheets.py, form kind `review`), the worksheets read back
(collect.py) and the report of 偏离度 (report.py). The tables are xlform/storage/review.py's."""
