"""xlform: YAML project definitions -> locked, self-scoring 项目支出绩效自评表 workbooks, and back."""

__version__ = "0.1.0"
