"""What the touch app says to people: error answers and print states, in one place.

Residents read the Chinese; the English half of an API message is for whoever reads logs or
integrates. Every text says what happened and what to do next, never how the code failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.protocol.messages import PrintResult


@dataclass(frozen=True, slots=True)
class Problem:
    """An error the app answers with: its code, HTTP status and the two-language message."""

    code: str
    status: int
    zh: str
    en: str
    title: str = ""  # a shorter heading for the page, when zh is too long for one
    advice: str = ""  # a second, calmer line for the page (what to do next)

    def message(self, detail: str = "") -> str:
        english = f"{self.en} {detail}".strip()
        return f"{self.zh} / {english}"


BAD_JSON = Problem(
    "bad_json", 400, "请求内容不是有效的 JSON 对象", "The request body must be a JSON object."
)
BAD_REQUEST = Problem("bad_request", 400, "请求内容不正确", "The request is not valid:")
FORM_EXPIRED = Problem(
    "form_expired", 400, "页面已过期，请返回首页重新选择", "The form has expired; start again."
)
FORBIDDEN_ORIGIN = Problem(
    "forbidden_origin", 403, "不接受来自其他网站的请求", "Requests from other sites are refused."
)
NOT_FOUND = Problem("not_found", 404, "没有找到该页面", "No such resource.")
UNKNOWN_SERVICE = Problem(
    "unknown_service",
    404,
    "没有这项业务，请返回重新选择",
    "This centre offers no such service; choose again.",
)
UNKNOWN_TICKET = Problem(
    "unknown_ticket", 404, "没有找到这个号码，请查看您的小票", "This kiosk issued no such ticket."
)
UNKNOWN_PRINT_JOB = Problem(
    "unknown_print_job", 404, "没有找到这个打印任务", "This kiosk sent no such print job."
)
METHOD_NOT_ALLOWED = Problem(
    "method_not_allowed", 405, "不支持这种请求方式", "This method is not allowed here."
)
TOO_LARGE = Problem("too_large", 413, "请求内容过长", "The request body is too large.")
UNSUPPORTED_MEDIA_TYPE = Problem(
    "unsupported_media_type",
    415,
    "请求格式不正确，请使用 JSON",
    "Send the body as application/json.",
)
INTERNAL = Problem(
    "internal",
    500,
    "系统出了点问题，请到服务台找工作人员",
    "Something went wrong; please ask at the service desk.",
    title="系统暂时出了点问题",
    advice="请到服务台找工作人员，给您带来不便，敬请谅解。",
)
HUB_ERROR = Problem(
    "hub_error",
    502,
    "暂时无法取号，请到服务台人工取号",
    "The service centre could not issue a ticket; please ask at the service desk.",
    title="暂时无法取号",
    advice="请到服务台，工作人员会为您人工取号。给您带来不便，敬请谅解。",
)
HUB_UNREACHABLE = Problem(
    "hub_unreachable",
    503,
    "暂时无法连接服务中心，请到服务台人工取号",
    "The service centre cannot be reached right now; please ask at the service desk for a ticket.",
    title="暂时无法连接服务中心",
    advice="请到服务台，工作人员会为您人工取号。给您带来不便，敬请谅解。",
)

# What the ticket page and GET /api/print-jobs/<id> say for each state of a print job.
PRINT_STATUS_TEXT: dict[str, str] = {
    "pending": "正在打印",
    "spooled": "正在打印",
    "printed": "已打印",
    "waiting": "打印机缺纸，请联系工作人员",
    "failed": "打印失败，请联系工作人员",
}


def print_status(result: PrintResult | None) -> tuple[str, str]:
    """(status, Chinese text) of a job: ``pending`` until the bridge has said anything."""
    status = result.status if result else "pending"
    return status, PRINT_STATUS_TEXT[status]
