"""What the staff pages call things, in Chinese, and how they show money and time (Beijing time, to the minute):
the name tables and filters the workbench's templates and the sign-in page use."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from letters import reasons
from letters.i18n import DOCUMENT_KINDS, catalog

SHANGHAI = ZoneInfo("Asia/Shanghai")

STAGE_NAMES = {
    "registered": "已登记", "coverage_check": "保单责任核查", "awaiting_documents": "待补材料",
    "investigating": "调查中", "adjusting": "理算中", "awaiting_approval": "待审批", "paying": "支付中",
    "closed": "已结案",
}
OUTCOME_NAMES = {"paid": "已赔付", "denied": "拒赔", "withdrawn": "已撤案", "closed_incomplete": "材料不全结案"}
RECOVERY_REASON_NAMES = {"advances beyond the amount decided": "预付款超出决定赔付金额",
                         "paid on a claim closed denied": "拒赔案件已有预付款",
                         "paid on a claim closed withdrawn": "撤案案件已有预付款",
                         "paid on a claim closed closed_incomplete": "材料不全结案案件已有预付款"}
RECOVERY_STATUS_NAMES = {"open": "追偿中", "recovered": "已收回", "written_off": "已核销", "set_off": "已抵销"}
LETTER_NAMES = {
    "acknowledgement": "受理通知", "appeal_received": "申诉受理", "bank_account_changed": "收款账户变更",
    "bank_details_reminder": "补充账户提醒", "closed_incomplete": "材料不全结案", "decision_denied": "拒赔通知",
    "decision_partial": "部分赔付通知", "investigation_opened": "调查通知", "missing_materials": "补充材料通知",
    "payment_failed": "支付失败", "payment_sent": "赔款已支付", "payout_reduced": "赔付调整",
    "recovery_requested": "追回通知", "reminder": "材料提醒", "survey": "满意度回访", "withdrawn": "撤案通知",
    "code_progress": "查询验证码", "code_bank_account": "账户变更验证码",
}
CLOCK_NAMES = {
    "documents": "补充材料", "determination": "核定", "investigation": "调查", "approval": "审批", "payment": "支付",
    "advance_payment": "先行赔付", "bank_details": "收款账户", "denial_notice": "拒赔通知",
    "appeal_ack": "申诉受理", "appeal_resolution": "申诉处理", "callback": "回访",
}
EVENT_NAMES = {
    "registered": "报案登记", "triaged": "分流", "acknowledged": "已受理", "documents_requested": "一次性告知所需材料",
    "documents_submitted": "收到材料", "documents_complete": "材料齐全", "documents_overdue": "材料逾期",
    "document_read": "材料已识别", "document_corrected": "识别结果已更正", "investigation_opened": "启动调查",
    "investigation_recorded": "调查结论", "risk_rescored": "重新评估风险", "payout_computed": "核定赔付金额",
    "approved": "批准", "rejected": "拒赔", "decided": "作出理赔决定", "advance_payment": "预付赔款",
    "advance_approved": "批准预付", "advance_refused": "拒绝预付", "advance_overpaid": "预付超出赔付",
    "statutory_advance_due": "法定先行赔付到期", "statutory_advance_held": "法定先行赔付暂缓", "paid": "已支付",
    "payment_failed": "支付失败", "payment_reduced": "支付金额扣减", "withdrawal_requested": "申请撤案",
    "appeal_received": "收到申诉", "reopened": "重新打开", "escalated": "升级处理", "assigned": "分派经办人",
    "sla_warning": "时限预警", "sla_breached": "超出时限", "continued_as_new": "流程续接（新运行）",
    "code_sent": "发送验证码", "bank_account_code_refused": "验证码错误（变更账户）",
    "bank_account_locked": "账户变更已锁定", "bank_account_released": "账户变更已解锁",
    "bank_account_updated": "收款账户已变更", "notification_failed": "通知发送失败",
    "survey_response": "满意度回访", "callback_opened": "安排回访电话", "callback_done": "回访完成",
    "recovery_opened": "登记应追回款", "recovery_set_off": "追回款抵扣", "recovery_received": "收到追回款",
    "recovery_written_off": "追回款核销",
}
"""The timeline's events as staff read them; `stage:` and `notified:` events are named from the stage or letter."""


RISK_RULE_NAMES = {
    "frequent_claims": "短期内多次报案", "high_claim": "金额较大", "id_name_mismatch": "身份证姓名不符",
    "late_report": "报案迟延", "new_policy": "新保单出险", "reused_document": "材料被其他案件使用过",
    "document_date_before_incident": "材料日期早于出险", "document_date_outside_policy": "材料日期不在保险期间",
    "invoice_total_mismatch": "发票金额不符", "reused_invoice": "发票被其他案件使用过",
}
def risk_rule(rule: str) -> str:
    return RISK_RULE_NAMES.get(rule, rule)


payout_step = reasons.payout_step(catalog("zh-CN"))
"""A step of the payout's basis in Chinese, with the figure it ends on (the deductible, the ratio, the cap)."""


def event_name(event: str) -> str:
    kind, _, what = event.partition(":")
    if kind == "stage" and what:
        return f"进入：{STAGE_NAMES.get(what, what)}"
    if kind == "notified" and what:
        return f"已通知客户：{LETTER_NAMES.get(what, what)}"
    return EVENT_NAMES.get(event, event)


def clock_name(name: str) -> str:
    return CLOCK_NAMES.get(name, name)


TYPE_NAMES = {"auto": "车险", "health": "健康险", "property": "财产险"}
RISK_NAMES = {"low": "低", "medium": "中", "high": "高"}
ROLE_NAMES = {"system": "系统", "adjuster": "理算员", "supervisor": "主管", "manager": "经理", "investigator": "查勘员",
              "finance": "财务", "service": "客服", "auditor": "审计", "channel": "渠道"}

DOCUMENT_NAMES = {kind: catalog("zh-CN").gettext(name) for kind, name in DOCUMENT_KINDS.items()}
"""Document names as the letters print them (the letters' catalog)."""
QUEUE_NAMES = {"service": "客服", "investigator": "查勘", "adjuster": "理算", "supervisor": "主管审批",
               "manager": "经理审批", "finance": "财务支付"}


def money(amount: Any) -> str:
    return "—" if amount is None else f"¥{amount:,.2f}"


def when(moment: datetime | None) -> str:
    """A moment as staff and claimants read it: Beijing time, to the minute (2026-12-05 08:44)."""
    return "—" if moment is None else moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
