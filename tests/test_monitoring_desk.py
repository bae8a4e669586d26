"""The desk issues and takes the 监控表 like any other form (issue 19): a department downloads its project's
监控表 beside its 自评表, uploads it filled, sees its warnings; the office's dashboard shows the warnings by
主管部门 and every row at risk."""
from pathlib import Path

import pytest

from desk_helpers import csrf_of, set_up
from xlform.desk import auth
from xlform.desk.app import DeskConfig, create_app
from xlform.form.layout import layout
from xlform.issue.monitoring import monitored
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.storage.db import locate

PASSWORD = "监控-2026"
TICK = "√"


@pytest.fixture()
def office(tmp_path):
    """The desk helpers' office (甲局 two projects, 乙局 one), and 甲局's first project's 监控表 at month 6."""
    office = set_up(tmp_path)
    reg = Registry(office["registry"])
    project = office["forms"]["desk-a-01"][0]
    mp, kind = monitored(project, 6)
    [form] = render([mp], tmp_path / "issued", registry=reg, kinds={mp.id: kind})
    reg.close()
    app = create_app(DeskConfig(office["location"], locate(office["registry"], Path("unused")), tmp_path / "uploads",
                                auth.Password.of(PASSWORD)))
    return {**office, "app": app, "monitoring": (mp, kind, form.file)}


def test_a_department_takes_its_monitoring_form_and_the_office_sees_the_warnings(lo, office, tmp_path):
    mp, kind, issued = office["monitoring"]
    token = office["tokens"]["甲局"]
    c = office["app"].test_client()
    page = c.get(f"/d/{token}").text
    assert 'data-template="desk-a-01.monitoring"' in page and "甲局培训项目（监控表）" in page
    blank = c.get(f"/d/{token}/blank/desk-a-01.monitoring")
    assert blank.status_code == 200 and blank.data == Path(issued).read_bytes()
    assert c.get(f"/d/{office['tokens']['乙局']}/blank/desk-a-01.monitoring").status_code == 404
    # 培训次数 ≥4 at month 6: 1 is 50% of schedule (red, a cause, 有可能); 覆盖率 ≥80%: 40% is on schedule
    cell = {k: f.cell for k, f in layout(mp, kind).fields.items()}
    fill = {cell["goal.actual"]: "上半年完成培训一次。"}
    for key, row in mp.funds.rows.items():
        if row.annual:
            fill.update({cell[f"funds.{key}.executed"]: row.annual / 2, cell[f"funds.{key}.forecast"]: row.annual})
    typed = [1, 0.4, "群众意识有所提高", 0.9]
    for i, x in enumerate(typed):
        fill[cell[f"indicators.{i}.progress"]] = x
        fill[cell[f"indicators.{i}.sure"]] = TICK
    fill.update({cell["indicators.0.sure"]: None, cell["indicators.0.likely"]: TICK,
                 cell["indicators.0.cause_staff"]: TICK, cell["indicators.0.explanation"]: "培训讲师未到位",
                 cell["indicators.0.forecast"]: 3})
    downloaded, filled = tmp_path / "blank.xlsx", tmp_path / "jk.xlsx"
    downloaded.write_bytes(blank.data)
    lo.fill(downloaded, filled, fill)
    answer = c.post(f"/d/{token}/upload", data={"files": [(open(filled, "rb"), "jk.xlsx")],
                                                "csrf": csrf_of(c.get(f"/d/{token}").text)},
                    content_type="multipart/form-data", follow_redirects=True)
    assert answer.status_code == 200 and 'data-state="已通过"' in answer.text, answer.text
    assert "预警：指标 红 1 · 绿 2；资金 绿" in answer.text
    login = c.get("/admin/login")
    c.post("/admin/login", data={"csrf": csrf_of(login.text), "password": PASSWORD})
    dashboard = c.get("/admin").text
    assert '<table id="monitoring">' in dashboard and "<td>甲局</td>" in dashboard.split('id="monitoring"')[1]
    at_risk = dashboard.split('id="at-risk"')[1].split("</table>")[0]
    assert "培训次数" in at_risk and 'class="warn-红">红<' in at_risk and "人员保障" in at_risk
    assert "覆盖率" not in at_risk
    assert "甲局培训项目（监控表）" in dashboard
